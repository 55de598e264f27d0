"""A society ships its own step as a separate package: once installed, flow files can name it
and its `with:` options are checked by its own schema; core kosmo-idp is not touched.

The package (tests/fixtures/hello-plugin) is installed into a folder of its own and used from
subprocesses, so this test process never sees it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from idp.config import CHECKOUT
from idp.flows.registry import load_registry

PLUGIN_SOURCE = Path(__file__).resolve().parent.parent / "fixtures" / "hello-plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plugin installed by pip into its own folder, as an operator would install it.

    pip builds it in an isolated environment (setuptools from the package index, as for
    `pip install -e .`): the virtual environment's own setuptools may be too old to build
    wheels. The source is copied first so the build leaves nothing in the checkout."""
    work = tmp_path_factory.mktemp("hello-plugin")
    source, target = work / "source", work / "site"
    shutil.copytree(PLUGIN_SOURCE, source)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    return target


def run_with_plugin(site: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """`idp ARGS...` (or python CODE) in a process that has the plugin on its path."""
    command = ([sys.executable, "-c", code] if code
               else [sys.executable, "-c", "from idp.cli import main; main()", *args])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(CHECKOUT)]),
           "IDP_SECRET_KEY": "flow-plugin-test-secret-key"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=CHECKOUT, timeout=120)


def write_flow(folder: Path, name: str, options: list[str]) -> Path:
    """A flow whose second step is the plugin's, with `options` as its `with:` lines."""
    path = folder / f"{name}.yaml"
    lines = [f"flow: {name}", "steps:", "  - authenticate: password", "  - action: say-hello",
             "    if: first-login", "    with:", *(f"      {line}" for line in options),
             "  - pending-required-actions"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_installed_plugin_is_found_by_the_registry(site):
    found = run_with_plugin(site, code=textwrap.dedent("""
        import json
        from idp.flows.registry import load_registry
        step = load_registry().actions["say-hello"]
        print(json.dumps({"class": type(step).__module__ + "." + type(step).__name__, "alias": step.alias,
                          "options": step.Options.model_json_schema()["properties"]}))
    """))
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {
        "class": "kosmo_hello.SayHello", "alias": None,
        "options": {"greeting": {"minLength": 1, "title": "Greeting", "type": "string"}},
    }


def test_this_test_process_never_saw_the_plugin(site):
    assert "say-hello" not in load_registry().actions
    assert "kosmo_hello" not in sys.modules


def test_a_flow_naming_the_plugin_validates(site, tmp_path):
    path = write_flow(tmp_path, "hello", ["greeting: ようこそ、健保組合へ"])
    result = run_with_plugin(site, "flows", "validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"ok: {path} (flow hello, 3 steps)\n"


def test_the_plugins_own_options_schema_checks_the_flow_file(site, tmp_path):
    path = write_flow(tmp_path, "hello", ["greeting: [1, 2]", "colour: blue"])
    result = run_with_plugin(site, "flows", "validate", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:7:7: steps[1].with.greeting: Input should be a valid string",
        f"{path}:8:7: steps[1].with.colour: Extra inputs are not permitted",
    ]


def test_without_the_plugin_the_same_flow_is_refused(tmp_path):
    path = write_flow(tmp_path, "hello", ["greeting: こんにちは"])
    result = subprocess.run([sys.executable, "-c", "from idp.cli import main; main()", "flows", "validate", str(path)],
                            capture_output=True, text=True, cwd=CHECKOUT, timeout=120,
                            env={**os.environ, "IDP_SECRET_KEY": "flow-plugin-test-secret-key"})
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}:4:5: unknown action 'say-hello'")


def test_the_plugin_appears_in_the_schema_for_editors(site):
    result = run_with_plugin(site, "flows", "schema")
    assert result.returncode == 0, result.stderr
    action = json.loads(result.stdout)["definitions"]["ActionStep"]
    assert "say-hello" in action["properties"]["action"]["enum"]
    rule = next(rule for rule in action["allOf"] if rule["if"]["properties"]["action"] == {"const": "say-hello"})
    assert rule["then"]["properties"]["with"]["properties"]["greeting"]["type"] == "string"


def test_the_plugin_step_greets_with_its_option_and_ships_its_page(site):
    answered = run_with_plugin(site, code=textwrap.dedent("""
        import json
        from types import SimpleNamespace
        from idp.flows.api import Done
        from idp.flows.registry import load_registry
        step = load_registry().actions["say-hello"]
        events = []
        ctx = SimpleNamespace(options=step.Options(greeting="ようこそ"),
                              record_event=lambda kind, **details: events.append([kind, details]))
        page = step.challenge(ctx)
        print(json.dumps({"template": page.template, "values": page.values,
                          "done": isinstance(step.process(ctx, {}), Done), "events": events}))
    """))
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == {
        "template": "actions/say-hello.html", "values": {"greeting": "ようこそ"}, "done": True,
        "events": [["SAY_HELLO", {"greeting": "ようこそ"}]],
    }
    template = site / "kosmo_hello" / "templates" / "actions" / "say-hello.html"
    assert '{% extends "step.html" %}' in template.read_text(encoding="utf-8")


def test_a_member_walks_through_the_plugins_step_named_in_yaml(site, tmp_path):
    """The whole way: a running server with the plugin installed shows its page from a flow file."""
    from urllib.parse import urlencode, urljoin

    import requests

    from tests.support.servers import IdpServer
    from tests.support.sign_in import form_action, hidden_value

    flows = tmp_path / "flows"
    flows.mkdir()
    write_flow(flows, "hello", ["greeting: ようこそ、新しい健保ポータルへ"])
    server = IdpServer(tmp_path, browser_flow="hello",
                       env={"IDP_FLOWS_DIR": str(flows), "PYTHONPATH": os.pathsep.join([str(site), str(CHECKOUT)])})
    with server:
        server.add_member("plugin-member", "Plugin-pass1")
        browser = requests.Session()
        query = urlencode({"client_id": "interop-confidential", "response_type": "code", "scope": "openid",
                           "redirect_uri": server.callback_url, "state": "s"})
        page = browser.get(f"{server.issuer()}/protocol/openid-connect/auth?{query}", timeout=10).text
        fields = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
        greeting = browser.post(urljoin(server.url, form_action(page)), timeout=10,
                                data={**fields, "username": "plugin-member", "password": "Plugin-pass1"})
        assert "ようこそ、新しい健保ポータルへ" in greeting.text

        fields = {name: hidden_value(greeting.text, name) for name in ("csrf_token", "tab_id", "step")}
        done = browser.post(urljoin(server.url, form_action(greeting.text)), data=fields, allow_redirects=False,
                            timeout=10)
        assert done.status_code == 302 and done.headers["Location"].startswith(server.callback_url + "?code=")
