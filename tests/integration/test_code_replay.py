"""RFC 6749 §4.1.2: a code used twice is refused and what its first use issued is revoked."""
from __future__ import annotations

from sqlalchemy import select

from idp.db.models import RefreshTokenFamily
from tests.support.sign_in import OIDC, add_member, pkce_pair, sign_in_for_code
from tests.support.tokens import assert_oauth_error, exchange, introspect, refresh


def exchanged_code(client, database, settings) -> tuple[str, str, dict]:
    """The portal exchanged a fresh code: (code, verifier, token answer)."""
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    first = exchange(client, code, verifier)
    assert first.status_code == 200, first.get_json()
    return code, verifier, first.get_json()


def userinfo(client, access_token: str):
    return client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def test_a_replayed_code_is_refused_with_keycloaks_words(client, database, settings):
    code, verifier, _ = exchanged_code(client, database, settings)

    replay = exchange(client, code, verifier)

    assert_oauth_error(replay, 400, "invalid_grant", "Code not valid")


def test_a_replayed_code_ends_the_refresh_token_its_first_use_issued(client, database, settings):
    code, verifier, first = exchanged_code(client, database, settings)
    assert introspect(client, first["refresh_token"]).get_json()["active"] is True

    exchange(client, code, verifier)

    assert_oauth_error(refresh(client, first["refresh_token"]), 400, "invalid_grant", "Token is not active")
    assert introspect(client, first["refresh_token"]).get_json() == {"active": False}
    with database.session() as session:
        assert session.scalar(select(RefreshTokenFamily.revoked)) is True


def test_a_replayed_code_ends_the_access_token_its_first_use_issued(client, database, settings):
    code, verifier, first = exchanged_code(client, database, settings)
    assert userinfo(client, first["access_token"]).status_code == 200

    exchange(client, code, verifier)

    assert userinfo(client, first["access_token"]).status_code == 401
    assert introspect(client, first["access_token"]).get_json() == {"active": False}


def test_an_unknown_code_revokes_nothing(client, database, settings):
    _, verifier, first = exchanged_code(client, database, settings)

    assert_oauth_error(exchange(client, "never-issued", verifier), 400, "invalid_grant", "Code not valid")

    assert refresh(client, first["refresh_token"]).status_code == 200


def test_a_code_refused_for_its_verifier_is_spent_and_revokes_nothing_later(client, database, settings):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    assert_oauth_error(exchange(client, code, "a-wrong-verifier-" + "x" * 40), 400, "invalid_grant")

    assert_oauth_error(exchange(client, code, verifier), 400, "invalid_grant", "Code not valid")
