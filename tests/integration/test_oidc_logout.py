"""Signing out (docs/member-screens.md §3): RP-initiated logout from the portal, and python-keycloak's logout POST."""
from __future__ import annotations

from sqlalchemy import func, select

from idp.db.models import ClientSession, RefreshTokenFamily
from tests.support.sign_in import (
    OIDC,
    PORTAL,
    PORTAL_SECRET,
    PORTAL_TOP,
    SSO_COOKIE,
    authorize,
    count_sessions,
    form_action,
    hidden_value,
    pkce_pair,
    referer_sent_by_browser,
)
from tests.support.tokens import logout_url, refresh, signed_in_tokens


def assert_signed_out(client, database, answer: dict) -> None:
    """The SSO session is gone: no session rows, no refresh, and the next visit shows the form."""
    assert count_sessions(database) == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RefreshTokenFamily)) == 0
        assert session.scalar(select(func.count()).select_from(ClientSession)) == 0
    assert refresh(client, answer["refresh_token"]).get_json()["error"] == "invalid_grant"
    next_visit = authorize(client, pkce_pair()[1])
    assert next_visit.status_code == 200 and "<h1>ログイン</h1>" in next_visit.get_data(as_text=True)


def cleared_sso_cookie(response) -> str:
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(SSO_COOKIE + "="))
    assert "Max-Age=0" in cookie or "Expires=Thu, 01 Jan 1970" in cookie
    return cookie


def test_the_portal_signs_the_member_out_and_gets_them_back_with_its_state(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint=answer["id_token"], post_logout_redirect_uri=PORTAL_TOP,
                                     state="bye-1"))

    assert response.status_code == 302
    assert response.headers["Location"] == f"{PORTAL_TOP}?state=bye-1"
    cleared_sso_cookie(response)
    assert_signed_out(client, database, answer)


def test_the_hint_alone_ends_the_session_even_without_the_browsers_cookie(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    client.delete_cookie(SSO_COOKIE, path="/realms/kosmo-demo/")

    response = client.get(logout_url(id_token_hint=answer["id_token"], post_logout_redirect_uri=PORTAL_TOP))

    assert response.headers["Location"] == PORTAL_TOP
    assert count_sessions(database) == 0


def test_an_unregistered_post_logout_redirect_uri_gets_an_error_page_and_keeps_the_session(client, database,
                                                                                        settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint=answer["id_token"],
                                     post_logout_redirect_uri="https://evil.example/", state="x"))

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "リダイレクト先が登録されていません。" in response.get_data(as_text=True)
    assert count_sessions(database) == 1


def test_a_forged_id_token_hint_gets_an_error_page(client, database, settings):
    signed_in_tokens(client, database, settings)

    response = client.get(logout_url(id_token_hint="not.a.token", post_logout_redirect_uri=PORTAL_TOP))

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert count_sessions(database) == 1


def test_without_a_hint_the_member_is_asked_to_confirm_in_japanese(client, database, settings):
    signed_in_tokens(client, database, settings)

    response = client.get(logout_url(client_id=PORTAL, post_logout_redirect_uri=PORTAL_TOP, state="s-2"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ログアウトしてもよろしいですか？" in page
    assert '<button type="submit" class="button primary">ログアウトする</button>' in page
    assert count_sessions(database) == 1  # nothing ends before the member confirms


def test_confirming_the_sign_out_ends_the_session_and_returns_to_the_portal(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    url = logout_url(client_id=PORTAL, post_logout_redirect_uri=PORTAL_TOP, state="s-2")
    page = client.get(url).get_data(as_text=True)

    response = client.post(form_action(page), headers=referer_sent_by_browser(page, "http://localhost" + url), data={
        "csrf_token": hidden_value(page, "csrf_token"), "confirm": "1", "client_id": PORTAL,
        "post_logout_redirect_uri": PORTAL_TOP, "state": "s-2"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"{PORTAL_TOP}?state=s-2"
    cleared_sso_cookie(response)
    assert_signed_out(client, database, answer)


def test_confirming_without_a_redirect_shows_the_signed_out_page(client, database, settings):
    answer = signed_in_tokens(client, database, settings)
    page = client.get(logout_url()).get_data(as_text=True)

    response = client.post(form_action(page), data={"csrf_token": hidden_value(page, "csrf_token"), "confirm": "1"})

    assert response.status_code == 200
    assert "ログアウトしました。" in response.get_data(as_text=True)
    assert_signed_out(client, database, answer)


def test_a_confirmation_without_its_csrf_token_signs_nobody_out(client, database, settings):
    signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/logout", data={"confirm": "1", "client_id": PORTAL,
                                                   "post_logout_redirect_uri": PORTAL_TOP})

    assert response.status_code == 200
    assert "ログアウトしてもよろしいですか？" in response.get_data(as_text=True)
    assert count_sessions(database) == 1


def test_python_keycloaks_logout_post_gets_204_and_ends_the_session(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/logout", data={"client_id": PORTAL, "client_secret": PORTAL_SECRET,
                                                   "refresh_token": answer["refresh_token"]})

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_signed_out(client.application.test_client(), database, answer)


def test_a_logout_post_with_the_wrong_secret_ends_nothing(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/logout", data={"client_id": PORTAL, "client_secret": "guessed",
                                                   "refresh_token": answer["refresh_token"]})

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert count_sessions(database) == 1


def test_a_logout_post_with_another_clients_refresh_token_ends_nothing(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/logout", auth=("kosmo-batch", "demo-batch-secret-change-me"),
                           data={"refresh_token": answer["refresh_token"]})

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert count_sessions(database) == 1
