"""An operator editing flow files: every mistake reported at its file:line:column, with a
suggestion for a misspelt name; a running server keeps the last good version of a flow."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from idp.config import CHECKOUT
from idp.flows import conditions
from idp.flows.api import Action, Authenticator, Done, Page
from idp.flows.loader import FlowLibrary, load_flow_file
from idp.flows.registry import Registry, load_registry
from idp.flows.schema import FlowFile, step_kind_and_name
from idp.yamlfile import ConfigFileError, load_model

BAD_FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"
SHIPPED_FLOWS = CHECKOUT / "flows"


class FakeStep:
    def challenge(self, ctx):
        return Page("fake.html")

    def process(self, ctx, form):
        return Done()


class FakePassword(FakeStep, Authenticator):
    name = "password"


class FakeOtp(FakeStep, Authenticator):
    name = "otp"


class FakeSetUserId(FakeStep, Action):
    name = "set-user-id"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        choose_second_factor: bool = False


@pytest.fixture
def registry() -> Registry:
    """Stand-ins for the built-in steps, and the real built-in conditions."""
    built_in_conditions = [
        conditions.first_login, conditions.otp_configured, conditions.has_required_action,
        conditions.password_temporary,
    ]
    return Registry(
        actions={"set-user-id": FakeSetUserId()},
        authenticators={"password": FakePassword(), "otp": FakeOtp()},
        conditions={condition.name: condition for condition in built_in_conditions},
    )


def problems_of(name: str, registry: Registry) -> list[str]:
    path = BAD_FLOWS / f"{name}.yaml"
    with pytest.raises(ConfigFileError) as caught:
        load_flow_file(path, registry)
    return [str(problem).removeprefix(f"{BAD_FLOWS}/") for problem in caught.value.problems]


def test_a_misspelt_step_name_gets_a_did_you_mean(registry):
    assert problems_of("misspelt-step", registry) == [
        "misspelt-step.yaml:3:5: unknown authenticate 'pasword'; did you mean 'password'?",
        "misspelt-step.yaml:4:5: unknown action 'set-user-ld'; did you mean 'set-user-id'?",
    ]


def test_an_authenticator_written_as_an_action_is_pointed_out_both_ways(registry):
    assert problems_of("kind-mix-up", registry) == [
        "kind-mix-up.yaml:3:5: 'password' is not an action step; write `authenticate: password`",
        "kind-mix-up.yaml:4:5: 'set-user-id' is not an authenticate step; write `action: set-user-id`",
    ]


def test_a_misspelt_condition_gets_a_did_you_mean(registry):
    assert problems_of("misspelt-condition", registry) == [
        "misspelt-condition.yaml:5:5: unknown condition 'frist-login'; did you mean 'first-login'?",
        "misspelt-condition.yaml:7:5: 'first login' is not a condition name (like `first-login` or "
        "`has-required-action(UPDATE_PASSWORD)`)",
    ]


def test_condition_arguments_are_checked_inside_not_any_and_all(registry):
    assert problems_of("condition-arguments", registry) == [
        "condition-arguments.yaml:5:5: condition 'has-required-action' needs an argument: has-required-action(NAME)",
        "condition-arguments.yaml:10:13: condition 'first-login' takes no argument",
    ]


def test_a_steps_options_are_checked_against_its_own_schema_and_problems_come_in_file_order(registry):
    assert problems_of("bad-options", registry) == [
        "bad-options.yaml:5:5: unknown condition 'frist-login'; did you mean 'first-login'?",
        "bad-options.yaml:7:7: steps[1].with.choose_second_factor: Input should be a valid boolean, "
        "unable to interpret input",
        "bad-options.yaml:8:7: steps[1].with.colour: Extra inputs are not permitted",
    ]


def test_the_flow_name_must_be_the_file_name(registry):
    assert problems_of("wrong-name", registry) == [
        "wrong-name.yaml:1:1: flow: 'browser' must match the file name 'wrong-name'",
    ]


def test_a_yaml_syntax_error_is_reported_where_the_parser_stopped(registry):
    assert problems_of("syntax-error", registry) == [
        "syntax-error.yaml:5:1: YAML syntax: expected ',' or ']', but got '<stream end>'",
    ]


def test_an_empty_file_is_a_problem_not_a_crash(registry):
    assert problems_of("empty", registry) == ["empty.yaml:1:1: the file is empty"]


def test_a_step_of_no_known_shape_is_reported_once_at_the_step(registry):
    assert problems_of("not-a-step", registry) == [
        "not-a-step.yaml:4:5: steps[1]: a step is `action: NAME` or `authenticate: NAME` "
        "(exactly one of the two) or `pending-required-actions`",
        "not-a-step.yaml:5:5: steps[2]: a step is `action: NAME` or `authenticate: NAME` "
        "(exactly one of the two) or `pending-required-actions`",
        "not-a-step.yaml:8:5: steps[3].iff: Extra inputs are not permitted",
    ]


def test_a_condition_of_no_known_shape_is_reported_once_at_the_condition(registry):
    assert problems_of("bad-condition-shape", registry) == [
        "bad-condition-shape.yaml:5:5: steps[1].if: a condition is a name like `first-login`, "
        "or `not:`, `all:` or `any:`",
        "bad-condition-shape.yaml:7:5: steps[2].if: a condition is a name like `first-login`, "
        "or `not:`, `all:` or `any:`",
    ]


@pytest.mark.parametrize("name", ["browser", "kosmo-member"])
def test_the_shipped_flows_validate_against_the_installed_steps(name):
    flow = load_flow_file(SHIPPED_FLOWS / f"{name}.yaml", load_registry())
    assert flow.name == name


def test_the_member_journey_follows_the_guides_order():
    flow = load_model(FlowFile, SHIPPED_FLOWS / "kosmo-member.yaml")
    names = [step_kind_and_name(step)[1] for step in flow.steps]
    assert names == [
        "password", "verify-birthdate", "accept-terms", "update-email", "verify-email",
        "set-user-id", "select-second-factor", "update-password", "second-factor", "pending-required-actions",
    ]


FLOW = """\
flow: journey
steps:
  - authenticate: password
{extra}"""


def write(path: Path, text: str, tick: int) -> None:
    """Write and give the file a distinct modification time (edits a second apart, as a person makes)."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(tick * 1_000_000_000, tick * 1_000_000_000))


