"""The UserInfo endpoint as a portal calls it with the member's access token."""
from __future__ import annotations

import pytest

from idp.db.models import User
from tests.support.sign_in import MEMBER_ID, OIDC, PORTAL, PORTAL_SECRET, later
from tests.support.tokens import signed_in_tokens


def assert_bearer_refused(response) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert response.get_json()["error"] == "invalid_token"


def test_userinfo_answers_the_members_claims_for_a_bearer_token(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    with database.session() as session:
        user_id = session.query(User.id).filter(User.username == MEMBER_ID).scalar()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {
        "sub": user_id, "preferred_username": MEMBER_ID, "email": f"{MEMBER_ID}@example.jp", "email_verified": False,
        "name": "山田 花子", "given_name": "花子", "family_name": "山田",
    }


def test_userinfo_accepts_the_token_as_a_form_parameter_in_a_post(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/userinfo", data={"access_token": answer["access_token"]})

    assert response.status_code == 200
    assert response.get_json()["preferred_username"] == MEMBER_ID


def test_userinfo_follows_a_change_to_the_members_profile(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.query(User).filter(User.username == MEMBER_ID).one().last_name = "佐藤"
        session.commit()

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    assert response.get_json()["family_name"] == "佐藤"


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic a29zbW86c2VjcmV0", None])
def test_userinfo_refuses_a_missing_or_garbage_token(client, header):
    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": header} if header else {})

    assert_bearer_refused(response)


def test_userinfo_refuses_the_id_token_and_the_refresh_token(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    for token in (answer["id_token"], answer["refresh_token"]):
        assert_bearer_refused(client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {token}"}))


def test_userinfo_refuses_an_expired_access_token(client, database, settings, monkeypatch):
    answer = signed_in_tokens(client, database, settings)
    later(monkeypatch, 301)

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    assert_bearer_refused(response)


def test_userinfo_refuses_a_revoked_access_token(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    revoked = client.post(f"{OIDC}/revoke", data={"token": answer["access_token"]}, auth=(PORTAL, PORTAL_SECRET))
    assert revoked.status_code == 200

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    assert_bearer_refused(response)


def test_userinfo_refuses_a_token_whose_session_was_logged_out(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    client.post(f"{OIDC}/logout", auth=(PORTAL, PORTAL_SECRET), data={"refresh_token": answer["refresh_token"]})

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    assert_bearer_refused(response)


def test_userinfo_refuses_a_disabled_member(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.query(User).filter(User.username == MEMBER_ID).one().enabled = False
        session.commit()

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})

    assert_bearer_refused(response)


def test_userinfo_refuses_a_token_from_another_realm(client, database, settings):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    forged_key = RSAKey.generate_key(2048, private=True)
    forged = jwt.encode({"alg": "RS256", "kid": "forged"}, {"typ": "Bearer", "sub": "x", "iss": "http://evil"},
                        forged_key, algorithms=["RS256"])

    response = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {forged}"})

    assert_bearer_refused(response)
