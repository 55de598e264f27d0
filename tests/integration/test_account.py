"""The account pages (/realms/{realm}/account) as a member uses them on a phone: their details,
their second factors (the guide's 【6】多要素認証の追加登録), and the devices signed in.

The member signs in at the portal first, so the browser holds the SSO cookie the pages read.
Setting a factor up runs the sign-in steps (kc_action); those journeys are test_kc_action's.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from idp.db.models import AuditEvent, Credential, OfflineSession, User, UserSession
from idp.realms import find_realm, realm_config, save_realm
from tests.support.account import ACCOUNT, post, sign_in_at_portal
from tests.support.sign_in import (
    MEMBER_ID,
    OIDC,
    REALM,
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    submit_sign_in,
)
from tests.support.tokens import exchange, refresh

APRIL_FIRST_9AM_IN_TOKYO = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
APRIL_2ND_21_05_IN_TOKYO = datetime(2026, 4, 2, 12, 5, tzinfo=UTC)


# --- the member and their browser ------------------------------------------------------------

@pytest.fixture
def member(database, settings) -> str:
    """Hanako, whose verified address is on file and who chose the authenticator app."""
    user_id = add_member(database, settings, email_verified=True)
    with database.session() as session:
        session.get(User, user_id).second_factor = "totp"
        session.commit()
    return user_id


@pytest.fixture
def browser(client, member):
    """The member's phone, signed in."""
    sign_in_at_portal(client)
    return client


def add_factor(database, user_id: str, type: str, label: str, created_at=APRIL_FIRST_9AM_IN_TOKYO,
               last_used_at=None) -> str:
    with database.session() as session:
        credential = Credential(user_id=user_id, type=type, user_label=label, created_at=created_at,
                                last_used_at=last_used_at, secret_data={"value": "secret"},
                                credential_data={"subType": "totp", "digits": 6, "period": 30,
                                                 "algorithm": "HmacSHA1"} if type == "otp" else {})
        session.add(credential)
        session.commit()
        return credential.id


def stored_user(database, user_id: str) -> User:
    with database.session() as session:
        user = session.get(User, user_id)
        session.expunge(user)
        return user


def factor_labels(database, user_id: str) -> dict[str, str]:
    with database.session() as session:
        return {c.id: c.user_label for c in session.scalars(select(Credential).where(
            Credential.user_id == user_id, Credential.type.in_(["otp", "webauthn"])))}


def events_of(database, type: str) -> list[AuditEvent]:
    with database.session() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.type == type)))
        session.expunge_all()
        return found


def require_second_factor(database, required: bool) -> None:
    with database.session() as session:
        config = realm_config(find_realm(session, REALM))
        save_realm(session, config.model_copy(update={"second_factor_required": required}), environ={})
        session.commit()


