"""`action: mail-user-id` (ユーザIDを忘れた方はこちら): the member types their email address and
date of birth; when both match a member, the user ID goes to the registered address. The page
never shows it, and reads the same, with the same status and in the same time, whatever matched.

Keycloak has no such page; its events are ours in Keycloak's style: SEND_USER_ID (username,
email) when the mail went out, SEND_USER_ID_ERROR (user_not_found, email_send_failed,
too_many_requests).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import func, select

from idp.actions.birthdate_input import PARTS, InvalidBirthdate, half_width, read_birthdate
from idp.actions.recovery_rules import same_answer_time, within_limits
from idp.db.models import User
from idp.db.users import normalize_email
from idp.flows.api import Action, Done, NoOptions, Page, StepContext
from idp.i18n import JAPAN_TIME
from idp.mail import MailError
from idp.mail.render import realm_mail

TEMPLATE = "actions/mail-user-id.html"
MAIL = "user-id"
MAX_LENGTH = 255
# Rendered into the mail an unmatched request would have got, so both cases do the same work.
UNSENT_USER_ID = "x" * 13


class MailUserId(Action[NoOptions]):
    name = "mail-user-id"
    needs_user = False

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        return Page(TEMPLATE)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        email = form.get("email", "").strip()
        entered = {part: half_width(form.get(part, "")) for part in PARTS}
        errors, birthdate = {}, None
        if not email:
            errors["email"] = ["forgot_user_id.missing_email"]
        elif len(email) > MAX_LENGTH or "@" not in email.strip("@"):
            errors["email"] = ["forgot_user_id.invalid_email"]
        try:
            birthdate = read_birthdate(entered, today=ctx.now.astimezone(JAPAN_TIME).date())
        except InvalidBirthdate as problem:
            errors["birthdate"] = [problem.key]
        if errors or birthdate is None:
            return Page(TEMPLATE, values={"email": email[:MAX_LENGTH], **entered}, errors=errors, status=400)
        with same_answer_time(ctx):
            _mail_if_matched(ctx, email, birthdate)
        return Page(TEMPLATE, values={"sent": True})


def _mail_if_matched(ctx: StepContext[NoOptions], email: str, birthdate: date) -> None:
    if not within_limits(ctx, "forgot-user-id", email):
        ctx.record_event("SEND_USER_ID_ERROR", error="too_many_requests", email=email)
        return
    user = _member_with(ctx, email, birthdate)
    if user is None or user.email is None:
        _render(ctx, UNSENT_USER_ID, name="")
        ctx.record_event("SEND_USER_ID_ERROR", error="user_not_found", email=email)
        return
    subject, text, html = _render(ctx, user.username, name=user.full_name)
    try:
        ctx.send_mail(to=user.email, subject=subject, text=text, html=html)
    except MailError:
        ctx.record_event("SEND_USER_ID_ERROR", error="email_send_failed", user_id=user.id, email=user.email)
        return
    ctx.record_event("SEND_USER_ID", user_id=user.id, username=user.username, email=user.email)


def _member_with(ctx: StepContext[NoOptions], email: str, birthdate: date) -> User | None:
    """The enabled member whose registered address (not user ID) and date of birth both match."""
    user = ctx.session.scalar(select(User).where(
        User.realm_id == ctx.realm.id, User.service_account_client_id.is_(None),
        func.lower(User.email) == normalize_email(email)))
    if user is None or not user.enabled or user.birthdate != birthdate:
        return None
    return user


def _render(ctx: StepContext[NoOptions], user_id: str, name: str) -> tuple[str, str, str]:
    return realm_mail(ctx.settings, ctx.config, MAIL, "forgot_user_id.mail.subject", user_id=user_id, name=name)
