"""A member's first sign-in from the demo portal, screen by screen as the guide shows it (docs/member-screens.md §2
steps 4–11) and on to setting up the chosen second factor, on a desktop and on a phone, with the
mail caught by an SMTP server."""
from __future__ import annotations

import re
from html import unescape

import pytest

from idp.mail import find_links
from tests.support.browser import (
    APP_SETUP_HEADING,
    EMAIL_CODE_HEADING,
    Guide,
    expect_signed_in,
    set_up_the_app,
    type_the_mailed_code,
)
from tests.support.mail import html_part, text_part

pytestmark = pytest.mark.browser

INITIAL_PASSWORD = "Init-Pass-0001"
NEW_PASSWORD = "Sakura_2026-spring"
# One member per screen: the desktop member keeps the society's address and picks the app,
# the phone member types a new address and picks codes by mail; each sets theirs up at the end.
NEWCOMERS = {
    "desktop": {"user_id": "k0010001", "last_name": "山田", "first_name": "太郎", "birthdate": (1980, 4, 1),
                "email": "k0010001@kosmo-demo.example", "new_email": None,
                "new_user_id": "YAMADA-TARO", "second_factor": "ワンタイムパスワード (OTP) アプリ認証",
                "setup": APP_SETUP_HEADING},
    "phone": {"user_id": "k0010002", "last_name": "鈴木", "first_name": "花子", "birthdate": (1992, 11, 30),
              "email": "k0010002@kosmo-demo.example", "new_email": "Hanako.Suzuki@example.jp",
              "new_user_id": "SUZUKI.HANAKO", "second_factor": "ワンタイムパスワード (OTP) メール認証",
              "setup": EMAIL_CODE_HEADING},
}
POLL_SECONDS = 5


@pytest.fixture
def newcomer(request, journey_idp_server) -> dict:
    """A member as the society's CSV import leaves them: a temporary password and a birthdate."""
    member = NEWCOMERS[request.node.callspec.id]
    year, month, day = member["birthdate"]
    journey_idp_server.add_member(
        member["user_id"], INITIAL_PASSWORD, first_name=member["first_name"], last_name=member["last_name"],
        email=member["email"], birthdate=f"{year:04}-{month:02}-{day:02}", temporary=True)
    return member


def test_a_newcomer_follows_the_guide_from_the_portal_and_ends_on_it_signed_in(
        browser, page, press, journey_idp_server, journey_portal_server, mail_catcher,
        newcomer, tmp_path):
    from playwright.sync_api import expect

    guide = Guide(page, tmp_path)
    page.goto(journey_portal_server.url + "/")
    press(page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True))

    guide.expect_screen("ログイン")
    page.get_by_label("ユーザID").fill(newcomer["user_id"])
    page.get_by_label("パスワード", exact=True).fill(INITIAL_PASSWORD)
    press(page.get_by_role("button", name="ログイン", exact=True))

    guide.expect_screen("生年月日の入力")
    birthdate = page.get_by_role("group", name="生年月日")
    for label, number in zip(("年", "月", "日"), newcomer["birthdate"], strict=True):
        birthdate.get_by_label(label, exact=True).fill(str(number))
    press(page.get_by_role("button", name="実行"))

    guide.expect_screen("利用規約")
    expect(page.get_by_role("region", name="利用規約")).to_contain_text("第1条（目的）")
    press(page.get_by_role("button", name="同意する"))

    guide.expect_screen("メールアドレスの更新")
    address = page.get_by_label("メールアドレス")
    expect(address).to_have_value(newcomer["email"])
    if newcomer["new_email"]:
        address.fill(newcomer["new_email"])
    press(page.get_by_role("button", name="実行"))

    guide.expect_screen("メール認証")
    mailed_to = (newcomer["new_email"] or newcomer["email"]).lower()
    expect(page.get_by_text(f"{mailed_to} 宛に確認のメールを送信しました。")).to_be_visible()
    link = confirmation_link(mail_catcher.wait_for_mail(mailed_to))

    # The member opens the mail on another device: a browser that knows nothing of this sign-in.
    other_browser = browser.new_context(locale="ja-JP")
    try:
        elsewhere = other_browser.new_page()
        elsewhere.goto(link)
        expect(elsewhere.get_by_role("status")).to_have_text(
            "メールアドレスの確認が完了しました。元の画面に戻り、画面を更新してください。")
    finally:
        other_browser.close()

    # Back in the first tab: the light poll notices within one period and continues by itself.
    guide.expect_screen("ユーザーIDの変更・認証方法の設定", timeout=(3 * POLL_SECONDS) * 1000)
    page.get_by_label("ユーザーID").fill(newcomer["new_user_id"])
    forbidden = page.get_by_text("以下の文字はユーザーIDに利用できません：")
    expect(forbidden).to_be_hidden()
    press(page.get_by_text("利用不可文字一覧を見る"))
    expect(forbidden).to_be_visible()
    expect(page.get_by_text("空白文字 (スペース、タブ、改行など)")).to_be_visible()
    # Headless Chromium has no platform authenticator, so 生体認証 is not offered.
    expect(page.get_by_label("生体認証")).to_be_hidden()
    page.get_by_label(newcomer["second_factor"]).check()
    guide.expect_screen("ユーザーIDの変更・認証方法の設定")
    press(page.get_by_role("button", name="実行"))

    guide.expect_screen("パスワード更新")
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認）").fill(NEW_PASSWORD)
    press(page.get_by_role("button", name="送信"))

    # Last, the factor chosen at step 9 is set up: the app with its code, mail with a mailed code.
    if newcomer["setup"] == APP_SETUP_HEADING:
        set_up_the_app(page, press, guide, device_name="わたしのスマートフォン")
    else:
        # The code comes in the second mail to the address, after the confirmation.
        type_the_mailed_code(page, press, guide, mail_catcher, mailed_to, mails_before=1)

    expect_signed_in(page, journey_portal_server.url, f"{newcomer['last_name']} {newcomer['first_name']}")
    page.screenshot(path=tmp_path / "99-portal.png", full_page=True)


def confirmation_link(mail) -> str:
    """The mail's one link: behind the メールアドレスの確認 button, and plain in the text part."""
    [link] = find_links(text_part(mail))
    buttons = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>\s*メールアドレスの確認\s*</a>', html_part(mail))
    assert [unescape(href) for href in buttons] == [link]
    return link
