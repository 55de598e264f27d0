"""`authenticate: reset-credential-email` (パスワードを忘れた方はこちら): the member types their user
ID or email address; a single-use, expiring link goes to the registered address, and opening it,
in any browser, recognises the member and the flow goes on there.

Keycloak's reset-credentials-choose-user and reset-credential-email in one step, so the page,
its status and its time are the same whether or not the account exists. Events, as Keycloak's:
SEND_RESET_PASSWORD (username, email) when the mail went out; SEND_RESET_PASSWORD_ERROR
(email_send_failed, or too_many_requests over the hourly limits); RESET_PASSWORD_ERROR
(user_not_found, with what was typed) for an unknown or disabled account or one without an address.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from idp.actions.recovery_rules import same_answer_time, within_limits
from idp.db.users import find_user, normalize_email
from idp.flows.api import Authenticator, Done, NoOptions, Page, StepContext
from idp.mail import MailError
from idp.mail.render import realm_mail

TEMPLATE = "reset-credential-email.html"
LINK_REFUSED_TEMPLATE = "reset-credential-link.html"
MAIL = "reset-credentials"
MAX_LENGTH = 255
# Rendered into the mail an unknown address would have got, so both cases do the same work.
UNSENT_LINK = "https://unsent.invalid/login-actions/link/" + "x" * 43


class ResetCredentialEmail(Authenticator[NoOptions]):
    name = "reset-credential-email"
    needs_user = False

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return Page(TEMPLATE, values={"username": ""})

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        typed = form.get("username", "").strip()
        if not typed or len(typed) > MAX_LENGTH:
            error = "reset_credentials.missing_username" if not typed else "reset_credentials.too_long"
            return Page(TEMPLATE, values={"username": typed[:MAX_LENGTH]}, errors={"username": [error]}, status=400)
        with same_answer_time(ctx):
            _mail_if_known(ctx, typed)
        return Page(TEMPLATE, values={"sent": True, "minutes": _minutes(ctx)})

    def follow_link(self, ctx: StepContext[NoOptions], payload: dict) -> Page | Done:
        """Only for the address the link was sent to, and only while the member may sign in."""
        if not ctx.member.enabled or normalize_email(payload.get("email")) != normalize_email(ctx.member.email):
            ctx.record_event("RESET_PASSWORD_ERROR", error="invalid_user_credentials")
            return Page(LINK_REFUSED_TEMPLATE, errors={"": ["reset_credentials.link_refused"]}, status=400)
        return Done(user=ctx.member)


def _mail_if_known(ctx: StepContext[NoOptions], typed: str) -> None:
    user = find_user(ctx.session, ctx.realm, typed)
    if not within_limits(ctx, "reset-credentials", typed):
        ctx.record_event("SEND_RESET_PASSWORD_ERROR", error="too_many_requests", username=typed,
                         user_id=user.id if user else None)
        return
    if user is None or not user.enabled or not user.email:
        _render(ctx, UNSENT_LINK, name="")
        ctx.record_event("RESET_PASSWORD_ERROR", error="user_not_found", username=typed)
        return
    link = ctx.make_link({"email": user.email}, ttl=ctx.config.tokens.action_token_lifespan, for_user=user)
    subject, text, html = _render(ctx, link, name=user.full_name)
    try:
        ctx.send_mail(to=user.email, subject=subject, text=text, html=html)
    except MailError:
        ctx.record_event("SEND_RESET_PASSWORD_ERROR", error="email_send_failed", user_id=user.id,
                         username=user.username, email=user.email)
        return
    ctx.record_event("SEND_RESET_PASSWORD", user_id=user.id, username=user.username, email=user.email)


def _minutes(ctx: StepContext[NoOptions]) -> int:
    return math.ceil(ctx.config.tokens.action_token_lifespan / 60)


def _render(ctx: StepContext[NoOptions], link: str, name: str) -> tuple[str, str, str]:
    return realm_mail(ctx.settings, ctx.config, MAIL, "reset_credentials.mail.subject", url=link, name=name,
                      minutes=_minutes(ctx))
