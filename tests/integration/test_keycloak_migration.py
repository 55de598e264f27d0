"""Members of a realm imported from Keycloak sign in as Keycloak's browser flow would have them:
their own password (Keycloak's hash), their authenticator app, then their pending actions."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from idp.authenticators.totp import code_at
from idp.db.models import Credential, PendingRequiredAction, User
from idp.realms.keycloak import import_file
from idp.setup import prepare
from tests.integration.test_login import follow_step, form_action, hidden_value

EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak" / "kosmo-kc-realm.json"
REALM = "/realms/kosmo-kc"
CALLBACK = "https://kenpo.portal.example.jp/callback"
VERIFIER = "imported-member-verifier-0123456789-abcdefghijklmnop"


@pytest.fixture
def app(settings, migrated_database):
    from idp.app import create_app

    with migrated_database.session() as session:
        import_file(session, EXPORT, settings)
    prepare(settings, migrated_database)
    app = create_app(settings, migrated_database)
    app.config.update(TESTING=True)
    return app


def otp_secret(username: str) -> bytes:
    user = next(u for u in json.loads(EXPORT.read_text())["users"] if u["username"] == username)
    otp = next(c for c in user["credentials"] if c["type"] == "otp")
    return json.loads(otp["secretData"])["value"].encode()  # Keycloak: the UTF-8 bytes of the value


def sign_in(client, username: str, password: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": "kosmo-portal", "response_type": "code", "scope": "openid", "state": "st",
                       "redirect_uri": CALLBACK, "code_challenge": challenge, "code_challenge_method": "S256"})
    page = client.get(f"{REALM}/protocol/openid-connect/auth?{query}").get_data(as_text=True)
    return submit(client, page, username=username, password=password)


def submit(client, page: str, **fields):
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    return follow_step(client, client.post(form_action(page), data={**data, **fields}))


def code_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert response.headers["Location"].startswith(CALLBACK)
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def test_a_member_with_a_keycloak_pbkdf2_password_and_an_app_signs_in_with_both(client, database):
    otp_page = sign_in(client, "tanaka01", "Sakura-2024")
    assert otp_page.status_code == 200
    page = otp_page.get_data(as_text=True)
    assert re.search(r'autocomplete="one-time-code"', page)

    code = code_at(otp_secret("tanaka01"), int(time.time() // 30))
    assert code_from(submit(client, page, device=hidden_value(page, "device"), otp=code))

    with database.session() as session:
        password = session.scalar(select(Credential).join(User).where(
            User.username == "tanaka01", Credential.type == "password"))
        assert password.credential_data["algorithm"] == "argon2"  # rehashed at this first sign-in


def test_a_member_with_a_pending_update_password_is_asked_for_a_new_one_first(client, database):
    page = sign_in(client, "sato03", "Kaede-2025").get_data(as_text=True)
    assert 'name="password_confirm"' in page

    done = submit(client, page, password="Momiji-2026x", password_confirm="Momiji-2026x")

    assert code_from(done)
    with database.session() as session:
        sato = session.scalar(select(User).where(User.username == "sato03"))
        assert session.scalar(select(PendingRequiredAction).where(PendingRequiredAction.user_id == sato.id)) is None
