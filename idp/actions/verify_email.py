"""`verify-email` (メール認証, docs/member-screens.md §2 steps 7–8): mail the member a link that confirms their address,
then wait on a page that continues once the link was opened, in this browser or another.

Events: VERIFY_EMAIL (detail `email`) when a link confirms the address, as Keycloak records it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from idp.db.users import normalize_email
from idp.flows.api import Action, Done, Page, StepContext
from idp.mail import MailError
from idp.mail.render import realm_mail

TEMPLATE = "actions/verify-email.html"
# The engine shows this page after a link says Done; it also shows a refused link's reason.
LINK_TEMPLATE = "actions/verify-email-done.html"
MAIL = "verify-email"


class VerifyEmailOptions(BaseModel):
    """`with:` options: how long the member waits before 再送信 sends another mail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resend_cooldown_seconds: int = Field(60, ge=0, le=3600)


class VerifyEmail(Action[VerifyEmailOptions]):
    name = "verify-email"
    alias = "VERIFY_EMAIL"
    Options = VerifyEmailOptions

    def needed(self, ctx: StepContext[VerifyEmailOptions]) -> bool:
        return bool(ctx.member.email) and not ctx.member.email_verified

    def challenge(self, ctx: StepContext[VerifyEmailOptions]) -> Page:
        # One mail per sign-in (a reload must not send another), unless the address changed.
        if ctx.data.get("sent_to") != ctx.member.email:
            return _send(ctx, notice=None)
        return _page(ctx)

    def process(self, ctx: StepContext[VerifyEmailOptions], form: Mapping[str, str]) -> Page | Done:
        if form.get("action") == "resend":
            return _resend(ctx)
        if not self.needed(ctx):
            return Done()
        return _page(ctx, errors={"": ["verify_email.error.not_confirmed"]})

    def follow_link(self, ctx: StepContext[VerifyEmailOptions], payload: dict) -> Page | Done:
        address = normalize_email(payload.get("email"))
        if address is None or address != normalize_email(ctx.member.email):
            return Page(LINK_TEMPLATE, errors={"": ["verify_email.error.old_address"]}, status=400)
        if not ctx.member.email_verified:
            ctx.member.email_verified = True
            ctx.record_event("VERIFY_EMAIL", email=ctx.member.email)
        return Done()


def _resend(ctx: StepContext[VerifyEmailOptions]) -> Page:
    wait = _seconds_until_resend(ctx)
    if wait > 0:
        return _page(ctx, notice="verify_email.resend_wait", wait_seconds=wait)
    return _send(ctx, notice="verify_email.resent")


def _seconds_until_resend(ctx: StepContext[VerifyEmailOptions]) -> int:
    sent_at = ctx.data.get("sent_at")
    if sent_at is None:
        return 0
    elapsed = ctx.now.timestamp() - sent_at
    return max(0, math.ceil(ctx.options.resend_cooldown_seconds - elapsed))


def _send(ctx: StepContext[VerifyEmailOptions], notice: str | None) -> Page:
    """Mail a fresh link to the member's address; the page says so, or that delivery failed."""
    address = ctx.member.email
    if address is None:  # removed by an administrator since needed() was checked
        return _page(ctx, errors={"": ["mail.delivery_failed"]})
    lifespan = ctx.config.tokens.action_token_lifespan
    link = ctx.make_link({"email": address}, ttl=lifespan)
    subject, text, html = realm_mail(ctx.settings, ctx.config, MAIL, "verify_email.mail.subject",
                                     url=link, name=ctx.member.full_name, minutes=math.ceil(lifespan / 60))
    try:
        ctx.send_mail(to=address, subject=subject, text=text, html=html)
    except MailError:
        return _page(ctx, errors={"": ["mail.delivery_failed"]})
    ctx.data.update(sent_to=address, sent_at=ctx.now.timestamp())
    return _page(ctx, notice=notice)


def _page(ctx: StepContext[VerifyEmailOptions], errors: dict[str, list[str]] | None = None, notice: str | None = None,
          wait_seconds: int = 0) -> Page:
    values = {"email": ctx.member.email, "notice": notice, "wait_seconds": wait_seconds}
    return Page(TEMPLATE, values=values, errors=errors or {})
