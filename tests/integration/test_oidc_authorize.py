"""The authorization endpoint as a relying party and a member meet it: errors, SSO and prompts.

Errors go back to the relying party only at a registered redirect URI; anything else is a page,
so a forged link can never bounce a member to an attacker's site.
"""
from __future__ import annotations

import pytest

from idp.ephemeral import ephemeral
from tests.support.sign_in import (
    CALLBACK,
    MEMBER_ID,
    OIDC,
    REALM_PATH,
    add_member,
    authorization_params,
    authorize,
    count_sessions,
    later,
    pkce_pair,
    redirect_params,
    sign_in_for_code,
    submit_sign_in,
)


def assert_error_page(response, text: str) -> None:
    assert response.status_code == 400
    assert "Location" not in response.headers
    body = response.get_data(as_text=True)
    assert "<h1>エラー</h1>" in body and text in body


def assert_error_redirect(response, error: str, state: str = "portal-state-1") -> dict:
    params = redirect_params(response)
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert params["error"] == error
    assert params["state"] == state
    assert params["iss"] == f"http://localhost{REALM_PATH}"  # RFC 9207: error responses name the issuer too
    assert "code" not in params
    return params


def test_an_unknown_client_gets_an_error_page_never_a_redirect(client):
    response = authorize(client, pkce_pair()[1], client_id="evil-portal", redirect_uri="https://evil.example/cb")

    assert_error_page(response, "このサービスは登録されていません。")


def test_a_client_without_the_code_flow_gets_an_error_page(client):
    response = authorize(client, pkce_pair()[1], client_id="kosmo-batch")

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback",
    "http://localhost:8081/CALLBACK",
    "http://localhost:8081/callback/",
    "http://localhost:8081/callback?next=/",
    None,
])
def test_a_redirect_uri_not_registered_exactly_gets_an_error_page(client, redirect_uri):
    response = authorize(client, pkce_pair()[1], redirect_uri=redirect_uri)

    assert_error_page(response, "リダイレクト先が登録されていません。")


def test_a_pkce_client_without_a_code_challenge_is_sent_back_with_invalid_request(client):
    response = authorize(client, None)

    assert_error_redirect(response, "invalid_request")


def test_plain_pkce_is_refused(client):
    verifier, _challenge = pkce_pair()

    response = authorize(client, None, code_challenge=verifier, code_challenge_method="plain")

    assert_error_redirect(response, "invalid_request")


def test_an_unknown_scope_is_sent_back_with_invalid_scope(client):
    response = authorize(client, pkce_pair()[1], scope="openid bank-account")

    assert_error_redirect(response, "invalid_scope")


def test_the_implicit_flow_is_sent_back_with_unsupported_response_type(client):
    response = authorize(client, pkce_pair()[1], response_type="token")

    assert_error_redirect(response, "unsupported_response_type")


def test_prompt_none_without_a_session_is_sent_back_with_login_required(client):
    response = authorize(client, pkce_pair()[1], prompt="none", state="silent-check")

    assert_error_redirect(response, "login_required", state="silent-check")


def test_the_code_redirect_carries_code_state_session_state_and_iss(client, database, settings):
    add_member(database, settings)

    params = sign_in_for_code(client, state="abc/xyz+1")

    assert set(params) == {"code", "state", "session_state", "iss"}
    assert params["state"] == "abc/xyz+1"
    assert params["iss"] == f"http://localhost{REALM_PATH}"
    with client.application.app_context():
        from idp.db import db_session
        from idp.realms import find_realm

        realm = find_realm(db_session(), "kosmo-demo")
        stored = ephemeral().get(f"code:{realm.id}:{params['code']}")
    assert stored["session_id"] == params["session_state"]
    assert stored["nonce"] == "portal-nonce-1"
    assert stored["redirect_uri"] == CALLBACK


def test_a_signed_in_member_gets_a_code_at_once_on_the_next_authorization(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)

    response = authorize(client, pkce_pair()[1], state="second")

    params = redirect_params(response)
    assert params["state"] == "second" and params["code"] != first["code"]
    assert params["session_state"] == first["session_state"]
    assert count_sessions(database) == 1


def test_prompt_none_with_a_session_returns_a_code_silently(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)

    params = redirect_params(authorize(client, pkce_pair()[1], prompt="none"))

    assert params["code"] and params["session_state"] == first["session_state"]


def test_prompt_login_shows_the_sign_in_page_even_when_signed_in(client, database, settings):
    add_member(database, settings)
    sign_in_for_code(client)

    response = authorize(client, pkce_pair()[1], prompt="login")

    assert response.status_code == 200
    assert "<h1>ログイン</h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize("max_age, wait", [("0", 1), ("60", 61)])
