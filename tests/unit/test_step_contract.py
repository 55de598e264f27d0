"""The contract a step codes against (idp/flows/api.py): the member when one is known, another
installed step run with its own options, and required actions found by name or Keycloak alias."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from idp.flows.api import Action, Done, NoMember, NoOptions, Page, StepContext
from idp.flows.registry import Registry


class GreetingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = "こんにちは"


class Greet(Action[GreetingOptions]):
    name = "greet"
    Options = GreetingOptions

    def challenge(self, ctx: StepContext[GreetingOptions]) -> Page:
        return Page("greet.html", values={"greeting": ctx.options.greeting, "to": ctx.member.username})

    def process(self, ctx: StepContext[GreetingOptions], form: Any) -> Done:
        return Done()


class UpdatePassword(Action[NoOptions]):
    name = "update-password"
    alias = "UPDATE_PASSWORD"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return Page("update-password.html")

    def process(self, ctx: StepContext[NoOptions], form: Any) -> Done:
        return Done()


def context(user: object | None, options: BaseModel, data: dict[str, Any] | None = None) -> StepContext[Any]:
    """A context as the engine builds one, with only what these steps read."""
    def unused(*args: object, **kwargs: object) -> Any:
        raise AssertionError("not used by these steps")

    return StepContext(
        realm=SimpleNamespace(name="kosmo-demo"), config=None, session=None, settings=None, store=None,
        user=user, client=None, options=options, data={} if data is None else data, ip_address="192.0.2.1",
        now=None, send_mail=unused, make_link=unused, record_event=unused,
    )


def test_a_step_reaching_for_the_member_before_any_is_known_is_told_so():
    ctx = context(None, GreetingOptions())

    with pytest.raises(NoMember, match="kosmo-demo"):
        Greet().challenge(ctx)
    assert ctx.user is None


def test_a_step_sees_the_member_and_its_own_options():
    page = Greet().challenge(context(SimpleNamespace(username="yamada01"), GreetingOptions(greeting="ようこそ")))

    assert page.values == {"greeting": "ようこそ", "to": "yamada01"}


def test_a_step_running_another_hands_it_that_steps_default_options_and_a_scratch_space_of_its_own():
    member = SimpleNamespace(username="yamada01")
    ctx = context(member, NoOptions(), data={"update-password": {"tries": 1}})

    sub = ctx.for_step(Greet(), data=ctx.data["update-password"])

    assert sub.options == GreetingOptions()
    assert sub.member is member
    sub.data["tries"] = 2
    assert ctx.data == {"update-password": {"tries": 2}}
    assert ctx.for_step(Greet()).data is ctx.data


def test_a_queued_required_action_is_found_by_its_keycloak_alias_or_its_own_name():
    registry = Registry(actions={"greet": Greet(), "update-password": UpdatePassword()}, authenticators={},
                        conditions={})

    assert registry.action_for_alias("UPDATE_PASSWORD") is registry.actions["update-password"]
    assert registry.action_for_alias("update-password") is registry.actions["update-password"]
    assert registry.action_for_alias("greet") is registry.actions["greet"]
    assert registry.action_for_alias("CONFIGURE_TOTP") is None
    assert UpdatePassword().queued_as == {"update-password", "UPDATE_PASSWORD"}
