"""The hosted sign-in page (docs/member-screens.md §1) as a member meets it, and the SSO cookie it leaves behind.

The steps every OpenID Connect story starts with (a member, a PKCE pair, an authorization
request, a sign-in) live in tests/support/sign_in.py.
"""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from idp.db.models import User, UserSession
from tests.support.settings import make_settings
from tests.support.sign_in import (
    MEMBER_ID,
    MEMBER_PASSWORD,
    OIDC,
    PORTAL_TOP,
    REALM_PATH,
    SSO_COOKIE,
    add_member,
    authorization_params,
    authorize,
    count_sessions,
    form_action,
    hidden_value,
    later,
    pkce_pair,
    redirect_params,
    referer_sent_by_browser,
    sign_in_for_code,
    sso_cookie_header,
    submit_sign_in,
)

# --- the page --------------------------------------------------------------------------------

def test_the_sign_in_page_shows_every_part_of_the_guide(client):
    response = authorize(client, pkce_pair()[1])
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "<h1>ログイン</h1>" in page
    assert re.search(r'<label for="username">ユーザID</label>\s*<input[^>]*autocomplete="username"', page)
    assert re.search(r'<label for="password">パスワード</label>\s*<div class="password-box">\s*'
                     r'<input[^>]*autocomplete="current-password"[^>]*type="password"', page)
    assert re.search(r'<button type="button" class="password-toggle" data-toggle-password="password"', page)
    assert "password-toggle.js" in page
    assert re.search(r'<input[^>]*type="checkbox"[^>]*>\s*<label for="remember_me">ログイン状態の保存</label>', page)
    assert ">パスワードを忘れた方はこちら</a>" in page
    assert ">ユーザIDを忘れた方はこちら</a>" in page
    assert '<button type="submit" class="button primary">ログイン</button>' in page
    assert f'<a href="{PORTAL_TOP}">ポータルに戻る</a>' in page


@pytest.mark.parametrize("link_text, title", [
    ("パスワードを忘れた方はこちら", "パスワードの再設定"),
    ("ユーザIDを忘れた方はこちら", "ユーザIDのお問い合わせ"),
])
def test_both_forgot_links_lead_to_their_recovery_forms(client, link_text, title):
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    href = unescape(re.search(rf'<a href="([^"]+)">{link_text}</a>', page).group(1))

    response = client.get(href)
    help_page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert f"<h1>{title}</h1>" in help_page
    assert f'<a href="{PORTAL_TOP}">ポータルに戻る</a>' in help_page


def test_login_hint_prefills_the_user_id(client):
    page = authorize(client, pkce_pair()[1], login_hint="taro-1234").get_data(as_text=True)

    assert re.search(r'<input[^>]*id="username"[^>]*value="taro-1234"', page)


# --- signing in --------------------------------------------------------------------------------

def test_a_member_signs_in_and_returns_to_the_portal_with_a_code(client, database, settings):
    add_member(database, settings)

    params = sign_in_for_code(client)

    assert params["code"] and params["state"] == "portal-state-1"
    assert params["iss"] == f"http://localhost{REALM_PATH}"
    assert count_sessions(database) == 1


def test_wrong_password_and_unknown_user_id_get_the_same_message_and_status(client, database, settings):
    add_member(database, settings)

    answers = []
    for username, password in ((MEMBER_ID, "not-my-password"), ("nobody-999", MEMBER_PASSWORD)):
        page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
        response = submit_sign_in(client, page, username=username, password=password)
        body = response.get_data(as_text=True)
        message = re.search(r'<p class="alert" role="alert">([^<]+)</p>', body).group(1)
        answers.append((response.status_code, message, MEMBER_PASSWORD in body or "not-my-password" in body))

    assert answers[0] == answers[1] == (401, "ユーザIDまたはパスワードが正しくありません。", False)
    assert count_sessions(database) == 0


def test_an_unknown_user_id_costs_the_same_hashing_work_as_a_wrong_password(client, database, settings, monkeypatch):
    from idp.security import passwords

    add_member(database, settings)
    work: list = []
    real_argon2 = passwords._argon2
    monkeypatch.setattr(passwords, "_argon2", lambda password, salt, parameters: (
        work.append(dict(parameters)) or real_argon2(password, salt, parameters)))

    costs = []
    for username in (MEMBER_ID, "nobody-999"):
        work.clear()
        submit_sign_in(client, authorize(client, pkce_pair()[1]).get_data(as_text=True), username=username,
                       password="not-my-password")
        costs.append(list(work))

    assert len(costs[0]) == 1 and costs[0] == costs[1]


