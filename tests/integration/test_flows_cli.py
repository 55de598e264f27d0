"""An operator at the terminal with flow files: `idp flows validate`, `show` and `schema`."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from idp.cli import main
from idp.config import CHECKOUT

SHIPPED = CHECKOUT / "flows"
BAD_FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def flows_dir(tmp_path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(SHIPPED, folder)
    return folder


@pytest.fixture
def idp(flows_dir):
    """Run `idp ...` with the flows folder set to a copy of the shipped flows."""
    runner = CliRunner(env={"IDP_FLOWS_DIR": str(flows_dir), "IDP_SECRET_KEY": "flows-cli-test-secret-key"})
    return lambda *args: runner.invoke(main, list(args))


def test_validate_checks_every_shipped_flow_by_default(idp, flows_dir):
    result = idp("flows", "validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok: {flows_dir}/browser.yaml (flow browser, 3 steps)",
        f"ok: {flows_dir}/forgot-user-id.yaml (flow forgot-user-id, 1 steps)",
        f"ok: {flows_dir}/kosmo-member.yaml (flow kosmo-member, 10 steps)",
        f"ok: {flows_dir}/reset-credentials.yaml (flow reset-credentials, 6 steps)",
    ]


def test_validate_prints_every_problem_at_its_place_and_fails(idp, flows_dir):
    misspelt = BAD_FLOWS / "misspelt-condition.yaml"
    empty = BAD_FLOWS / "empty.yaml"
    result = idp("flows", "validate", str(misspelt), str(flows_dir / "browser.yaml"), str(empty))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{misspelt}:5:5: unknown condition 'frist-login'; did you mean 'first-login'?",
        f"{misspelt}:7:5: 'first login' is not a condition name (like `first-login` or "
        "`has-required-action(UPDATE_PASSWORD)`)",
        f"ok: {flows_dir}/browser.yaml (flow browser, 3 steps)",
        f"{empty}:1:1: the file is empty",
        "Error: 3 problem(s) in 2 of 3 flow file(s)",
    ]


def test_validate_suggests_the_real_built_in_step_for_a_misspelt_one(idp, flows_dir):
    path = flows_dir / "kosmo-member.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("action: verify-email", "action: verfy-email"),
                    encoding="utf-8")
    result = idp("flows", "validate", str(path))
    assert result.exit_code == 1
    line = line_of(path, "action: verfy-email")
    assert f"{path}:{line}:5: unknown action 'verfy-email'; did you mean 'verify-email'?" in result.output.splitlines()


def test_validate_checks_a_built_in_steps_options(idp, flows_dir):
    path = flows_dir / "kosmo-member.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("choose_second_factor: true",
                                                             "choose_second_factor: [yes]"), encoding="utf-8")
    result = idp("flows", "validate", str(path))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{path}:{line_of(path, 'choose_second_factor')}:7: steps[5].with.choose_second_factor: "
        "Input should be a valid boolean")


def line_of(path, text: str) -> int:
    """The (1-based) line of the shipped file where `text` stands."""
    return next(number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if text in line)


def test_validate_with_no_flow_files_says_where_it_looked(idp, flows_dir):
    for path in flows_dir.glob("*.yaml"):
        path.unlink()
    result = idp("flows", "validate")
    assert result.exit_code == 1
    assert result.output == f"Error: no flow files (*.yaml) in {flows_dir}\n"


def test_show_draws_a_flow_as_svg_on_standard_output(idp):
    result = idp("flows", "show", "kosmo-member")
    assert result.exit_code == 0, result.output
    texts = [element.text for element in ET.fromstring(result.output).iter(f"{SVG}text")]
    for name in ["password", "second-factor", "verify-birthdate", "accept-terms", "update-email", "verify-email",
                 "set-user-id", "select-second-factor", "update-password", "pending-required-actions",
                 "birthdate-not-verified", "terms-outdated", "first-login",
                 "email-not-verified", "user-id-not-set", "no-second-factor", "password-temporary",
                 "choose_second_factor: true"]:
        # A compound condition is drawn as one text ("any of: not first-login, otp-configured").
        assert any(name == text or name in (text or "").split(": ", 1)[-1] for text in texts), name


def test_show_writes_an_html_page_when_asked_for_a_html_file(idp, tmp_path):
    page = tmp_path / "browser.html"
    result = idp("flows", "show", "browser", "--output", str(page))
    assert result.exit_code == 0, result.output
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    svg = tmp_path / "picture.out"
    assert idp("flows", "show", "browser", "-o", str(svg), "--format", "svg").exit_code == 0
    assert ET.parse(svg).getroot().tag == f"{SVG}svg"


def test_show_refuses_an_unknown_or_invalid_flow(idp, flows_dir):
    result = idp("flows", "show", "nope")
    assert result.exit_code == 1
    assert result.output == f"Error: no flow 'nope': {flows_dir}/nope.yaml does not exist\n"

    bad = flows_dir / "browser.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("if: otp-configured", "if: otp-configurd"),
                   encoding="utf-8")
    result = idp("flows", "show", "browser")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{bad}:15:5: unknown condition 'otp-configurd'; did you mean 'otp-configured'?",
        f"Error: {bad} does not validate; fix it first (idp flows validate)",
    ]


@pytest.fixture
def schema(idp) -> dict:
    result = idp("flows", "schema")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def shipped_steps() -> list[dict | str]:
    return [step for path in SHIPPED.glob("*.yaml") for step in YAML(typ="safe").load(path)["steps"]]


def test_the_schema_offers_every_step_the_shipped_flows_use(schema):
    definitions = schema["definitions"]
    actions = definitions["ActionStep"]["properties"]["action"]["enum"]
    authenticators = definitions["AuthenticateStep"]["properties"]["authenticate"]["enum"]
    for step in shipped_steps():
        if isinstance(step, dict):
            assert step.get("action", step.get("authenticate")) in (actions if "action" in step else authenticators)
    assert schema["properties"]["steps"]["items"]["oneOf"][2] == {
        "const": "pending-required-actions", "type": "string"}


def test_the_schema_offers_every_condition_with_its_description(schema):
    names = schema["definitions"]["ConditionName"]["anyOf"]
    plain = {choice["const"]: choice["description"] for choice in names if "const" in choice}
    assert {"first-login", "otp-configured", "terms-outdated", "password-temporary"} <= set(plain)
    assert plain["first-login"] == "the member has never finished signing in"
    assert {"type": "string", "pattern": r"^has-required-action\([A-Za-z0-9_.:-]+\)$",
            "description": "an administrator queued this required action (Keycloak alias)",
            "examples": ["has-required-action(UPDATE_PASSWORD)"]} in names
    for step in shipped_steps():
        if isinstance(step, dict) and "if" in step:
            assert set(condition_names(step["if"])) <= set(plain), step["if"]


def condition_names(expression) -> list[str]:
    """The condition names in an `if:` expression (a name, or not/all/any of expressions)."""
    if isinstance(expression, str):
        return [expression]
    if "not" in expression:
        return condition_names(expression["not"])
    return [name for item in expression.get("all", expression.get("any", [])) for name in condition_names(item)]


def test_the_schema_checks_each_steps_options_by_its_name(schema):
    rules = schema["definitions"]["ActionStep"]["allOf"]
    set_user_id = next(rule for rule in rules if rule["if"]["properties"]["action"] == {"const": "set-user-id"})
    options = set_user_id["then"]["properties"]["with"]
    assert options["properties"]["choose_second_factor"]["type"] == "boolean"
    assert options["additionalProperties"] is False


def test_the_schema_is_draft_07_with_no_dangling_references(schema):
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "$defs" not in json.dumps(schema)
    references = [part.split('"')[0] for part in json.dumps(schema).split('"$ref": "#/definitions/')[1:]]
    assert references and all(name in schema["definitions"] for name in references)


def test_a_real_validator_accepts_the_shipped_flows_and_refuses_a_mistake(schema):
    """Runs only where a JSON Schema library happens to be installed (not a dependency)."""
    try:
        import jsonschema
    except ImportError:
        return
    validator = jsonschema.Draft7Validator(schema)
    for path in SHIPPED.glob("*.yaml"):
        assert list(validator.iter_errors(YAML(typ="safe").load(path))) == [], path
    assert list(validator.iter_errors({"flow": "x", "steps": [{"action": "set-user-id",
                                                                "with": {"choose_second_factor": "maybe"}}]}))
