"""What a member does on the recovery pages, shared by the recovery tests: open them from the
sign-in page, type, read the mailbox, follow the link."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from idp.actions import recovery_rules
from idp.db.models import AuditEvent, User
from tests.integration.test_login import MEMBER_ID, follow_step, form_action
from tests.integration.test_member_journey import fields_of, outbox

BIRTHDATE = {"year": "1980", "month": "4", "day": "1"}


@pytest.fixture
def no_answer_floor(monkeypatch):
    """Tests that are not about answer times skip recovery's minimum answer time."""
    monkeypatch.setattr(recovery_rules.time, "sleep", lambda seconds: None)


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
