"""A member imported from the society's CSV file signs in for the first time and walks the guide's
whole journey (docs/member-screens.md §2 steps 4–11) in the kosmo-member flow, page by page, in the guide's words."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from idp.db.models import Credential, TermsAcceptance, User
from idp.mail import find_links
from idp.members import import_members, read_member_file
from idp.realms import find_realm, realm_config
from tests.support.mail import outbox
from tests.support.settings import make_settings
from tests.support.sign_in import (
    CALLBACK,
    REALM,
    authorize,
    fields_of,
    follow_step,
    form_action,
    pkce_pair,
    redirect_params,
)
from tests.support.tokens import claims_of, exchange

INITIAL_ID = "k0012345"
INITIAL_PASSWORD = "Init-Pass-0001"
NEW_EMAIL = "Hanako.Yamada@example.jp"
NEW_ID = "HANAKO-2026"
NEW_PASSWORD = "Sakura_2026-spring"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path, browser_flow="kosmo-member")


@pytest.fixture
def imported_member(database, settings, tmp_path) -> str:
    """A row of the society's CSV file, imported: temporary password, birthdate, email, never signed in."""
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("user_id,initial_password,birthdate,last_name,first_name,email\n"
                        f"{INITIAL_ID},{INITIAL_PASSWORD},1980-04-01,山田,花子,{INITIAL_ID}@example.jp\n",
                        encoding="utf-8")
    with database.session() as session:
        import_members(session, find_realm(session, REALM), read_member_file(csv_file), settings)
        session.commit()
        member = session.scalars(select(User).where(User.username == INITIAL_ID)).one()
        assert member.first_login_completed_at is None and member.birthdate_verified_at is None
        return member.id


def press(client, page: str, **typed):
    """Submit the page's form with what the member typed or chose, and follow on as a browser does."""
    return follow_step(client, client.post(form_action(page), data={**fields_of(page), **typed}))


def shown(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def assert_screen(page: str, heading: str, *, labels=(), buttons=()) -> None:
    """The page's heading, field labels and buttons, word for word as the guide prints them."""
    assert re.search(r"<h1>([^<]*)</h1>", page).group(1) == heading
    for label in labels:
        assert re.search(rf"<(label|legend)[^>]*>{re.escape(label)}</(label|legend)>", page), (heading, label)
    for button in buttons:
        assert re.search(rf"<button[^>]*>{re.escape(button)}</button>", page), (heading, button)


def mailed_code(settings) -> str:
    """The six digits of the newest ワンタイムパスワードのお知らせ."""
    return re.search(r"\b(\d{6})\b", outbox(settings)[-1].get_body(("plain",)).get_content()).group(1)


def test_an_imported_member_walks_every_step_of_the_guide_and_lands_on_the_portal_signed_in(
        app, client, database, settings, imported_member):
    verifier, challenge = pkce_pair()
    page = shown(authorize(client, challenge))
    assert_screen(page, "ログイン", labels=["ユーザID", "パスワード"], buttons=["ログイン"])

    page = shown(press(client, page, username=INITIAL_ID, password=INITIAL_PASSWORD))
    assert_screen(page, "生年月日の入力", labels=["生年月日", "年", "月", "日"], buttons=["実行"])

    page = shown(press(client, page, year="1980", month="4", day="1"))
    assert_screen(page, "利用規約", buttons=["同意する"])

    page = shown(press(client, page, decision="agree"))
    assert_screen(page, "メールアドレスの更新", labels=["メールアドレス"], buttons=["実行"])
    assert 'value="k0012345@example.jp"' in page

    page = shown(press(client, page, email=NEW_EMAIL))
    assert_screen(page, "メール認証", buttons=["更新", "再送信"])
    assert "hanako.yamada@example.jp 宛に確認のメールを送信しました。" in page

    [mail] = outbox(settings)
    assert mail["To"] == "hanako.yamada@example.jp"
    [link] = find_links(mail.get_body(("plain",)).get_content())
    assert re.search(rf'<a [^>]*href="{re.escape(link)}"[^>]*>\s*メールアドレスの確認\s*</a>',
                     unescape(mail.get_body(("html",)).get_content()))
    poll_url = unescape(re.search(r'data-poll-url="([^"]+)"', page).group(1))
    assert client.get(poll_url).get_json() == {"needed": True}

    another_browser = app.test_client()
    assert "メールアドレスの確認が完了しました。" in shown(another_browser.get(link))
    assert client.get(poll_url).get_json() == {"needed": False}

    page = shown(client.get(form_action(page)))  # the first tab reloads (step-poll.js does the same)
    assert_screen(page, "ユーザーIDの変更・認証方法の設定",
                  labels=["ユーザーID *", "認証方法 *", "ワンタイムパスワード (OTP) アプリ認証",
                          "ワンタイムパスワード (OTP) メール認証"],
                  buttons=["実行"])
    assert "<summary>利用不可文字一覧を見る</summary>" in page

    page = shown(press(client, page, user_id=NEW_ID, second_factor="email"))
    assert_screen(page, "パスワード更新", labels=["新しいパスワード", "新しいパスワード（確認）"], buttons=["送信"])

    # The factor chosen at step 9 is used once at the end of the first sign-in: a code by email.
    page = shown(press(client, page, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD))
    assert_screen(page, "ワンタイムパスワード (OTP) メール認証", labels=["ワンタイムパスワード"],
                  buttons=["実行", "再送信"])
    back = press(client, page, code=mailed_code(settings), action="verify")
    assert back.headers["Location"].startswith(CALLBACK + "?")
    tokens = exchange(client, redirect_params(back)["code"], verifier).get_json()
    assert claims_of(client, tokens["id_token"])["preferred_username"] == NEW_ID.lower()

    with database.session() as session:
        member = session.get(User, imported_member)
        assert member.birthdate_verified_at is not None
        assert member.email == "hanako.yamada@example.jp" and member.email_verified
        assert member.username == "hanako-2026" and member.user_id_chosen_at is not None
        assert member.second_factor == "email"
        assert member.first_login_completed_at is not None
        [password] = session.scalars(select(Credential).where(Credential.user_id == member.id,
                                                               Credential.type == "password")).all()
        assert not password.temporary
        [accepted] = session.scalars(select(TermsAcceptance).where(TermsAcceptance.user_id == member.id)).all()
        assert accepted.version == realm_config(find_realm(session, REALM)).terms.version

    # The next sign-in, in a fresh browser: the password, then the factor chosen at step 9 (the
    # code by email), and back to the portal; none of the first-sign-in steps again.
    next_time = app.test_client()
    page = shown(authorize(next_time, pkce_pair()[1]))
    page = shown(press(next_time, page, username=NEW_ID, password=NEW_PASSWORD))
    assert_screen(page, "ワンタイムパスワード (OTP) メール認証", labels=["ワンタイムパスワード"],
                  buttons=["実行", "再送信"])
    assert "code" in redirect_params(press(next_time, page, code=mailed_code(settings), action="verify"))
