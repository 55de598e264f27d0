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


# The hand-written guides: every `idp` command they show in a shell block must exist with the
# options shown, every IDP_* setting they name must exist, and every link must lead somewhere.

GUIDES = [CHECKOUT / "docs" / "operator-guide.ja.md", CHECKOUT / "docs" / "operator-guide.en.md"]
# Every hand-written page (the migration guide too): the references have no commands to check.
HAND_WRITTEN = sorted((CHECKOUT / "docs").glob("*.md")) + [CHECKOUT / "README.md"]
SHELL_FENCES = {"sh", "bash", "console", "shell"}


def shell_lines(text: str):
    """(line number, line) of every line inside a ```sh (or bash, console, shell) block."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):  # fences may be indented inside a list item
            fence = line.strip()[3:].strip() if fence is None else None
        elif fence in SHELL_FENCES:
            yield number, line


def idp_invocations(text: str):
    """(line number, words) of every `idp ...` the shell blocks run, comments and pipes aside."""
    for number, line in shell_lines(text):
        if line.lstrip().startswith("#"):
            continue
        for segment in re.split(r"\|\||&&|[|;]|\$\(", line.split(" # ")[0]):
            words = segment.split()
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words.pop(0)
            if words and words[0].rsplit("/", 1)[-1] == "idp":
                yield number, words


def command_problems(words: list[str]) -> tuple[list[str], list[str]]:
    """The subcommand path `words` names, and what is wrong with it (unknown command or option)."""
    import click

    from idp.cli import main

    command, path = main, []
    for word in words[1:]:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    if isinstance(command, click.Group):
        typed = " ".join(words[:len(path) + 2])
        return path, [f"`{typed}` is not a command of `idp {' '.join(path)}`".replace("  ", " ")]
    known = {"--help"} | {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    options = [word.strip("[]") for word in words[len(path) + 1:] if word.lstrip("[").startswith("-")]
    return path, [f"`idp {' '.join(path)}` has no option {option}" for option in options if option not in known]


@pytest.mark.parametrize("guide", HAND_WRITTEN, ids=lambda path: path.name)
def test_every_idp_command_the_docs_show_exists_with_the_options_shown_and_answers_help(guide):
    from click.testing import CliRunner

    from idp.cli import main

    shown = list(idp_invocations(guide.read_text(encoding="utf-8")))
    assert shown or guide not in GUIDES, f"{guide.name} shows no idp command"
    runner = CliRunner()
    for number, words in shown:
        path, problems = command_problems(words)
        assert not problems, f"{guide.name}:{number}: {'; '.join(problems)}"
        helped = runner.invoke(main, [*path, "--help"], prog_name="idp")
        assert helped.exit_code == 0, f"{guide.name}:{number}: `idp {' '.join(path)} --help` failed:\n{helped.output}"
        assert f"Usage: idp {' '.join(path)}" in helped.output


def test_the_command_check_catches_a_command_or_option_the_code_does_not_have():
    text = "```sh\nidp keys list\nidp keys rotate --all kosmo-demo\nidp user add --realm r --nickname x k1\n```\n"
    found = [command_problems(words)[1] for _number, words in idp_invocations(text)]
    assert found == [["`idp keys list` is not a command of `idp keys`"], ["`idp keys rotate` has no option --all"],
                     ["`idp user add` has no option --nickname"]]


@pytest.mark.parametrize("japanese", sorted((CHECKOUT / "docs").glob("*.ja.md")), ids=lambda path: path.name)
def test_the_japanese_and_english_pages_show_the_same_idp_commands(japanese):
    english = japanese.with_name(japanese.name.replace(".ja.md", ".en.md"))
    shown = ([" ".join(words) for _number, words in idp_invocations(page.read_text(encoding="utf-8"))]
             for page in (japanese, english))
    assert next(shown) == next(shown)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_every_setting_a_guide_names_exists(guide):
    from idp.config import Settings

    named = set(re.findall(r"\bIDP_[A-Z0-9_]+", guide.read_text(encoding="utf-8")))
    assert named and named <= set(Settings.ENV.values()), sorted(named - set(Settings.ENV.values()))


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("guide", GUIDES, ids=lambda path: path.name)
def test_every_link_in_a_guide_leads_to_a_file_and_heading_that_exist(guide):
    for target in re.findall(r"\]\(([^)]+)\)", guide.read_text(encoding="utf-8")):
        if target.startswith("http"):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (guide.parent / file_part).resolve() if file_part else guide
        assert linked.exists(), f"{guide.name} links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
            assert anchor in {github_anchor(heading) for heading in headings}, f"{guide.name}: no heading for {target}"
