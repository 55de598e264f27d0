"""What a member does on the recovery pages, shared by the recovery tests: open them from the
sign-in page, type, read the mailbox, follow the link, choose a new password."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from idp.db.models import AuditEvent, User
from tests.support.mail import outbox
from tests.support.sign_in import MEMBER_ID, fields_of, follow_step, form_action, hidden_value

BIRTHDATE = {"year": "1980", "month": "4", "day": "1"}


def link_on(page: str, text: str) -> str:
    return unescape(re.search(rf'<a href="([^"]+)">{re.escape(text)}</a>', page).group(1))


def press(client, page: str, **typed):
    """Submit the page's form with what the member typed, following on as a browser does."""
    return follow_step(client, client.post(form_action(page), data={**fields_of(page), **typed}))


def mails_to(settings, address: str) -> list:
    return [mail for mail in outbox(settings) if mail["To"] == address]


def mailed_link(mail) -> str:
    return re.search(r"(http://\S+/login-actions/link/\S+)", mail.get_body(("plain",)).get_content()).group(1)


def events(database, *types: str) -> list[tuple]:
    with database.session() as session:
        found = session.scalars(select(AuditEvent).where(AuditEvent.type.in_(types)).order_by(AuditEvent.time))
        # (type, error, details, user id), oldest first
        return [(event.type, event.error, dict(event.details or {}), event.user_id) for event in found]


def member(database, username: str = MEMBER_ID) -> User:
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        session.expunge(user)
        return user


NEW_PASSWORD = "Fresh-password-26"


def password_hash(database) -> dict:
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER_ID))
        return next(c.secret_data for c in user.credentials if c.type == "password")


def change_password(client, page: str, password: str = NEW_PASSWORD, **extra):
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    data.update(password=password, password_confirm=password, **extra)
    return follow_step(client, client.post(form_action(page), data=data))


def same_for_everyone(response) -> str:
    """The page with its per-request random values blanked: the CSRF token (a fresh signature each
    time) and the tab id (a new auth session for each visit). Nothing else may differ."""
    page = response.get_data(as_text=True)
    page = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)
    return re.sub(r"tab_id=[\w-]+|name=\"tab_id\" value=\"[^\"]*\"", "tab_id", page)