def test_a_member_may_sign_in_with_their_email_address_in_any_case(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    response = submit_sign_in(client, page, username=f"  {MEMBER_ID.upper()}@EXAMPLE.JP ")

    assert redirect_params(response)["code"]
    assert count_sessions(database) == 1


def test_posting_the_same_sign_in_form_twice_does_not_sign_in_twice(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    assert submit_sign_in(client, page).status_code == 302

    again = submit_sign_in(client, page)

    assert again.status_code == 400
    assert "ログインの有効期限が切れました。" in again.get_data(as_text=True)
    assert count_sessions(database) == 1


def test_missing_user_id_and_password_are_named_under_each_field(client, database, settings):
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    response = submit_sign_in(client, page, username="", password="")
    body = response.get_data(as_text=True)

    assert response.status_code == 400
    assert re.search(r'id="username-errors" role="alert">\s*<li>ユーザIDを入力してください。</li>', body)
    assert re.search(r'id="password-errors" role="alert">\s*<li>パスワードを入力してください。</li>', body)
    assert count_sessions(database) == 0


def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_stored(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    response = submit_sign_in(client, page, csrf_token=None)

    assert response.status_code == 400
    assert "画面の有効期限が切れました。" in response.get_data(as_text=True)
    assert SSO_COOKIE not in response.headers.get("Set-Cookie", "")
    assert count_sessions(database) == 0


def test_an_unknown_sign_in_tab_shows_the_session_expired_page(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    action = re.sub(r"tab_id=[^&]+", "tab_id=unknown-tab", form_action(page))

    response = client.post(action, data={"csrf_token": hidden_value(page, "csrf_token"), "tab_id": "unknown-tab",
                                         "username": MEMBER_ID, "password": MEMBER_PASSWORD})

    assert response.status_code == 400
    assert "ログインの有効期限が切れました。" in response.get_data(as_text=True)
    assert count_sessions(database) == 0


def test_a_sign_in_left_open_past_the_login_timeout_shows_the_session_expired_page(client, database, settings,
                                                                                   monkeypatch):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    later(monkeypatch, 1801)  # the realm's login timeout is Keycloak's default, 30 minutes

    response = submit_sign_in(client, page)

    assert response.status_code == 400
    assert "ログインの有効期限が切れました。" in response.get_data(as_text=True)
    assert count_sessions(database) == 0


def test_a_disabled_member_is_told_to_contact_the_society(client, database, settings):
    user_id = add_member(database, settings)
    with database.session() as session:
        session.get(User, user_id).enabled = False
        session.commit()
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    response = submit_sign_in(client, page)

    assert "このアカウントは利用できません。" in response.get_data(as_text=True)
    assert response.status_code == 401
    assert count_sessions(database) == 0


# --- the SSO cookie --------------------------------------------------------------------------------

def test_the_sso_cookie_is_http_only_and_same_site_lax_but_not_secure_over_http(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    cookie = sso_cookie_header(submit_sign_in(client, page))

    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Path={REALM_PATH}/" in cookie
    assert "Secure" not in cookie


def test_the_sso_cookie_is_secure_when_the_identity_provider_is_served_over_https(tmp_path):
    from idp.app import create_app
    from idp.db import Database
    from idp.setup import prepare

    settings = make_settings(tmp_path, base_url="https://idp.example")
    database = Database(settings.database_url)
    prepare(settings, database)
    add_member(database, settings)
    client = create_app(settings, database).test_client()
    page_url = f"https://idp.example{OIDC}/auth?" + urlencode(authorization_params(pkce_pair()[1]))
    page = client.get(page_url).get_data(as_text=True)

    response = client.post("https://idp.example" + form_action(page), headers=referer_sent_by_browser(page, page_url),
                           data={"csrf_token": hidden_value(page, "csrf_token"), "tab_id": hidden_value(page, "tab_id"),
                                 "step": hidden_value(page, "step"), "username": MEMBER_ID,
                                 "password": MEMBER_PASSWORD})

    assert redirect_params(response)["iss"] == f"https://idp.example{REALM_PATH}"
    cookie = sso_cookie_header(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    database.dispose()


def test_remember_me_keeps_the_member_signed_in_after_the_browser_closes(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    cookie = sso_cookie_header(submit_sign_in(client, page, remember_me=True))

    assert "Max-Age=2592000" in cookie  # the demo realm's remember-me max lifespan
    with database.session() as session:
        assert session.scalar(select(UserSession.remember_me)) is True


def test_without_remember_me_the_sso_cookie_ends_with_the_browser(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)

    cookie = sso_cookie_header(submit_sign_in(client, page))

    assert "Max-Age" not in cookie and "Expires" not in cookie
    with database.session() as session:
        assert session.scalar(select(UserSession.remember_me)) is False


def test_every_sign_in_starts_a_new_session_id(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)["session_state"]

    second = sign_in_for_code(client, prompt="login")["session_state"]

    assert first != second
    with database.session() as session:
        assert set(session.scalars(select(UserSession.id))) >= {second}
