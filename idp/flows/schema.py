"""The shape of `flows/<name>.yaml`: steps, `if:` conditions and per-step `with:` options.

This checks structure only; `idp.flows.loader` then checks every name against the installed
steps and conditions and each `with:` against that step's own options schema.
"""
from __future__ import annotations

import re
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONDITION_CALL = re.compile(r"(?P<name>[a-z][a-z0-9-]*)(?:\((?P<argument>[A-Za-z0-9_.:-]+)\))?")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Not(Strict):
    not_: "ConditionExpression" = Field(alias="not")


class All(Strict):
    all: list["ConditionExpression"] = Field(min_length=1)


class Any(Strict):
    any: list["ConditionExpression"] = Field(min_length=1)


ConditionExpression = Union[str, Not, All, Any]
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


class FlowFile(Strict):
    """One flow file."""

    flow: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    steps: list[Union[ActionStep, AuthenticateStep, Literal["pending-required-actions"]]] = Field(min_length=1)

    @field_validator("steps", mode="before")
    @classmethod
    def known_step_shapes(cls, steps):
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, str) and step != PENDING_REQUIRED_ACTIONS:
                raise ValueError(f"steps[{index}]: {step!r} is not a step; write `- action: NAME`, "
                                 f"`- authenticate: NAME` or `- {PENDING_REQUIRED_ACTIONS}`")
            if isinstance(step, dict) and ("action" in step) == ("authenticate" in step):
                raise ValueError(f"steps[{index}]: give exactly one of `action:` or `authenticate:`")
        return steps


def step_kind_and_name(step) -> tuple[str, str]:
    """("action" | "authenticate" | "pending", name) of a parsed step."""
    if isinstance(step, ActionStep):
        return "action", step.action
    if isinstance(step, AuthenticateStep):
        return "authenticate", step.authenticate
    return "pending", PENDING_REQUIRED_ACTIONS