def text_of(response) -> str:
    """The page as a member reads it: tags dropped, spaces squeezed."""
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def landing(response) -> str:
    """Where a Post/Redirect/Get answer sends the browser."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def authorization_request(response) -> dict:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = urlsplit(response.headers["Location"])
    assert location.path == f"{OIDC}/auth"
    return {key: values[0] for key, values in parse_qs(location.query).items()}


# --- signing in -----------------------------------------------------------------------------

def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in_for_the_account_console(client):
    request = authorization_request(client.get(f"{ACCOUNT}/sessions"))

    assert request["client_id"] == "account-console"
    assert request["redirect_uri"] == f"http://localhost{ACCOUNT}/callback"
    assert request["code_challenge_method"] == "S256"
    assert "kc_action" not in request


def test_after_signing_in_the_member_lands_on_the_page_they_asked_for(client, member):
    sign_in_page = client.get(client.get(f"{ACCOUNT}/security").headers["Location"])
    callback = submit_sign_in(client, sign_in_page.get_data(as_text=True))

    back = client.get(callback.headers["Location"])

    assert back.status_code == 302 and back.headers["Location"] == f"{ACCOUNT}/security"
    assert "<h1>多要素認証・ログイン方法</h1>" in client.get(back.headers["Location"]).get_data(as_text=True)


def test_a_member_the_society_disabled_is_sent_to_sign_in_again(browser, database, member):
    with database.session() as session:
        session.get(User, member).enabled = False
        session.commit()

    assert authorization_request(browser.get(ACCOUNT))["client_id"] == "account-console"


# --- the account page ------------------------------------------------------------------------

def test_the_account_page_shows_name_user_id_email_and_the_sections(browser):
    response = browser.get(ACCOUNT)
    page = text_of(response)

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "お名前 山田 花子" in page
    assert f"ユーザID {MEMBER_ID}" in page
    assert f"メールアドレス {MEMBER_ID}@example.jp （確認済み）" in page
    for section in ("多要素認証・ログイン方法", "パスワードの変更", "メールアドレスの変更", "ログイン中の端末"):
        assert section in page
    assert "確認メールを送る" not in page


def test_an_unverified_email_is_marked_and_the_member_can_ask_for_the_mail(browser, database, member):
    with database.session() as session:
        session.get(User, member).email_verified = False
        session.commit()

    page = text_of(browser.get(ACCOUNT))
    start = browser.get(f"{ACCOUNT}/start/verify-email")

    assert "（未確認）" in page and "確認メールを送る" in page
    assert authorization_request(start)["kc_action"] == "VERIFY_EMAIL"


@pytest.mark.parametrize("step, kc_action", [
    ("passkey", "webauthn-register"),
    ("totp", "CONFIGURE_TOTP"),
    ("password", "UPDATE_PASSWORD"),
    ("email", "UPDATE_EMAIL"),
])
def test_each_setup_button_starts_the_keycloak_required_action(browser, step, kc_action):
    security = browser.get(f"{ACCOUNT}/security").get_data(as_text=True) + browser.get(ACCOUNT).get_data(as_text=True)

    request = authorization_request(browser.get(f"{ACCOUNT}/start/{step}"))

    assert f'action="{ACCOUNT}/start/{step}"' in security
    assert request["client_id"] == "account-console" and request["kc_action"] == kc_action


def test_a_changed_address_goes_straight_on_to_its_verification(browser, database, member):
    with database.session() as session:
        user = session.get(User, member)
        user.email, user.email_verified = "new-address@example.jp", False
        session.commit()

    request = authorization_request(browser.get(f"{ACCOUNT}/email/updated?kc_action_status=success"))

    assert request["kc_action"] == "VERIFY_EMAIL"


@pytest.mark.parametrize("status, message", [
    ("success", "メールアドレスの変更手続きが完了しました。"),
    ("cancelled", "手続きを中止しました。ご登録内容は変更されていません。"),
])
def test_an_address_kept_or_left_unchanged_needs_no_verification(browser, status, message):
    answer = browser.get(f"{ACCOUNT}/email/updated?kc_action_status={status}")

    assert landing(answer) == f"{ACCOUNT}?action=email&kc_action_status={status}"
    assert message in text_of(browser.get(landing(answer)))


def test_a_member_who_cancels_the_password_change_is_back_on_the_page_and_told_so(browser):
    step = browser.get(browser.get(f"{ACCOUNT}/start/password").headers["Location"]).get_data(as_text=True)
    assert "キャンセル" in step

    callback = browser.post(form_action(step), data={
        "csrf_token": hidden_value(step, "csrf_token"), "tab_id": hidden_value(step, "tab_id"),
        "step": hidden_value(step, "step"), "cancel": "1"})
    back = browser.get(follow_step(browser, callback).headers["Location"])

    assert back.headers["Location"] == f"{ACCOUNT}/security?action=password&kc_action_status=cancelled"
    assert "手続きを中止しました。" in text_of(browser.get(back.headers["Location"]))


@pytest.mark.parametrize("query, message", [
    ("action=passkey&kc_action_status=success", "生体認証（パスキー）を登録しました。"),
    ("action=totp&kc_action_status=success", "ワンタイムパスワード (OTP) アプリを登録しました。"),
    ("action=password&kc_action_status=success", "パスワードを変更しました。"),
    ("action=totp&kc_action_status=cancelled", "手続きを中止しました。ご登録内容は変更されていません。"),
    ("action=passkey&kc_action_status=error", "手続きを完了できませんでした。お手数ですが、もう一度お試しください。"),
])
def test_coming_back_from_a_step_the_member_reads_how_it_ended(browser, query, message):
    assert message in text_of(browser.get(f"{ACCOUNT}/security?{query}"))


def test_the_member_comes_back_from_a_step_to_the_section_it_started_from(browser):
    state = parse_qs(urlsplit(browser.get(f"{ACCOUNT}/start/totp").headers["Location"]).query)["state"][0]

    back = browser.get(f"{ACCOUNT}/callback?state={state}&kc_action_status=cancelled")

    assert back.headers["Location"] == f"{ACCOUNT}/security?action=totp&kc_action_status=cancelled"


# --- second factors -------------------------------------------------------------------------

def test_factors_are_listed_with_their_names_and_times_in_japan_time(browser, database, member):
    add_factor(database, member, "webauthn", "自分のiPhone", last_used_at=APRIL_2ND_21_05_IN_TOKYO)
    add_factor(database, member, "otp", "Google Authenticator")

    page = text_of(browser.get(f"{ACCOUNT}/security"))

    assert ("生体認証（パスキー） 名前 自分のiPhone 登録日時 2026年4月1日 9:00 最終利用日時 2026年4月2日 21:05"
            in page)
    assert ("ワンタイムパスワード (OTP) アプリ認証 ログイン時に使用 名前 Google Authenticator "
            "登録日時 2026年4月1日 9:00 最終利用日時 まだ使用されていません") in page
    assert "※認証方法は最低1つ必要です。" in page


def test_email_codes_chosen_at_first_sign_in_are_listed_with_the_address(browser, database, member):
    with database.session() as session:
        session.get(User, member).second_factor = "email"
        session.commit()

    page = text_of(browser.get(f"{ACCOUNT}/security"))

    assert f"ワンタイムパスワード (OTP) メール認証 ログイン時に使用 送信先 {MEMBER_ID}@example.jp" in page
    assert "メール認証を使う" not in page


def test_email_codes_are_switched_on_for_a_verified_address(browser, database, member):
    add_factor(database, member, "otp", "アプリ")

    answer = post(browser, f"{ACCOUNT}/security/email-code")
    page = text_of(browser.get(landing(answer)))

    assert "メール認証を使えるようにしました。" in page
    assert stored_user(database, member).attributes["email_code_enabled"] is True
    assert "送信先 hanako-01@example.jp" in page
    assert stored_user(database, member).second_factor == "totp"
    assert events_of(database, "UPDATE_CREDENTIAL")[0].details["credential_type"] == "email-code"


def test_email_codes_need_a_verified_address_first(browser, database, member):
    page_opened_earlier = browser.get(f"{ACCOUNT}/security").get_data(as_text=True)
    with database.session() as session:
        session.get(User, member).email_verified = False
        session.commit()

    now = text_of(browser.get(f"{ACCOUNT}/security"))
    answer = browser.post(f"{ACCOUNT}/security/email-code",
                          data={"csrf_token": hidden_value(page_opened_earlier, "csrf_token")})

    assert "メール認証を使うには、先にメールアドレスの確認を済ませてください。" in now
    assert "メール認証を使う " not in now
    assert "メール認証を使うには" in text_of(browser.get(landing(answer)))
    assert "email_code_enabled" not in stored_user(database, member).attributes


def test_a_passkey_is_renamed(browser, database, member):
    passkey = add_factor(database, member, "webauthn", "パスキー")
    form = browser.get(f"{ACCOUNT}/security/{passkey}/rename").get_data(as_text=True)

    answer = browser.post(f"{ACCOUNT}/security/{passkey}/rename",
                          data={"csrf_token": hidden_value(form, "csrf_token"), "label": "  母のスマートフォン "})

    assert 'value="パスキー"' in form and 'autocomplete="off"' in form
    assert "名前を変更しました。" in text_of(browser.get(landing(answer)))
    assert factor_labels(database, member)[passkey] == "母のスマートフォン"
    event = events_of(database, "UPDATE_CREDENTIAL")[0]
    assert event.user_id == member and event.details["credential_id"] == passkey


@pytest.mark.parametrize("typed, message", [
    ("", "名前を入力してください。"),
    ("   ", "名前を入力してください。"),
    ("あ" * 256, "名前は255文字以内で入力してください。"),
])
def test_a_bad_name_is_explained_and_changes_nothing(browser, database, member, typed, message):
    app = add_factor(database, member, "otp", "iPhone")

    answer = post(browser, f"{ACCOUNT}/security/{app}/rename", label=typed)

    assert answer.status_code == 400
    assert message in text_of(answer)
    assert 'aria-invalid="true"' in answer.get_data(as_text=True)
    assert factor_labels(database, member)[app] == "iPhone"
    assert events_of(database, "UPDATE_CREDENTIAL") == []


def test_two_apps_may_not_share_a_name_but_a_passkey_may_have_an_apps_name(browser, database, member):
    add_factor(database, member, "otp", "iPhone")
    ipad = add_factor(database, member, "otp", "iPad")
    passkey = add_factor(database, member, "webauthn", "パスキー")

    refused = post(browser, f"{ACCOUNT}/security/{ipad}/rename", label="iPhone")
    landing(post(browser, f"{ACCOUNT}/security/{passkey}/rename", label="iPhone"))
    landing(post(browser, f"{ACCOUNT}/security/{ipad}/rename", label="iPad"))

    assert refused.status_code == 400
    assert "同じ名前の認証方法が登録されています。別の名前を入力してください。" in text_of(refused)
    assert sorted(factor_labels(database, member).values()) == ["iPad", "iPhone", "iPhone"]


def test_a_name_of_exactly_255_characters_is_kept(browser, database, member):
    app = add_factor(database, member, "otp", "iPhone")

    landing(post(browser, f"{ACCOUNT}/security/{app}/rename", label="あ" * 255))

    assert factor_labels(database, member)[app] == "あ" * 255


def test_removing_asks_first_then_removes_the_app(browser, database, member):
    app = add_factor(database, member, "otp", "古いスマートフォン")
    add_factor(database, member, "webauthn", "パスキー")

    confirm = browser.get(f"{ACCOUNT}/security/{app}/remove")
    assert "削除してもよろしいですか？" in text_of(confirm) and "古いスマートフォン" in text_of(confirm)
    assert app in factor_labels(database, member)

    answer = post(browser, f"{ACCOUNT}/security/{app}/remove")

    assert "認証方法を削除しました。" in text_of(browser.get(landing(answer)))
    assert app not in factor_labels(database, member)
    assert events_of(database, "REMOVE_TOTP")[0].details["credential_id"] == app


def test_removing_the_preferred_factor_moves_the_preference_to_one_that_is_left(browser, database, member):
    app = add_factor(database, member, "otp", "アプリ")
    passkey = add_factor(database, member, "webauthn", "パスキー")

    landing(post(browser, f"{ACCOUNT}/security/{app}/remove"))

    assert stored_user(database, member).second_factor == "passkey"
    assert passkey in factor_labels(database, member)


def test_a_passkey_removal_is_recorded_as_keycloak_does(browser, database, member):
    add_factor(database, member, "otp", "アプリ")
    passkey = add_factor(database, member, "webauthn", "パスキー")

    landing(post(browser, f"{ACCOUNT}/security/{passkey}/remove"))

    event = events_of(database, "REMOVE_CREDENTIAL")[0]
    assert event.details == {"credential_type": "webauthn", "credential_id": passkey}


def test_the_last_factor_stays_while_the_society_requires_one(browser, database, member):
    app = add_factor(database, member, "otp", "アプリ")

    confirm = browser.get(f"{ACCOUNT}/security/{app}/remove")
    refused = post(browser, f"{ACCOUNT}/security/{app}/remove")

    message = "認証方法は最低1つ必要なため、この認証方法は削除できません。"
    assert message in text_of(confirm) and "削除する" not in text_of(confirm)
    assert refused.status_code == 409 and message in text_of(refused)
    assert app in factor_labels(database, member)
    assert events_of(database, "REMOVE_TOTP") == []


def test_the_last_factor_may_go_when_the_society_does_not_require_one(browser, database, member):
    require_second_factor(database, False)
    app = add_factor(database, member, "otp", "アプリ")

    landing(post(browser, f"{ACCOUNT}/security/{app}/remove"))

    assert factor_labels(database, member) == {}
    assert stored_user(database, member).second_factor is None


def test_switching_email_codes_off_keeps_the_address(browser, database, member):
    add_factor(database, member, "otp", "アプリ")
    landing(post(browser, f"{ACCOUNT}/security/email-code"))

    landing(post(browser, f"{ACCOUNT}/security/email/remove"))

    user = stored_user(database, member)
    assert "email_code_enabled" not in user.attributes and user.email == f"{MEMBER_ID}@example.jp"
    assert "送信先" not in text_of(browser.get(f"{ACCOUNT}/security"))
    assert events_of(database, "REMOVE_CREDENTIAL")[0].details["credential_type"] == "email-code"


def test_the_member_chooses_the_factor_asked_for_first(browser, database, member):
    add_factor(database, member, "otp", "アプリ")
    add_factor(database, member, "webauthn", "パスキー")

    answer = post(browser, f"{ACCOUNT}/security/preferred", second_factor="passkey")

    assert "ログイン時に使用する認証方法を変更しました。" in text_of(browser.get(landing(answer)))
    assert stored_user(database, member).second_factor == "passkey"


def test_a_factor_the_member_does_not_have_cannot_be_preferred(browser, database, member):
    add_factor(database, member, "otp", "アプリ")
    add_factor(database, member, "webauthn", "パスキー")

    answer = post(browser, f"{ACCOUNT}/security/preferred", second_factor="email")

    assert "選択した認証方法は登録されていません。" in text_of(browser.get(landing(answer)))
    assert stored_user(database, member).second_factor == "totp"


def test_another_members_factor_cannot_be_touched(browser, database, settings, member):
    someone_else = add_member(database, settings, username="taro-0002")
    theirs = add_factor(database, someone_else, "otp", "太郎のアプリ")

    renamed = post(browser, f"{ACCOUNT}/security/{theirs}/rename", label="乗っ取り")
    removed = post(browser, f"{ACCOUNT}/security/{theirs}/remove")

    assert "この認証方法は見つかりません。" in text_of(browser.get(landing(renamed)))
    landing(removed)
    assert factor_labels(database, someone_else) == {theirs: "太郎のアプリ"}


@pytest.mark.parametrize("path", [
    "security/preferred", "security/email-code", "security/{app}/rename", "security/{app}/remove",
    "sessions/others/logout",
])
def test_a_form_without_its_csrf_token_changes_nothing(browser, database, member, path):
    app = add_factor(database, member, "otp", "アプリ")
    add_factor(database, member, "webauthn", "パスキー")

    answer = browser.post(f"{ACCOUNT}/{path.format(app=app)}", data={"label": "x", "second_factor": "passkey"})

    assert answer.status_code == 400 and "画面の有効期限が切れました。" in text_of(answer)
    assert factor_labels(database, member)[app] == "アプリ"
    assert stored_user(database, member).second_factor == "totp"
    assert "email_code_enabled" not in stored_user(database, member).attributes


# --- signed-in devices ---------------------------------------------------------------------

def test_the_devices_signed_in_are_listed_with_this_one_marked(app, browser):
    sign_in_at_portal(app.test_client())

    page = text_of(browser.get(f"{ACCOUNT}/sessions"))

    assert page.count("この端末 ログイン日時") == 1 and page.count("ほかの端末 ログイン日時") == 1
    assert "利用中のサービス KOSMO Web ポータル" in page
    assert "ログイン状態の保存 なし" in page
    assert "ほかの端末をすべてログアウトする" in page


def test_signing_out_the_other_devices_ends_their_sessions_and_refresh_tokens(app, database, browser, member):
    tablet = app.test_client()
    tablet_tokens = sign_in_at_portal(tablet)

    answer = post(browser, f"{ACCOUNT}/sessions/others/logout", f"{ACCOUNT}/sessions")

    assert "ほかの端末をすべてログアウトしました。" in text_of(browser.get(landing(answer)))
    assert refresh(tablet, tablet_tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert authorization_request(tablet.get(ACCOUNT))["client_id"] == "account-console"
    assert browser.get(ACCOUNT).status_code == 200
    assert events_of(database, "LOGOUT")[0].details["sessions"] == 1


def test_one_other_device_is_signed_out(app, database, browser, member):
    tablet, laptop = app.test_client(), app.test_client()
    sign_in_at_portal(tablet)
    sign_in_at_portal(laptop)
    with database.session() as session:
        tablet_session = session.scalars(select(UserSession).order_by(UserSession.started_at)).all()[1].id

    answer = post(browser, f"{ACCOUNT}/sessions/{tablet_session}/logout", f"{ACCOUNT}/sessions")

    assert "端末をログアウトしました。" in text_of(browser.get(landing(answer)))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 2
        assert session.get(UserSession, tablet_session) is None
    assert events_of(database, "LOGOUT")[0].details["ended_session_id"] == tablet_session


def test_this_device_is_not_signed_out_from_the_list(database, browser):
    with database.session() as session:
        this_session = session.scalar(select(UserSession.id))

    answer = post(browser, f"{ACCOUNT}/sessions/{this_session}/logout")

    landed = text_of(browser.get(landing(answer)))
    assert "この端末のログアウトは、ポータルの「ログアウト」から行ってください。" in landed
    assert browser.get(ACCOUNT).status_code == 200
    assert events_of(database, "LOGOUT") == []


def test_a_device_signed_out_already_is_reported_as_gone(browser):
    answer = post(browser, f"{ACCOUNT}/sessions/no-such-session/logout")

    assert "この端末はすでにログアウトしています。" in text_of(browser.get(landing(answer)))


# --- apps with offline access ----------------------------------------------------------------
# オフラインアクセスを許可したアプリ on ログイン中の端末: which apps keep access after signing out, and
# taking it back (Keycloak's account console lists offline tokens the same way).

def offline_sign_in_at_portal(client) -> dict:
    """The portal, on another device, asks for offline access as the member signs in there."""
    verifier, challenge = pkce_pair()
    page = authorize(client, challenge, scope="openid offline_access").get_data(as_text=True)
    location = submit_sign_in(client, page).headers["Location"]
    return exchange(client, parse_qs(urlsplit(location).query)["code"][0], verifier).get_json()


def test_an_app_with_offline_access_is_listed_and_the_member_revokes_it(app, database, browser):
    tokens = offline_sign_in_at_portal(app.test_client())

    page = text_of(browser.get(f"{ACCOUNT}/sessions"))
    assert "オフラインアクセスを許可したアプリ" in page and "KOSMO Web ポータル 許可した日時" in page
    with database.session() as session:
        client_uuid = session.scalar(select(OfflineSession.client_id))

    answer = post(browser, f"{ACCOUNT}/sessions/offline/{client_uuid}/revoke", f"{ACCOUNT}/sessions")

    assert "アプリのオフラインアクセスの許可を取り消しました。" in text_of(browser.get(landing(answer)))
    assert refresh(app.test_client(), tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert "オフラインアクセスを許可したアプリ" not in text_of(browser.get(f"{ACCOUNT}/sessions"))
    assert events_of(database, "REVOKE_GRANT")[0].details["revoked_client"] == client_uuid


def test_signing_out_every_other_device_leaves_offline_access_in_place(app, browser):
    """Pins Keycloak: ending SSO sessions does not end offline sessions; only revoking the grant does."""
    tokens = offline_sign_in_at_portal(app.test_client())

    post(browser, f"{ACCOUNT}/sessions/others/logout", f"{ACCOUNT}/sessions")

    assert refresh(app.test_client(), tokens["refresh_token"]).status_code == 200
    assert "オフラインアクセスを許可したアプリ" in text_of(browser.get(f"{ACCOUNT}/sessions"))
