"""What a member does on the recovery pages, shared by the recovery tests: open them from the
sign-in page, type, read the mailbox, follow the link, choose a new password; a member who can."""
from __future__ import annotations

import re
from datetime import date
from html import unescape

from sqlalchemy import select

from idp.db.models import AuditEvent, TermsAcceptance, User
from idp.realms import find_realm, realm_config
from tests.support.mail import outbox
from tests.support.sign_in import (
    MEMBER_ID,
    REALM,
    add_member,
    authorize,
    fields_of,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
)

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


def settle_member(database, settings) -> str:
    """A member past the first sign-in, who verified their date of birth long ago and agreed to
    the demo society's terms."""
    user_id = add_member(database, settings, birthdate=date(1980, 4, 1))
    with database.session() as session:
        user = session.get(User, user_id)
        user.first_login_completed_at = user.birthdate_verified_at = user.created_at
        user.email_verified = True
        session.add(TermsAcceptance(user_id=user_id, version=realm_config(find_realm(session, REALM)).terms.version,
                                    accepted_at=user.created_at))
        session.commit()
    return user_id


def forgot_password_page(client, **overrides) -> str:
    """From the portal's sign-in page, the member taps パスワードを忘れた方はこちら."""
    sign_in = authorize(client, pkce_pair()[1], **overrides).get_data(as_text=True)
    page = client.get(link_on(sign_in, "パスワードを忘れた方はこちら"))
    assert page.status_code == 200
    return page.get_data(as_text=True)


def ask_for_link(client, typed: str = MEMBER_ID):
    return press(client, forgot_password_page(client), username=typed)
