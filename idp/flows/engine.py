"""Running a flow for one sign-in: find the step to show, hand it the form, move on when done.

The position lives in the auth session (per browser tab) together with the flow definition the
sign-in started with, so a reload, the back button, a second tab, another worker or a restart
all see the same step, and an edited flow file only affects sign-ins started after the edit.
Each step's need is re-checked when the member reaches it (authentik's planner does the same).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete

from idp.db.models import PendingRequiredAction, User
from idp.flows.api import Action, Done, Page, Step, StepContext
from idp.flows.registry import Registry
from idp.flows.schema import (
    CONDITION_CALL,
    ActionStep,
    All,
    AuthenticateStep,
    ConditionExpression,
    FlowFile,
    Not,
    step_kind_and_name,
)
from idp.flows.schema import Any as AnyOf

log = logging.getLogger("idp.flows")


class FlowBroken(RuntimeError):
    """The pinned flow cannot run (a step was uninstalled, or a step needing a member comes first)."""


@dataclass(frozen=True)
class CurrentStep:
    """The step the member is at; `token` changes whenever progress is made (stale forms)."""

    plugin: Step[Any]
    key: str
    with_: dict[str, Any]
    token: str


@dataclass
class Progress:
    """The part of an auth session the engine owns (kept as JSON in the ephemeral store)."""

    flow: dict[str, Any]
    position: int = 0
    completed: int = 0
    pending: list[str] | None = None
    step_data: dict[str, Any] | None = None
    always: list[int] | None = None  # positions run even when the step says it is not needed (kc_action)
    proven_factors: list[str] | None = None  # second factors the member proved in this sign-in

    @property
    def definition(self) -> FlowFile:
        return FlowFile.model_validate(self.flow)


# The step, its validated options and its scratch space.
ContextFactory = Callable[[Step[Any], BaseModel, dict[str, Any]], StepContext[Any]]


class Engine:
    """Decides the current step and applies a step's answer; the caller persists the progress."""

    def __init__(self, registry: Registry, make_context: ContextFactory, user: Callable[[], User | None]):
        self.registry = registry
        self.make_context = make_context
        self.user = user

    def current(self, progress: Progress) -> CurrentStep | None:
        """The step to show now, skipping steps whose condition is false or that are not needed."""
        steps = progress.definition.steps
        while progress.position < len(steps):
            definition = steps[progress.position]
            if isinstance(definition, str):  # pending-required-actions
                step = self._next_pending_action(progress)
            else:
                step = self._reached(progress, definition)
            if step is not None:
                return step
            self._advance(progress)
        return None

    def _reached(self, progress: Progress, definition: ActionStep | AuthenticateStep) -> CurrentStep | None:
        kind, name = step_kind_and_name(definition)
        plugin = self.registry.step(kind, name)
        if plugin is None:
            raise FlowBroken(f"step {kind}: {name} is not installed")
        if plugin.needs_user and self.user() is None:
            raise FlowBroken(f"step {name} needs a member: put an authenticator before it")
        ctx = self._context(progress, plugin, definition.with_)
        if definition.if_ is not None and not self.evaluate(definition.if_, ctx):
            return None
        if not plugin.needed(ctx) and progress.position not in (progress.always or []):
            return None
        return CurrentStep(plugin, self._key(progress), dict(definition.with_), self._token(progress))

    def _next_pending_action(self, progress: Progress) -> CurrentStep | None:
        """The member's queued required actions (Keycloak aliases), one after another."""
        if progress.pending is None:
            user = self.user()
            progress.pending = [item.action for item in (user.required_actions if user else [])]
        while progress.pending:
            action = self.registry.action_for_alias(progress.pending[0])
            if action is None:
                log.warning("required action %r is queued but not installed; skipped", progress.pending[0])
            else:
                ctx = self._context(progress, action, {})
                # An action the realm switched off stays queued and never runs, as in Keycloak.
                if ctx.config.required_action(progress.pending[0]).enabled and action.needed(ctx):
                    return CurrentStep(action, self._key(progress), {}, self._token(progress))
            progress.pending.pop(0)
        return None

    def evaluate(self, expression: ConditionExpression, ctx: StepContext[Any]) -> bool:
        """An `if:` expression: named conditions combined with not/all/any."""
        if isinstance(expression, Not):
            return not self.evaluate(expression.not_, ctx)
        if isinstance(expression, All):
            return all(self.evaluate(item, ctx) for item in expression.all)
        if isinstance(expression, AnyOf):
            return any(self.evaluate(item, ctx) for item in expression.any)
        call = CONDITION_CALL.fullmatch(expression.strip())
        condition = self.registry.conditions.get(call["name"]) if call else None
        if call is None or condition is None:
            raise FlowBroken(f"condition {expression!r} is not installed")
        return condition.check(ctx, call["argument"])

    def submit(self, progress: Progress, step: CurrentStep, form: Mapping[str, str]) -> Page | Done:
        """Hand the form to the current step; on Done, record the progress."""
        ctx = self._context(progress, step.plugin, step.with_)
        answer = step.plugin.process(ctx, form)
        if isinstance(answer, Done):
            if answer.factor:
                progress.proven_factors = [*(progress.proven_factors or []), answer.factor]
            self.complete(progress, step.plugin, ctx)
        return answer

    def challenge(self, progress: Progress, step: CurrentStep) -> Page:
        return step.plugin.challenge(self._context(progress, step.plugin, step.with_))

    def complete(self, progress: Progress, plugin: Step[Any], ctx: StepContext[Any]) -> None:
        """Move past a finished step; a finished action is no longer a pending required action."""
        if isinstance(plugin, Action) and ctx.user is not None:
            ctx.session.execute(delete(PendingRequiredAction).where(
                PendingRequiredAction.user_id == ctx.user.id, PendingRequiredAction.action.in_(plugin.queued_as)))
        if progress.pending:
            progress.pending.pop(0)
            progress.completed += 1
            return
        self._advance(progress)

    def skip(self, progress: Progress) -> None:
        """Leave the current step undone (a cancelled kc_action)."""
        if progress.pending:
            progress.pending.pop(0)
            progress.completed += 1
        else:
            self._advance(progress)

    def _advance(self, progress: Progress) -> None:
        progress.position += 1
        progress.completed += 1
        progress.pending = None

    def _context(self, progress: Progress, plugin: Step[Any], options: dict[str, Any]) -> StepContext[Any]:
        if progress.step_data is None:
            progress.step_data = {}
        data = progress.step_data.setdefault(self._key(progress), {})
        ctx = self.make_context(plugin, plugin.Options.model_validate(options), data)
        ctx.extra = {**ctx.extra, "proven_factors": tuple(progress.proven_factors or ())}
        return ctx

    @staticmethod
    def _key(progress: Progress) -> str:
        pending = f"/{progress.pending[0]}" if progress.pending else ""
        return f"{progress.position}{pending}"

    @staticmethod
    def _token(progress: Progress) -> str:
        return f"{progress.position}.{progress.completed}"
