"""Built-in conditions for `if:`: named questions about the member, never expressions to eval."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from idp.db.models import TermsAcceptance
from idp.flows.api import Condition, StepContext

Check = Callable[[StepContext[Any], str | None], bool]


def _password_is_temporary(ctx: StepContext[Any], _argument: str | None) -> bool:
    return any(c.type == "password" and c.temporary for c in ctx.member.credentials)


def _terms_outdated(ctx: StepContext[Any], _argument: str | None) -> bool:
    terms = ctx.config.terms
    if terms is None:
        return False
    latest = ctx.session.scalar(
        select(TermsAcceptance.version).where(TermsAcceptance.user_id == ctx.member.id)
        .order_by(TermsAcceptance.accepted_at.desc()).limit(1)
    )
    return latest != terms.version


def _has_required_action(ctx: StepContext[Any], alias: str | None) -> bool:
    return any(pending.action == alias for pending in ctx.member.required_actions)


def _has_credential(kind: str) -> Check:
    return lambda ctx, _argument: any(c.type == kind for c in ctx.member.credentials)


def _no_second_factor(ctx: StepContext[Any], _argument: str | None) -> bool:
    member = ctx.member
    return member.second_factor is None and not any(c.type in ("otp", "webauthn") for c in member.credentials)


first_login = Condition("first-login", lambda ctx, _: ctx.member.first_login_completed_at is None,
                        description="the member has never finished signing in")
birthdate_not_verified = Condition(
    "birthdate-not-verified",
    lambda ctx, _: ctx.member.birthdate is not None and ctx.member.birthdate_verified_at is None,
    description="a date of birth is on file and has not been confirmed yet")
terms_outdated = Condition("terms-outdated", _terms_outdated,
                           description="the realm has terms the member has not accepted in this version")
email_not_verified = Condition("email-not-verified", lambda ctx, _: not ctx.member.email_verified,
                               description="the member's email address is not verified")
user_id_not_set = Condition("user-id-not-set", lambda ctx, _: ctx.member.user_id_chosen_at is None,
                            description="the member still has the user ID the society issued")
no_second_factor = Condition("no-second-factor", _no_second_factor,
                             description="the member has neither chosen nor set up a second factor")
password_temporary = Condition("password-temporary", _password_is_temporary,
                               description="the member's password was issued by the society and must be changed")
has_required_action = Condition("has-required-action", _has_required_action, takes_argument=True,
                                description="an administrator queued this required action (Keycloak alias)")
otp_configured = Condition("otp-configured", _has_credential("otp"),
                           description="the member has an authenticator app (Keycloak's 'user configured')")
