"""The shape of `flows/<name>.yaml`: steps, `if:` conditions and per-step `with:` options.

This checks structure only; `idp.flows.loader` then checks every name against the installed
steps and conditions and each `with:` against that step's own options schema.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal
from typing import Any as AnyValue

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

CONDITION_ARGUMENT = r"[A-Za-z0-9_.:-]+"
CONDITION_CALL = re.compile(rf"(?P<name>[a-z][a-z0-9-]*)(?:\((?P<argument>{CONDITION_ARGUMENT})\))?")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Not(Strict):
    not_: ConditionExpression = Field(alias="not")


class All(Strict):
    all: list[ConditionExpression] = Field(min_length=1)


class Any(Strict):
    any: list[ConditionExpression] = Field(min_length=1)


def _condition_shape(value: AnyValue) -> str | None:
    """Which form of condition `value` is, so an error names one form instead of all four.

    Tags are bracketed: pydantic puts them in the error location, and `idp.yamlfile` drops
    bracketed parts so positions point at the operator's own keys."""
    if isinstance(value, str):
        return "[name]"
    if isinstance(value, BaseModel):
        return f"[{type(value).__name__.lower()}]"
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("not", "all", "any"):
        return f"[{next(iter(value))}]"
    return None


ConditionExpression = Annotated[
    Annotated[str, Tag("[name]")]
    | Annotated[Not, Tag("[not]")]
    | Annotated[All, Tag("[all]")]
    | Annotated[Any, Tag("[any]")],
    Discriminator(_condition_shape, custom_error_type="condition_shape",
                  custom_error_message="a condition is a name like `first-login`, or `not:`, `all:` or `any:`"),
]
for _model in (Not, All, Any):
    _model.model_rebuild()


class StepBase(Strict):
    if_: ConditionExpression | None = Field(default=None, alias="if")
    with_: dict = Field(default_factory=dict, alias="with")


class ActionStep(StepBase):
    action: str = Field(min_length=1)


class AuthenticateStep(StepBase):
    authenticate: str = Field(min_length=1)


PENDING_REQUIRED_ACTIONS = "pending-required-actions"


def _step_shape(value: AnyValue) -> str | None:
    """Which kind of step `value` is (bracketed tags, as for conditions), or None for no kind."""
    if isinstance(value, (ActionStep, AuthenticateStep)):
        return "[action]" if isinstance(value, ActionStep) else "[authenticate]"
    if value == PENDING_REQUIRED_ACTIONS:
        return "[pending]"
    if isinstance(value, dict) and ("action" in value) != ("authenticate" in value):
        return "[action]" if "action" in value else "[authenticate]"
    return None


Step = Annotated[
    Annotated[ActionStep, Tag("[action]")]
    | Annotated[AuthenticateStep, Tag("[authenticate]")]
    | Annotated[Literal["pending-required-actions"], Tag("[pending]")],
    Discriminator(_step_shape, custom_error_type="step_shape",
                  custom_error_message="a step is `action: NAME` or `authenticate: NAME` (exactly one of "
                                       "the two) or `pending-required-actions`"),
]


class FlowFile(Strict):
    """One flow file."""

    flow: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    steps: list[Step] = Field(min_length=1)


def step_kind_and_name(step: Step) -> tuple[str, str]:
    """("action" | "authenticate" | "pending", name) of a parsed step."""
    if isinstance(step, ActionStep):
        return "action", step.action
    if isinstance(step, AuthenticateStep):
        return "authenticate", step.authenticate
    return "pending", PENDING_REQUIRED_ACTIONS