def test_a_valid_edit_replaces_the_running_flow(tmp_path, registry):
    write(tmp_path / "journey.yaml", FLOW.format(extra=""), tick=1)
    library = FlowLibrary(tmp_path, registry)
    assert library.load_all() == []
    before = library.get("journey")

    write(tmp_path / "journey.yaml", FLOW.format(extra="  - action: set-user-id\n"), tick=2)
    after = library.get("journey")
    assert after.version != before.version
    assert len(after.definition.steps) == 2


def test_an_invalid_edit_keeps_the_running_flow_and_logs_why(tmp_path, registry, caplog):
    write(tmp_path / "journey.yaml", FLOW.format(extra=""), tick=1)
    library = FlowLibrary(tmp_path, registry)
    library.load_all()
    running = library.get("journey")

    write(tmp_path / "journey.yaml", FLOW.format(extra="  - action: set-user-idd\n"), tick=2)
    with caplog.at_level(logging.ERROR, logger="idp.flows"):
        assert library.get("journey") == running
    assert "keeping the version already running" in caplog.text
    assert "journey.yaml:4:5: unknown action 'set-user-idd'; did you mean 'set-user-id'?" in caplog.text


def test_a_fixed_file_is_picked_up_after_an_invalid_edit(tmp_path, registry):
    write(tmp_path / "journey.yaml", FLOW.format(extra=""), tick=1)
    library = FlowLibrary(tmp_path, registry)
    library.load_all()
    write(tmp_path / "journey.yaml", FLOW.format(extra="  - action: nope\n"), tick=2)
    library.get("journey")
    write(tmp_path / "journey.yaml", FLOW.format(extra="  - action: set-user-id\n"), tick=3)
    assert len(library.get("journey").definition.steps) == 2


def test_a_new_flow_file_appears_without_a_restart(tmp_path, registry):
    library = FlowLibrary(tmp_path, registry)
    assert library.load_all() == []
    assert library.get("journey") is None
    write(tmp_path / "journey.yaml", FLOW.format(extra=""), tick=1)
    assert library.get("journey").name == "journey"


def test_an_invalid_file_at_start_is_not_loaded_and_its_problems_are_returned(tmp_path, registry):
    write(tmp_path / "journey.yaml", FLOW.format(extra="  - action: nope\n"), tick=1)
    library = FlowLibrary(tmp_path, registry)
    assert [str(p) for p in library.load_all()] == [
        f"{tmp_path}/journey.yaml:4:5: unknown action 'nope'; installed: set-user-id"
    ]
    assert library.get("journey") is None


def test_an_edit_that_keeps_the_old_modification_time_is_still_picked_up(tmp_path, registry):
    """Deploy tools that preserve times (cp -p, rsync -t) can give a new file its old mtime."""
    write(tmp_path / "journey.yaml", FLOW.format(extra=""), tick=1)
    library = FlowLibrary(tmp_path, registry)
    library.load_all()
    replacement = tmp_path / "journey.yaml.new"
    write(replacement, FLOW.format(extra="  - action: set-user-id\n"), tick=1)
    replacement.replace(tmp_path / "journey.yaml")
    assert len(library.get("journey").definition.steps) == 2
