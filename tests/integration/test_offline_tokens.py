"""Offline tokens (Keycloak's `offline_access` scope): a relying party keeps access for a member
after the browser session is gone, until the offline session idles out or is revoked."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from idp.db.models import OfflineSession, UserSession, utcnow
from idp.oidc.sessions import end_session
from tests.support.sign_in import OIDC, PORTAL, PORTAL_SECRET, add_member, pkce_pair, sign_in_for_code
from tests.support.tokens import (
    APP,
    APP_SECRET,
    add_direct_access_client,
    assert_oauth_error,
    claims_of,
    exchange,
    introspect,
    password_grant,
    refresh,
    set_client_scopes,
    set_reuse_policy,
)

OFFLINE = "openid offline_access"


def offline_tokens(client, database, settings) -> dict:
    """A member signs in at the portal, which asks for offline access: the token response."""
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge), scope=OFFLINE)["code"]
    response = exchange(client, code, verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def end_sso_sessions(client, database) -> None:
    """Every SSO session ends as a logout ends it (its logout notices read the app's settings)."""
    with client.application.app_context(), database.session() as session:
        for user_session in session.scalars(select(UserSession)):
            end_session(session, user_session)


def test_asking_for_offline_access_gives_an_offline_token_without_expiry(client, database, settings):
    """Pins Keycloak's offline token: `typ` Offline, no `exp`, `refresh_expires_in` 0, the scope named."""
    answer = offline_tokens(client, database, settings)

    claims = claims_of(client, answer["refresh_token"])
    assert claims["typ"] == "Offline" and "exp" not in claims
    assert answer["refresh_expires_in"] == 0
    assert answer["scope"] == "openid profile email offline_access"
    assert claims_of(client, answer["access_token"])["scope"] == answer["scope"]


def test_an_offline_token_outlives_the_sso_session_that_started_it(client, database, settings):
    """Pins Keycloak: logging out of the browser session (any way) leaves offline sessions alone."""
    answer = offline_tokens(client, database, settings)
    end_sso_sessions(client, database)

    refreshed = refresh(client, answer["refresh_token"])

    assert refreshed.status_code == 200, refreshed.get_json()
    body = refreshed.get_json()
    assert claims_of(client, body["refresh_token"])["typ"] == "Offline"
    userinfo = client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200
    assert introspect(client, body["refresh_token"]).get_json()["active"] is True


def test_an_offline_session_idle_longer_than_the_realm_allows_ends(client, database, settings):
    """Pins Keycloak's offlineSessionIdleTimeout (30 days by default): "Offline session not active"."""
    answer = offline_tokens(client, database, settings)
    with database.session() as session:
        session.scalar(select(OfflineSession)).last_seen_at = utcnow() - timedelta(days=30, seconds=1)

    assert_oauth_error(refresh(client, answer["refresh_token"]), 400, "invalid_grant", "Offline session not active")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OfflineSession)) == 0


def test_refreshing_keeps_an_offline_session_alive(client, database, settings):
    answer = offline_tokens(client, database, settings)
    with database.session() as session:
        session.scalar(select(OfflineSession)).last_seen_at = utcnow() - timedelta(days=29)

    assert refresh(client, answer["refresh_token"]).status_code == 200
    with database.session() as session:
        assert utcnow() - session.scalar(select(OfflineSession.last_seen_at)) < timedelta(minutes=1)


def test_a_client_without_the_offline_access_scope_is_refused_it(client, database, settings):
    """Pins Keycloak: a scope that is neither a default nor an optional scope of the client is `invalid_scope`."""
    add_member(database, settings)
    add_direct_access_client(database)
    set_client_scopes(database, APP, default=["profile", "email"], optional=["address"])

    assert_oauth_error(password_grant(client, scope=OFFLINE), 400, "invalid_scope")


def test_an_offline_token_reused_beyond_the_realms_allowance_ends_its_offline_session(client, database, settings):
    """Pins Keycloak's reuse check for offline tokens (its own reuse key): the offline session ends."""
    set_reuse_policy(database, revoke=True)
    answer = offline_tokens(client, database, settings)
    assert refresh(client, answer["refresh_token"]).status_code == 200

    assert_oauth_error(refresh(client, answer["refresh_token"]), 400, "invalid_grant",
                       "Maximum allowed refresh token reuse exceeded")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OfflineSession)) == 0


def test_the_password_grant_gives_offline_tokens_too(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)

    answer = password_grant(client, scope=OFFLINE).get_json()

    assert claims_of(client, answer["refresh_token"])["typ"] == "Offline"
    end_sso_sessions(client, database)
    assert refresh(client, answer["refresh_token"], auth=(APP, APP_SECRET)).status_code == 200


def test_revoking_an_offline_token_ends_its_offline_session(client, database, settings):
    """Pins Keycloak's revocation endpoint for offline tokens (RFC 7009): the offline session goes."""
    answer = offline_tokens(client, database, settings)

    revoked = client.post(f"{OIDC}/revoke", data={"token": answer["refresh_token"]}, auth=(PORTAL, PORTAL_SECRET))

    assert revoked.status_code == 200
    assert_oauth_error(refresh(client, answer["refresh_token"]), 400, "invalid_grant")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OfflineSession)) == 0
