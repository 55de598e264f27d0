"""Keycloak's application-initiated actions: a relying party (or the account pages) asks for one
required action with `kc_action` and learns how it ended from `kc_action_status`."""
from __future__ import annotations

from sqlalchemy import func, select

from idp.db.models import User, UserSession
from tests.support.recovery import change_password, password_hash
from tests.support.sign_in import (
    MEMBER_ID,
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    redirect_params,
    sign_in_for_code,
    submit_sign_in,
)


def test_a_signed_in_member_runs_only_the_asked_action_and_keeps_the_session(client, database, settings):
    add_member(database, settings)
    first = sign_in_for_code(client)

    page = authorize(client, pkce_pair()[1], kc_action="UPDATE_PASSWORD")

    shown = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="password_confirm"' in shown and 'name="username"' not in shown
    assert "キャンセル" in shown
    answer = redirect_params(change_password(client, shown))
    assert answer["kc_action_status"] == "success" and answer["code"]
    assert answer["session_state"] == first["session_state"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 1


def test_cancelling_answers_cancelled_and_changes_nothing(client, database, settings):
    add_member(database, settings)
    sign_in_for_code(client)
    before = password_hash(database)
    page = authorize(client, pkce_pair()[1], kc_action="UPDATE_PASSWORD").get_data(as_text=True)

    answer = redirect_params(change_password(client, page, cancel="1"))

    assert answer["kc_action_status"] == "cancelled" and answer["code"]
    assert password_hash(database) == before


def test_without_a_session_the_member_signs_in_first_then_does_the_action(client, database, settings):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1], kc_action="UPDATE_PASSWORD").get_data(as_text=True)
    assert 'name="username"' in page

    update_page = submit_sign_in(client, page).get_data(as_text=True)
    answer = redirect_params(change_password(client, update_page))

    assert answer["kc_action_status"] == "success"
    assert password_hash(database) != {}


def test_an_unknown_kc_action_is_refused_with_a_page(client, database, settings):
    add_member(database, settings)
    response = authorize(client, pkce_pair()[1], kc_action="MAKE_COFFEE")

    assert response.status_code == 400
    assert "リクエストが正しくありません" in response.get_data(as_text=True)


def test_the_account_console_callback_returns_to_the_page_that_asked(client):
    with client.session_transaction() as session:
        session["account_console"] = {"state": "s1", "return_to": "/realms/kosmo-demo/account/security"}

    response = client.get("/realms/kosmo-demo/account/callback?state=s1&code=abc&kc_action_status=success")

    assert response.status_code == 302
    assert response.headers["Location"] == "/realms/kosmo-demo/account/security?kc_action_status=success"


def test_the_account_console_callback_refuses_a_foreign_state_or_an_outside_page(client):
    with client.session_transaction() as session:
        session["account_console"] = {"state": "s1", "return_to": "/realms/kosmo-demo/account"}
    assert client.get("/realms/kosmo-demo/account/callback?state=other&code=abc").status_code == 400

    with client.session_transaction() as session:
        session["account_console"] = {"state": "s2", "return_to": "https://evil.example/"}
    assert client.get("/realms/kosmo-demo/account/callback?state=s2&code=abc").status_code == 400


def test_a_relying_party_asks_for_an_authenticator_app_and_gets_it(client, database, settings):
    """kc_action=CONFIGURE_TOTP for a signed-in member: ワンタイムパスワードの設定, then back with success."""
    import re
    import time

    import pyotp

    from tests.support.factors import key_behind_unable_to_scan

    add_member(database, settings)
    sign_in_for_code(client)
    page = authorize(client, pkce_pair()[1], kc_action="CONFIGURE_TOTP").get_data(as_text=True)
    assert "ワンタイムパスワードの設定" in page and "キャンセル" in page

    key = key_behind_unable_to_scan(page).lower()
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    done = follow_step(client, client.post(form_action(page), data={
        **data, "totp": pyotp.TOTP(key.upper()).at(time.time()), "userLabel": "スマートフォン"}))

    assert redirect_params(done)["kc_action_status"] == "success"
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == MEMBER_ID))
        [device] = [c for c in user.credentials if c.type == "otp"]
        assert device.user_label == "スマートフォン"
        assert not re.search(key, str(device.secret_data), re.IGNORECASE)  # stored encrypted
