"""Token introspection (RFC 7662) and revocation (RFC 7009) as relying parties call them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from idp.app import create_app
from idp.db import Database, revocations
from idp.db.models import RefreshTokenFamily, RevokedAccessToken, utcnow
from idp.db.revocations import access_token_revoked, revoke_access_token
from idp.setup import prepare
from tests.support.settings import make_settings
from tests.support.sign_in import MEMBER_ID, OIDC, PORTAL, PORTAL_SECRET, count_sessions
from tests.support.tokens import introspect, refresh, signed_in_tokens


def test_introspecting_a_live_access_token_says_active_with_its_claims(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = introspect(client, answer["access_token"])

    body = response.get_json()
    assert response.status_code == 200
    assert body["active"] is True
    assert body["client_id"] == PORTAL and body["azp"] == PORTAL
    assert body["username"] == MEMBER_ID and body["preferred_username"] == MEMBER_ID
    assert body["token_type"] == "Bearer"
    assert body["sid"] == answer["session_state"]
    assert body["scope"] == "openid profile email"
    assert body["exp"] > body["iat"]


def test_introspecting_a_refresh_token_says_active_until_it_is_rotated(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    assert introspect(client, answer["refresh_token"]).get_json()["active"] is True

    refresh(client, answer["refresh_token"])

    assert introspect(client, answer["refresh_token"]).get_json() == {"active": False}


def test_introspecting_garbage_says_inactive(client):
    response = introspect(client, "not-a-token")

    assert response.status_code == 200
    assert response.get_json() == {"active": False}


def test_introspection_needs_the_clients_credentials(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    anonymous = client.post(f"{OIDC}/token/introspect", data={"token": answer["access_token"]})
    wrong = introspect(client, answer["access_token"], auth=(PORTAL, "guessed"))

    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_client"
        assert "active" not in response.get_json()


def test_revoking_a_refresh_token_ends_its_whole_family(client, database, settings):
    first = signed_in_tokens(client, database, settings)
    second = refresh(client, first["refresh_token"]).get_json()

    response = client.post(f"{OIDC}/revoke", data={"token": second["refresh_token"],
                                                   "token_type_hint": "refresh_token"}, auth=(PORTAL, PORTAL_SECRET))

    assert response.status_code == 200
    assert refresh(client, second["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert introspect(client, second["refresh_token"]).get_json() == {"active": False}
    with database.session() as session:
        assert session.scalar(select(RefreshTokenFamily.revoked)) is True
    assert count_sessions(database) == 1  # revoking a token is not signing out


def test_revoking_an_access_token_makes_it_inactive_everywhere(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/revoke", data={"token": answer["access_token"]}, auth=(PORTAL, PORTAL_SECRET))

    assert response.status_code == 200
    assert introspect(client, answer["access_token"]).get_json() == {"active": False}
    userinfo = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert userinfo.status_code == 401
    assert refresh(client, answer["refresh_token"]).status_code == 200  # the refresh token lives on


@pytest.mark.redis
def test_a_revoked_access_token_stays_refused_after_redis_restarts_empty(tmp_path, database_url, redis_url):
    """Redis holds no state that must outlive it: a revocation is kept with the tokens' families."""
    settings = make_settings(tmp_path, database_url=database_url, redis_url=redis_url)
    database = Database(database_url)
    prepare(settings, database)
    client = create_app(settings, database).test_client()
    answer = signed_in_tokens(client, database, settings)
    client.post(f"{OIDC}/revoke", data={"token": answer["access_token"]}, auth=(PORTAL, PORTAL_SECRET))

    redis.Redis.from_url(redis_url).flushdb()

    assert introspect(client, answer["access_token"]).get_json() == {"active": False}
    userinfo = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert userinfo.status_code == 401
    database.dispose()


def test_revocations_go_from_the_table_once_their_tokens_have_expired(migrated_database, monkeypatch):
    with migrated_database.session() as session:
        revoke_access_token(session, "expires-in-a-minute", 60)
        revoke_access_token(session, "expires-in-an-hour", 3600)
    half_an_hour_on = utcnow() + timedelta(minutes=30)
    monkeypatch.setattr(revocations, "utcnow", lambda: half_an_hour_on)

    with migrated_database.session() as session:
        revoke_access_token(session, "revoked-later", 300)

    with migrated_database.session() as session:
        assert set(session.scalars(select(RevokedAccessToken.jti))) == {"expires-in-an-hour", "revoked-later"}
        assert access_token_revoked(session, "expires-in-an-hour")


def test_revoking_an_unknown_token_still_answers_200(client):
    response = client.post(f"{OIDC}/revoke", data={"token": "not-a-token"}, auth=(PORTAL, PORTAL_SECRET))

    assert response.status_code == 200


def test_revocation_needs_the_clients_credentials(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/revoke", data={"token": answer["refresh_token"]}, auth=(PORTAL, "guessed"))

    assert response.status_code == 401
    assert refresh(client, answer["refresh_token"]).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    client.post(f"{OIDC}/revoke", data={"token": answer["refresh_token"]},
                auth=("kosmo-batch", "demo-batch-secret-change-me"))

    assert refresh(client, answer["refresh_token"]).status_code == 200


def test_introspecting_a_disabled_members_token_says_inactive(client, database, settings):
    from idp.db.models import User

    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.scalar(select(User).where(User.username == MEMBER_ID)).enabled = False
        session.commit()

    assert introspect(client, answer["access_token"]).get_json() == {"active": False}
