"""パスワードを忘れた方はこちら (flows/reset-credentials.yaml): a mailed single-use link, the date of
birth, the member's own second factor, a new password; all other sessions end, and the member
is back at the portal signed in. The first page never tells whether the account exists."""
from __future__ import annotations

import re
import time
from datetime import date

import pytest
from flask.testing import FlaskClient

from idp.authenticators.totp import code_at
from idp.db.models import PendingRequiredAction, User
from tests.support.factors import APP_KEY, give_app
from tests.support.recovery import (
    BIRTHDATE,
    ask_for_link,
    events,
    forgot_password_page,
    link_on,
    mailed_link,
    mails_to,
    member,
    password_hash,
    press,
    same_for_everyone,
    settle_member,
)
from tests.support.sign_in import (
    MEMBER_ID,
    MEMBER_PASSWORD,
    PORTAL_TOP,
    add_member,
    authorize,
    count_sessions,
    later,
    pkce_pair,
    redirect_params,
    sign_in_for_code,
    submit_sign_in,
)

ADDRESS = f"{MEMBER_ID}@example.jp"
NEW_PASSWORD = "Momiji-2026-autumn"


@pytest.fixture
def settled_member(database, settings) -> str:
    return settle_member(database, settings)


def new_password_page(client, settings, address: str = ADDRESS) -> str:
    """The member asks for a link, opens the newest mail's link and gives the date of birth."""
    assert ask_for_link(client).status_code == 200
    birthdate_page = client.get(mailed_link(mails_to(settings, address)[-1]), follow_redirects=True)
    assert "生年月日の入力" in birthdate_page.get_data(as_text=True)
    return press(client, birthdate_page.get_data(as_text=True), **BIRTHDATE).get_data(as_text=True)


def test_the_member_resets_the_password_by_mail_and_returns_to_the_portal_signed_in(
        client, database, settings, settled_member, no_answer_floor):
    other_device = client.application.test_client()
    sign_in_for_code(other_device)
    before = password_hash(database)

    sent = ask_for_link(client)
    assert "ご登録のメールアドレスにパスワード再設定のご案内を送信しました" in sent.get_data(as_text=True)
    mail = mails_to(settings, ADDRESS)[-1]
    assert mail["Subject"] == "【KOSMOWeb】パスワード再設定のご案内"
    assert "パスワードを再設定する" in mail.get_body(("html",)).get_content()
    opened = client.get(mailed_link(mail), follow_redirects=True)
    asked = press(client, opened.get_data(as_text=True), **BIRTHDATE).get_data(as_text=True)
    assert "パスワード更新" in asked and 'name="password_confirm"' in asked
    answer = redirect_params(press(client, asked, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD))

    assert answer["code"] and answer["state"] == "portal-state-1"
    assert password_hash(database) != before
    assert count_sessions(database) == 1, "the other device's session ended; only the new one is left"
    assert [kind for kind, *_ in events(database, "SEND_RESET_PASSWORD", "UPDATE_PASSWORD", "RESET_PASSWORD",
                                        "LOGIN")] == ["LOGIN", "SEND_RESET_PASSWORD", "UPDATE_PASSWORD",
                                                      "RESET_PASSWORD", "LOGIN"]
    assert events(database, "SEND_RESET_PASSWORD")[0][2] == {"username": MEMBER_ID, "email": ADDRESS}


