"""`action: reset-password` (Keycloak's reset-password step of the reset-credentials flow): the
new password under the realm's policy, as update-password asks for it, then every session the
member had is ended, since whoever knew the old password may hold one.

It also does update-password's duty: a queued UPDATE_PASSWORD is done (as in Keycloak, where
the reset runs that required action). Events: UPDATE_PASSWORD (from update-password), LOGOUT for
the ended sessions, RESET_PASSWORD.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete

from idp.db.models import PendingRequiredAction
from idp.flows.api import Action, Done, NoOptions, Page, StepContext

PASSWORD_STEP = "update-password"


class ResetPassword(Action[NoOptions]):
    name = "reset-password"

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        step, sub = _update_password(ctx)
        return step.challenge(sub)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        step, sub = _update_password(ctx)
        answer = step.process(sub, form)
        if isinstance(answer, Done):
            ctx.session.execute(delete(PendingRequiredAction).where(
                PendingRequiredAction.user_id == ctx.member.id, PendingRequiredAction.action.in_(step.queued_as)))
            ctx.end_other_sessions()
            ctx.record_event("RESET_PASSWORD", username=ctx.member.username)
        return answer


def _update_password(ctx: StepContext[NoOptions]) -> tuple[Action[Any], StepContext[Any]]:
    """The installed update-password step (found by name: actions never import each other)."""
    step = ctx.find_step("action", PASSWORD_STEP)
    if not isinstance(step, Action):
        raise LookupError(f"reset-password needs the {PASSWORD_STEP} action installed")
    return step, ctx.for_step(step)
