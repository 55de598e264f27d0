"""A member's second factors set up in the database or read off the setup page: authenticator
apps (TOTP) and mailed codes."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from idp.db.models import Credential, User
from tests.support.sign_in import MEMBER_ID, add_member

APP_KEY = b"12345678901234567890"


def give_app(database, *labels: str, choice: str = "totp") -> None:
    """The member has authenticator apps (the key as Keycloak keeps it: text, used as UTF-8 bytes)."""
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER_ID))
        user.second_factor = choice
        for label in labels:
            user.credentials.append(Credential(
                type="otp", user_label=label, secret_data={"value": APP_KEY.decode()},
                credential_data={"subType": "totp", "digits": 6, "period": 30, "algorithm": "HmacSHA1"}))


def member_with_app_and_email_codes(database, settings) -> None:
    add_member(database, settings, email="hanako@example.jp")
    give_app(database, "スマートフォン")
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER_ID))
        user.email_verified = True
        user.attributes = {**(user.attributes or {}), "email_code_enabled": True}


def key_behind_unable_to_scan(page: str) -> str:
    """What the member copies after tapping スキャンできませんか?, typed into the app in lower case."""
    after_link = page[page.index("スキャンできませんか?"):]
    key = re.search(r'<code id="totp-key"[^>]*>([^<]+)</code>', after_link)[1]
    return unescape(key).replace(" ", "").lower()