def test_the_new_password_signs_in_and_the_old_one_no_longer_does(client, database, settings, settled_member,
                                                                   no_answer_floor):
    press(client, new_password_page(client, settings), password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    fresh = client.application.test_client()

    refused = submit_sign_in(fresh, authorize(fresh, pkce_pair()[1]).get_data(as_text=True), password=MEMBER_PASSWORD)
    assert refused.status_code == 401
    signed_in = submit_sign_in(fresh, authorize(fresh, pkce_pair()[1]).get_data(as_text=True), password=NEW_PASSWORD)
    assert redirect_params(signed_in)["code"]


def test_the_user_id_or_the_email_address_both_find_the_member(client, database, settings, settled_member,
                                                               no_answer_floor):
    ask_for_link(client, "Hanako-01@Example.JP")

    assert len(mails_to(settings, ADDRESS)) == 1


def test_an_unknown_account_gets_the_same_page_and_status_and_no_mail(client, database, settings, settled_member,
                                                                      no_answer_floor):
    known, unknown = ask_for_link(client, MEMBER_ID), ask_for_link(client, "nobody-at-all")

    assert (known.status_code, same_for_everyone(known)) == (unknown.status_code, same_for_everyone(unknown))
    assert len(mails_to(settings, ADDRESS)) == 1
    assert events(database, "RESET_PASSWORD_ERROR") == [
        ("RESET_PASSWORD_ERROR", "user_not_found", {"username": "nobody-at-all"}, None)]


def test_known_and_unknown_accounts_answer_in_the_same_time(client, database, settings, settled_member):
    def timed(typed: str) -> float:
        page = forgot_password_page(client)
        started = time.perf_counter()
        press(client, page, username=typed)
        return time.perf_counter() - started

    known = [timed(MEMBER_ID) for _ in range(3)]
    unknown = [timed(f"nobody-{n}") for n in range(3)]

    floor = 0.5  # the realm's recovery.answer_seconds default
    assert min(known + unknown) >= floor, "a mail sent or not, no answer comes before the floor"
    # What follows the floor (rendering the same page) is the same work; the margin is for a busy machine.
    assert abs(sum(known) / 3 - sum(unknown) / 3) < 0.1, (known, unknown)


def test_the_link_works_once(client, database, settings, settled_member, no_answer_floor):
    ask_for_link(client)
    link = mailed_link(mails_to(settings, ADDRESS)[-1])

    assert "生年月日の入力" in client.get(link, follow_redirects=True).get_data(as_text=True)
    again = client.get(link)
    assert again.status_code == 400 and "すでに使用されています" in again.get_data(as_text=True)


def test_an_expired_link_is_refused(client, database, settings, settled_member, no_answer_floor, monkeypatch):
    ask_for_link(client)
    link = mailed_link(mails_to(settings, ADDRESS)[-1])

    later(monkeypatch, 301)  # Keycloak's actionTokenGeneratedByUserLifespan: 5 minutes

    assert client.get(link).status_code == 400


def test_opened_in_another_browser_the_reset_ends_on_a_done_page_without_signing_in(
        client, database, settings, settled_member, no_answer_floor):
    ask_for_link(client)
    phone: FlaskClient = client.application.test_client()

    opened = phone.get(mailed_link(mails_to(settings, ADDRESS)[-1]), follow_redirects=True)
    asked = press(phone, opened.get_data(as_text=True), **BIRTHDATE).get_data(as_text=True)
    done = press(phone, asked, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)

    shown = done.get_data(as_text=True)
    assert done.status_code == 200 and "パスワードを再設定しました。" in shown
    assert f'<a href="{PORTAL_TOP}">ポータルに戻る</a>' in shown
    assert count_sessions(database) == 0


def test_a_wrong_date_of_birth_changes_nothing(client, database, settings, settled_member, no_answer_floor):
    before = password_hash(database)
    ask_for_link(client)
    opened = client.get(mailed_link(mails_to(settings, ADDRESS)[-1]), follow_redirects=True)

    refused = press(client, opened.get_data(as_text=True), year="1981", month="4", day="1")

    assert "生年月日が一致しません" in refused.get_data(as_text=True)
    assert password_hash(database) == before


def test_a_member_with_an_authenticator_app_gives_its_code_before_the_new_password(
        client, database, settings, settled_member, no_answer_floor):
    give_app(database, "スマートフォン")
    ask_for_link(client)
    opened = client.get(mailed_link(mails_to(settings, ADDRESS)[-1]), follow_redirects=True)

    otp_page = press(client, opened.get_data(as_text=True), **BIRTHDATE).get_data(as_text=True)
    assert 'name="otp"' in otp_page and 'name="password_confirm"' not in otp_page
    wrong = press(client, otp_page, otp="000000").get_data(as_text=True)
    assert "認証コードが異なります" in wrong
    asked = press(client, wrong, otp=code_at(APP_KEY, int(time.time() // 30))).get_data(as_text=True)
    assert 'name="password_confirm"' in asked


def test_a_member_without_a_factor_is_not_asked_to_set_one_up(client, database, settings, settled_member,
                                                               no_answer_floor):
    with database.session() as session:
        session.get(User, settled_member).second_factor = "totp"
        session.commit()

    assert 'name="password_confirm"' in new_password_page(client, settings)


def test_a_member_still_in_the_first_sign_in_ends_on_the_done_page_to_sign_in_again(
        client, database, settings, no_answer_floor):
    add_member(database, settings, birthdate=date(1980, 4, 1))
    terms = press(client, new_password_page(client, settings), password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)
    assert "<h1>利用規約</h1>" in terms.get_data(as_text=True)

    terms_page = terms.get_data(as_text=True)
    done = press(client, terms_page, decision="agree",
                 terms_version=re.search(r'name="terms_version" value="([^"]+)"', terms_page).group(1))

    assert done.status_code == 200
    assert "ポータルから新しいパスワードでログインしてください。" in done.get_data(as_text=True)
    assert member(database).first_login_completed_at is None and count_sessions(database) == 0


def test_a_disabled_account_gets_the_same_answer_and_no_mail(client, database, settings, settled_member,
                                                             no_answer_floor):
    with database.session() as session:
        session.get(User, settled_member).enabled = False
        session.commit()

    assert "パスワード再設定のご案内を送信しました" in ask_for_link(client).get_data(as_text=True)
    assert mails_to(settings, ADDRESS) == []


def test_an_empty_field_is_asked_again_and_counts_nothing(client, database, settings, settled_member,
                                                          no_answer_floor):
    refused = press(client, forgot_password_page(client), username="  ")

    assert refused.status_code == 400
    assert "ユーザIDまたはメールアドレスを入力してください。" in refused.get_data(as_text=True)
    assert events(database, "SEND_RESET_PASSWORD", "RESET_PASSWORD_ERROR", "SEND_RESET_PASSWORD_ERROR") == []


def test_a_fourth_request_for_one_address_within_the_hour_mails_nothing_but_answers_the_same(
        client, database, settings, settled_member, no_answer_floor):
    answers = [ask_for_link(client) for _ in range(4)]

    assert len({same_for_everyone(answer) for answer in answers}) == 1
    assert len(mails_to(settings, ADDRESS)) == 3
    assert events(database, "SEND_RESET_PASSWORD_ERROR")[0][:2] == ("SEND_RESET_PASSWORD_ERROR", "too_many_requests")


def test_one_client_ip_may_ask_twenty_times_an_hour(client, database, settings, settled_member, no_answer_floor):
    for n in range(20):
        ask_for_link(client, f"someone-{n}")

    ask_for_link(client, MEMBER_ID)

    assert mails_to(settings, ADDRESS) == []
    assert events(database, "SEND_RESET_PASSWORD_ERROR")[0][1] == "too_many_requests"


def test_the_sign_in_links_carry_the_sign_in_and_lead_back_to_it(client, database, settings, no_answer_floor):
    sign_in = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    tab_id = re.search(r'name="tab_id" value="([^"]+)"', sign_in).group(1)
    link = link_on(sign_in, "パスワードを忘れた方はこちら")
    assert "client_id=kosmo-portal" in link and f"tab_id={tab_id}" in link

    page = client.get(link).get_data(as_text=True)
    back = client.get(link_on(page, "ログイン画面に戻る"))

    assert "<h1>ログイン</h1>" in back.get_data(as_text=True)
    assert link_on(page, "ポータルに戻る") == PORTAL_TOP


def test_without_a_sign_in_the_page_still_works_from_a_bookmark(client, database, settings, settled_member,
                                                                 no_answer_floor):
    page = client.get("/realms/kosmo-demo/login-actions/reset-credentials")

    assert page.status_code == 200 and 'name="username"' in page.get_data(as_text=True)
    assert "ログイン画面に戻る" not in page.get_data(as_text=True)


def test_a_link_for_an_address_the_member_has_since_changed_is_refused(client, database, settings, settled_member,
                                                                       no_answer_floor):
    ask_for_link(client)
    with database.session() as session:
        session.get(User, settled_member).email = "hanako.new@example.jp"
        session.commit()

    refused = client.get(mailed_link(mails_to(settings, ADDRESS)[-1]))

    assert refused.status_code == 400 and "このリンクは使用できません。" in refused.get_data(as_text=True)
    assert events(database, "RESET_PASSWORD_ERROR")[0][:2] == ("RESET_PASSWORD_ERROR", "invalid_user_credentials")


def test_a_mail_that_cannot_be_delivered_is_recorded_and_the_answer_stays_the_same(
        client, database, settings, settled_member, no_answer_floor, monkeypatch):
    from idp.login import views
    from idp.mail import MailError

    def unreachable(*args, **kwargs):
        raise MailError("smtp://mail.invalid refused the connection")

    monkeypatch.setattr(views, "send_mail", unreachable)

    answer = ask_for_link(client)

    assert answer.status_code == 200 and "パスワード再設定のご案内を送信しました" in answer.get_data(as_text=True)
    assert events(database, "SEND_RESET_PASSWORD_ERROR")[0][:2] == ("SEND_RESET_PASSWORD_ERROR", "email_send_failed")


def test_a_queued_update_password_is_done_by_the_reset_and_not_asked_again(client, database, settings, settled_member,
                                                                          no_answer_floor):
    with database.session() as session:
        session.add(PendingRequiredAction(user_id=settled_member, action="UPDATE_PASSWORD"))
        session.commit()

    answer = press(client, new_password_page(client, settings), password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)

    assert redirect_params(answer)["code"]
    with database.session() as session:
        assert session.get(User, settled_member).required_actions == []
