"""A member with an authenticator app (e.g. imported from Keycloak) signs in with password and code."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from idp.authenticators.totp import code_at
from idp.db.models import Credential
from idp.db.users import create_user
from idp.realms import find_realm
from tests.support.sign_in import follow_step, hidden_value

AUTH = ("/realms/kosmo-demo/protocol/openid-connect/auth?client_id=kosmo-portal&response_type=code"
        "&redirect_uri=http://localhost:8081/callback&scope=openid&state=s1"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
# Keycloak keeps the secret as text and uses its UTF-8 bytes as the HMAC key.
KEYCLOAK_SECRET = "kcSecretValue12345678"


@pytest.fixture
def member(database, settings):
    with database.session() as session:
        user = create_user(session, find_realm(session, "kosmo-demo"), "otpmember01", settings=settings,
                           password="Passw0rd!x", email="otp@example.jp")
        user.credentials.append(Credential(
            type="otp", user_label="スマートフォン", secret_data={"value": KEYCLOAK_SECRET},
            credential_data={"subType": "totp", "digits": 6, "period": 30, "counter": 0,
                             "algorithm": "HmacSHA1", "secretEncoding": None}))
    return user


def hidden(html: str, name: str) -> str:
    return hidden_value(html, name)


def sign_in_with_password(client) -> tuple[str, str]:
    page = client.get(AUTH).get_data(as_text=True)
    action = re.search(r'action="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = follow_step(client, client.post(action, data={
        "csrf_token": hidden(page, "csrf_token"), "tab_id": hidden(page, "tab_id"), "step": hidden(page, "step"),
        "username": "otpmember01", "password": "Passw0rd!x"}))
    assert response.status_code == 200
    return response.get_data(as_text=True), hidden(page, "tab_id")


def post_code(client, page: str, tab_id: str, code: str):
    action = re.search(r'action="([^"]+)"', page).group(1).replace("&amp;", "&")
    return follow_step(client, client.post(action, data={"csrf_token": hidden(page, "csrf_token"), "tab_id": tab_id,
                                     "step": hidden(page, "step"),
                                     "device": re.search(r'name="device" value="([^"]+)"', page).group(1),
                                     "otp": code}))


def code(steps_from_now: int = 0) -> str:
    """The app's code for a 30-second step; the next step's code is valid now and 30 s from now."""
    return code_at(KEYCLOAK_SECRET.encode(), int(time.time() // 30) + steps_from_now)


def test_the_password_alone_does_not_sign_in_a_member_with_an_authenticator_app(client, member):
    page, _tab = sign_in_with_password(client)
    assert "ワンタイムパスワード" in page
    assert 'autocomplete="one-time-code"' in page


def test_a_wrong_code_is_refused_with_the_guides_message_and_a_right_one_returns_to_the_portal(client, member):
    page, tab_id = sign_in_with_password(client)
    wrong = post_code(client, page, tab_id, code(steps_from_now=5))
    assert wrong.status_code == 401
    assert "認証コードが異なります" in wrong.get_data(as_text=True)
    right = post_code(client, wrong.get_data(as_text=True), tab_id, code())
    assert right.status_code == 302
    assert "code" in parse_qs(urlparse(right.headers["Location"]).query)


def test_a_code_accepted_once_cannot_be_used_again(app, member):
    next_code = code(steps_from_now=1)
    first = app.test_client()
    page, tab_id = sign_in_with_password(first)
    assert post_code(first, page, tab_id, next_code).status_code == 302
    second = app.test_client()
    page, tab_id = sign_in_with_password(second)
    replay = post_code(second, page, tab_id, next_code)
    assert replay.status_code == 401
    assert "認証コードが異なります" in replay.get_data(as_text=True)
