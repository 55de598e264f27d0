"""パスワードを忘れた方はこちら in Chromium: from the portal's sign-in page to the mail, its link,
the date of birth and a new password, and back at the portal signed in."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from idp.db import Database
from idp.db.models import User
from tests.support.browser import Guide, expect_signed_in, prepare_member
from tests.support.mail import text_part

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Ichou-2026-autumn"


def settled_member(server, user_id: str, email: str) -> None:
    """A member past the first sign-in (birthdate 1985-06-15), who has no second factor yet."""
    prepare_member(server, user_id, "Forgotten-0001", second_factor="", last_name="佐藤", first_name="花子",
                   email=email)
    database = Database(server.env["IDP_DATABASE_URL"])
    try:
        with database.session() as session:
            member = session.query(User).filter(User.username == user_id).one()
            member.first_login_completed_at = datetime.now(UTC)
            member.second_factor = None
    finally:
        database.dispose()


def test_a_member_who_forgot_the_password_sets_a_new_one_from_the_mail_and_is_back_at_the_portal(
        screen, page, press, journey_idp_server, journey_portal_server, mail_catcher, tmp_path):
    from playwright.sync_api import expect

    user_id = f"sato-{'phone' if screen.get('is_mobile') else 'desk'}"
    address = f"{user_id}@kosmo-demo.example"
    settled_member(journey_idp_server, user_id, address)
    guide = Guide(page, tmp_path)

    page.goto(journey_portal_server.url + "/")
    press(page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True))
    guide.expect_screen("ログイン")
    press(page.get_by_role("link", name="パスワードを忘れた方はこちら"))

    guide.expect_screen("パスワードの再設定")
    page.get_by_label("ユーザIDまたはメールアドレス").fill(user_id)
    press(page.get_by_role("button", name="送信"))
    guide.expect_screen("パスワードの再設定")
    expect(page.get_by_role("status")).to_contain_text("パスワード再設定のご案内を送信しました")

    mail = mail_catcher.wait_for_mail(address)
    assert mail["Subject"].endswith("パスワード再設定のご案内"), mail["Subject"]
    link = re.search(r"^(http://\S+)$", text_part(mail), re.M)[1]
    page.goto(link)

    guide.expect_screen("生年月日の入力")
    page.get_by_label("年", exact=True).fill("1985")
    page.get_by_label("月", exact=True).fill("6")
    page.get_by_label("日", exact=True).fill("15")
    press(page.get_by_role("button", name="実行"))

    guide.expect_screen("パスワード更新")
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認）").fill(NEW_PASSWORD)
    press(page.get_by_role("button", name="送信"))

    expect_signed_in(page, journey_portal_server.url, "佐藤 花子")