def test_max_age_past_since_sign_in_asks_the_member_to_sign_in_again(client, database, settings, monkeypatch,
                                                                    max_age, wait):
    add_member(database, settings)
    sign_in_for_code(client)
    later(monkeypatch, wait)

    response = authorize(client, pkce_pair()[1], max_age=max_age)

    assert response.status_code == 200
    assert "<h1>ログイン</h1>" in response.get_data(as_text=True)


def test_max_age_not_yet_past_reuses_the_session(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)

    params = redirect_params(authorize(client, pkce_pair()[1], max_age="600"))

    assert params["session_state"] == first["session_state"]


def test_a_sign_in_forced_by_prompt_login_replaces_the_session(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)
    page = authorize(client, pkce_pair()[1], prompt="login").get_data(as_text=True)

    params = redirect_params(submit_sign_in(client, page))

    assert params["session_state"] != first["session_state"]


def test_an_sso_session_does_not_skip_checks_of_the_new_request(client, database, settings):
    add_member(database, settings)
    sign_in_for_code(client)

    unknown_client = authorize(client, pkce_pair()[1], client_id="evil-portal")
    bad_redirect = authorize(client, pkce_pair()[1], redirect_uri="https://evil.example/callback")
    no_pkce = authorize(client, None)

    assert_error_page(unknown_client, "このサービスは登録されていません。")
    assert_error_page(bad_redirect, "リダイレクト先が登録されていません。")
    assert_error_redirect(no_pkce, "invalid_request")


def test_login_hint_does_not_sign_anyone_in(client, database, settings):
    add_member(database, settings)

    response = authorize(client, pkce_pair()[1], login_hint=MEMBER_ID, prompt="none")

    assert_error_redirect(response, "login_required")
    assert count_sessions(database) == 0


def test_a_member_disabled_since_signing_in_is_not_let_through_by_the_old_session(client, database, settings):
    from idp.db.models import User

    add_member(database, settings)
    sign_in_for_code(client)
    with database.session() as session:
        session.query(User).filter(User.username == MEMBER_ID).one().enabled = False
        session.commit()

    response = authorize(client, pkce_pair()[1])

    assert response.status_code == 200 and "<h1>ログイン</h1>" in response.get_data(as_text=True)


def test_a_relying_party_may_post_the_authorization_request(client):
    response = client.post(f"{OIDC}/auth", data=authorization_params(pkce_pair()[1]))

    assert response.status_code == 200
    assert "<h1>ログイン</h1>" in response.get_data(as_text=True)


def registered_redirect_uris(database, uris: list[str]) -> None:
    """The portal registered Keycloak patterns instead of its one callback."""
    from idp.db.models import Client

    with database.session() as session:
        portal = session.query(Client).filter_by(client_id="kosmo-portal").one()
        portal.redirect_uris = uris
        session.commit()


@pytest.mark.parametrize("patterns, redirect_uri", [
    (["http://localhost:8081/*"], "http://localhost:8081/after/sign-in?next=%2Fmypage"),
    (["/portal-app/*"], "http://localhost/portal-app/callback"),  # a path: on the server's own origin
], ids=["wildcard", "path"])
def test_a_client_with_a_wildcard_redirect_uri_gets_its_code(client, database, settings, patterns, redirect_uri):
    registered_redirect_uris(database, patterns)
    add_member(database, settings)

    params = sign_in_for_code(client, redirect_uri=redirect_uri)

    assert params["code"] and params["state"] == "portal-state-1"


def test_a_uri_outside_the_wildcard_gets_an_error_page(client, database):
    registered_redirect_uris(database, ["http://localhost:8081/app/*"])

    for redirect_uri in ("http://localhost:8081/other", "http://localhost:8081/app/../admin",
                         "http://localhost:8081@evil.example/app/x"):
        assert_error_page(authorize(client, pkce_pair()[1], redirect_uri=redirect_uri),
                          "リダイレクト先が登録されていません。")


def test_the_way_back_to_the_portal_never_links_to_a_pattern(client, database):
    from idp.db.models import Client

    registered_redirect_uris(database, ["http://localhost:8081/*", "http://localhost:8081/callback"])
    with database.session() as session:
        session.query(Client).filter_by(client_id="kosmo-portal").one().base_url = ""
        session.commit()

    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    assert 'href="http://localhost:8081/*"' not in page
    assert 'href="http://localhost:8081/callback"' in page
