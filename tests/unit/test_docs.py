"""docs/: the generated references follow the schemas, and the guides only name commands, options
and settings that exist, so neither can drift from the code.
"""
from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest

from idp.config import CHECKOUT
from idp.docs import REFERENCE_DIR, reference_pages, stale_pages
from idp.docs.descriptions import Descriptions, DescriptionsIncomplete
from idp.docs.pages import BuiltIns
from idp.flows.api import Action
from idp.flows.registry import Registry, load_registry

REGENERATE = "python -m idp.docs"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return reference_pages()


def row(page: str, key: str) -> str:
    """The first table row of `page` that documents `key`."""
    return next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))


def test_the_references_in_docs_are_what_the_schemas_give_now():
    stale = stale_pages()
    assert not stale, f"docs/reference is stale ({', '.join(stale)}): run `{REGENERATE}` and commit the result"


def test_an_operator_finds_each_realm_setting_with_its_type_limit_and_default_in_both_languages(pages):
    english, japanese = pages["realm-yaml.en.md"], pages["realm-yaml.ja.md"]
    assert row(english, "access_token_lifespan").startswith("| `access_token_lifespan` | integer, ≥ 10 | `300` |")
    assert row(japanese, "access_token_lifespan").startswith("| `access_token_lifespan` | 整数、10 以上 | `300` |")
    assert "| `realm` | string | required |" in english
    assert "| `signature_algorithm` | one of `RS256`, `ES256` | `RS256` |" in english
    assert "| `secret` | [section](#realm-clients-secret) (optional) | `null` |" in english
    assert '<a id="realm-clients-secret"></a>' in english and "## `clients[].secret`" in english
    assert "アクセストークンと ID トークンの有効期間" in row(japanese, "access_token_lifespan")


def test_the_flow_reference_lists_every_built_in_step_and_condition_with_its_options(pages):
    english = pages["flow-yaml.en.md"]
    registry = load_registry()
    for name, action in BuiltIns.of(registry).actions.items():
        alias = f"`{action.alias}`" if action.alias else "—"
        assert row(english, name).startswith(f"| `{name}` | {alias} |")
    for name in BuiltIns.of(registry).authenticators:
        assert row(english, name)
    assert row(english, "has-required-action(NAME)")
    assert "### `with:` of `action: verify-birthdate`" in english
    assert row(english, "max_attempts").startswith("| `max_attempts` | integer, ≥ 1, ≤ 100 | `5` |")


def test_a_society_plugin_installed_here_does_not_change_the_references():
    class Hello(Action):
        name = "hello"

        def challenge(self, ctx):
            raise AssertionError("never run")

        def process(self, ctx, form):
            raise AssertionError("never run")

    installed = load_registry()
    with_plugin = Registry({**installed.actions, "hello": Hello()}, installed.authenticators, installed.conditions)
    assert "hello" not in BuiltIns.of(with_plugin).actions
    assert BuiltIns.of(with_plugin) == BuiltIns.of(installed)


def test_a_schema_key_without_a_description_stops_the_generator_and_is_named():
    data = copy.deepcopy(Descriptions.load().data)
    del data["models"]["TokenSettings"]["fields"]["login_timeout"]["ja"]
    with pytest.raises(DescriptionsIncomplete) as refused:
        reference_pages(Descriptions(data))
    assert refused.value.missing == ["models.TokenSettings.fields.login_timeout.ja"]
    assert "give it `ja:` and `en:`" in str(refused.value)


def test_a_description_for_a_key_the_schema_no_longer_has_is_reported():
    data = copy.deepcopy(Descriptions.load().data)
    data["models"]["TokenSettings"]["fields"]["offline_session_lifespan"] = {"ja": "古い設定", "en": "gone"}
    with pytest.raises(DescriptionsIncomplete) as refused:
        reference_pages(Descriptions(data))
    assert refused.value.unused == ["models.TokenSettings.fields.offline_session_lifespan"]


def test_every_link_in_the_references_lands_on_a_section_of_the_same_page(pages):
    for name, text in pages.items():
        anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
        for target in re.findall(r"\]\(#([^)]+)\)", text):
            assert target in anchors, f"{name} links to #{target}, which it does not have"


def test_the_command_writes_stale_references_and_then_finds_them_current(tmp_path):
    def docs(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "idp.docs", "--folder", str(tmp_path), *args],
                              capture_output=True, text=True, cwd=CHECKOUT, timeout=120)

    first_check = docs("--check")
    assert first_check.returncode == 1
    assert f"realm-yaml.ja.md is stale: run `{REGENERATE}`" in first_check.stderr
    written = docs()
    assert written.returncode == 0, written.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["realm-yaml.ja.md", "realm-yaml.en.md", "flow-yaml.ja.md", "flow-yaml.en.md"])
    assert (tmp_path / "flow-yaml.en.md").read_text(encoding="utf-8") == (REFERENCE_DIR / "flow-yaml.en.md").read_text(
        encoding="utf-8")
    assert docs("--check").returncode == 0
