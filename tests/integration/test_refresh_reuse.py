"""Refresh tokens as the realm says (Keycloak's `revokeRefreshToken` and `refreshTokenMaxReuse`):
a relying party retrying a refresh, and what a refused reuse does to the member's sessions."""
from __future__ import annotations

from sqlalchemy import func, select

from idp.db.models import ClientSession, RefreshTokenFamily
from tests.support.sign_in import count_sessions
from tests.support.tokens import assert_oauth_error, introspect, refresh, set_reuse_policy, signed_in_tokens


def client_sessions(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(ClientSession))


def test_by_default_a_used_refresh_token_is_refused_and_the_portal_loses_its_share_of_the_session(
        client, database, settings):
    """Pins the project's default (revokeRefreshToken on, max reuse 0): Keycloak answers
    `invalid_grant` "Maximum allowed refresh token reuse exceeded" and detaches the client session,
    so the newer refresh token stops working too, while the member's SSO session stays."""
    first = signed_in_tokens(client, database, settings)
    second = refresh(client, first["refresh_token"]).get_json()

    retry = refresh(client, first["refresh_token"])

    assert_oauth_error(retry, 400, "invalid_grant", "Maximum allowed refresh token reuse exceeded")
    assert_oauth_error(refresh(client, second["refresh_token"]), 400, "invalid_grant")
    assert (count_sessions(database), client_sessions(database)) == (1, 0)


def test_a_token_older_than_the_one_last_used_is_stale(client, database, settings):
    """Pins Keycloak's `validateTokenReuse`: a refresh token issued before the last accepted refresh
    is refused with "Stale token" (not a reuse count), with the same end of the client session."""
    first = signed_in_tokens(client, database, settings)
    second = refresh(client, first["refresh_token"]).get_json()
    refresh(client, second["refresh_token"])

    assert_oauth_error(refresh(client, first["refresh_token"]), 400, "invalid_grant", "Stale token")
    with database.session() as session:
        assert session.scalar(select(RefreshTokenFamily.revoked)) is True


def test_a_realm_imported_with_revocation_off_lets_a_network_retry_reuse_its_refresh_token(
        client, database, settings):
    """Pins Keycloak's default `revokeRefreshToken: false`: a refresh token stays usable, any number
    of times, until it expires or the session ends; each answer still carries a new refresh token."""
    set_reuse_policy(database, revoke=False)
    first = signed_in_tokens(client, database, settings)

    answers = [refresh(client, first["refresh_token"]) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.get_json()["refresh_token"] != first["refresh_token"] for a in answers)
    assert introspect(client, first["refresh_token"]).get_json()["active"] is True
    assert refresh(client, answers[0].get_json()["refresh_token"]).status_code == 200


def test_with_max_reuse_one_the_second_reuse_is_refused_and_ends_the_client_session(client, database, settings):
    """Pins Keycloak's RefreshTokenTest `refreshTokenReuseTokenWithRefreshTokensRevokedAfterSingleReuse`
    with Keycloak 26's detach: revoke on and max reuse N allow N reuses; the N+1-th answers
    "Maximum allowed refresh token reuse exceeded"; the token the first use gave is stale by then."""
    set_reuse_policy(database, revoke=True, max_reuse=1)
    first = signed_in_tokens(client, database, settings)
    from_first_use = refresh(client, first["refresh_token"]).get_json()
    from_reuse = refresh(client, first["refresh_token"])
    assert from_reuse.status_code == 200, from_reuse.get_json()
    older = introspect(client, from_first_use["refresh_token"])  # issued before the last refresh
    assert older.get_json()["active"] is False

    second_reuse = refresh(client, first["refresh_token"])

    assert_oauth_error(second_reuse, 400, "invalid_grant", "Maximum allowed refresh token reuse exceeded")
    assert_oauth_error(refresh(client, from_reuse.get_json()["refresh_token"]), 400, "invalid_grant")
    assert (count_sessions(database), client_sessions(database)) == (1, 0)


def test_the_newest_refresh_token_always_works_within_the_reuse_allowance(client, database, settings):
    """Pins Keycloak: using the newest token resets the count, so a client that always keeps the
    latest token is never refused."""
    set_reuse_policy(database, revoke=True, max_reuse=0)
    token = signed_in_tokens(client, database, settings)["refresh_token"]

    for _ in range(4):
        response = refresh(client, token)
        assert response.status_code == 200, response.get_json()
        token = response.get_json()["refresh_token"]
