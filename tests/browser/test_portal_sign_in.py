"""A member signs in to the demo portal through the identity provider and signs out, in Chromium."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def header_login(page):
    return page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True)


def expect_sign_in_page(page, idp_url: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(re.escape(idp_url) + "/"))
    expect(page.get_by_role("heading", name="ログイン", level=1)).to_be_visible()
    expect(page.get_by_label("ユーザID")).to_be_visible()
    expect(page.get_by_label("パスワード", exact=True)).to_be_visible()


def test_member_signs_in_at_the_idp_sees_the_name_and_signs_out_for_real(
        page, press, idp_server, portal_server, member, tmp_path):
    from playwright.sync_api import expect

    page.goto(portal_server.url + "/")
    press(header_login(page))

    expect_sign_in_page(page, idp_server.url)
    expect(page).to_have_title(re.compile("^ログイン"))
    expect(page.get_by_label("ログイン状態の保存")).not_to_be_checked()
    expect(page.get_by_role("link", name="パスワードを忘れた方はこちら")).to_be_visible()
    expect(page.get_by_role("link", name="ユーザIDを忘れた方はこちら")).to_be_visible()
    expect(page.get_by_role("link", name="ポータルに戻る")).to_have_attribute("href", portal_server.url + "/")

    password = page.get_by_label("パスワード", exact=True)
    expect(password).to_have_attribute("type", "password")
    press(page.get_by_role("button", name="パスワードを表示"))
    expect(password).to_have_attribute("type", "text")
    press(page.get_by_role("button", name="パスワードを隠す"))
    expect(password).to_have_attribute("type", "password")

    page.get_by_label("ユーザID").fill(member["username"])
    password.fill("not-" + member["password"])
    press(page.get_by_role("button", name="ログイン", exact=True))
    expect(page.get_by_role("alert")).to_have_text("ユーザIDまたはパスワードが正しくありません。")
    expect_sign_in_page(page, idp_server.url)

    page.get_by_label("ユーザID").fill(member["username"])
    page.get_by_label("パスワード", exact=True).fill(member["password"])
    press(page.get_by_role("button", name="ログイン", exact=True))

    expect(page).to_have_url(portal_server.url + "/")
    name_button = page.get_by_role("banner").get_by_role("link", name=re.compile("山田 太郎 さん"))
    expect(name_button).to_have_text("山田 太郎 さん")
    expect(header_login(page)).to_have_count(0)

    press(name_button)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("ログアウトしてもよろしいですか？")
    press(dialog.get_by_role("button", name="ログアウトする"))

    expect(page).to_have_url(re.compile(re.escape(portal_server.url) + "/"))
    expect(page.get_by_role("status")).to_have_text("ログアウトしました。")
    expect(name_button).to_have_count(0)
    press(header_login(page))

    # Had the identity provider kept its session, this would sign in again without asking.
    expect_sign_in_page(page, idp_server.url)
    expect(page.get_by_label("ユーザID")).to_be_empty()
    page.screenshot(path=tmp_path / "sign-in-again.png", full_page=True)
