"""Passkeys on the account pages in Chromium (the guide's 【6】多要素認証の追加登録): a member with a
passkey adds one from a second device through kc_action (the same device refuses, and キャンセル
changes nothing), removes one, and may not remove the last while the realm requires a second factor.

Each of Chromium's virtual authenticators is one device. A new passkey for the same member on the
same device is refused by the browser (the existing one is in excludeCredentials), so the second
passkey is made on a second authenticator after the first one is put away.
"""
from __future__ import annotations

import re

import pytest

from tests.support.browser import (
    Guide,
    VirtualAuthenticator,
    expect_signed_in,
    keep_the_address,
    prepare_member,
    register_a_passkey,
    sign_in_with_password,
)
from tests.support.servers import REALM

pytestmark = pytest.mark.browser

PASSWORD = "Kenpo_account-2026"
NAME = "高橋 次郎"
PASSKEY = "生体認証（パスキー）"


def test_a_member_adds_a_passkey_from_a_second_device_removes_one_and_keeps_the_last(
        screen, page, press, journey_idp_server, journey_portal_server, tmp_path):
    from playwright.sync_api import expect

    user_id = f"a-passkeys-{screen['viewport']['width']}"
    prepare_member(journey_idp_server, user_id, PASSWORD, second_factor="passkey",
                   last_name="高橋", first_name="次郎", email=f"{user_id}@kosmo-demo.example")
    guide = Guide(page, tmp_path)
    computer = VirtualAuthenticator(page)
    sign_in_with_password(page, press, journey_portal_server.url, user_id, PASSWORD, guide)
    keep_the_address(page, press, guide)
    register_a_passkey(page, press, guide, label="パソコン")
    expect_signed_in(page, journey_portal_server.url, NAME)

    page.goto(f"{journey_idp_server.url}/realms/{REALM}/account/security")
    guide.expect_screen("多要素認証・ログイン方法")
    expect(passkeys_listed(page)).to_have_count(1)

    # The same device holds a passkey for this member already: the browser refuses a second one.
    press(page.get_by_role("button", name=f"{PASSKEY}を追加する"))
    guide.expect_screen("セキュリティの設定")
    press(page.get_by_role("button", name="登録"))
    expect(page.get_by_role("alert")).to_be_visible()
    press(page.get_by_role("button", name="キャンセル"))
    guide.expect_screen("多要素認証・ログイン方法")
    expect(page.get_by_role("status")).to_have_text("手続きを中止しました。ご登録内容は変更されていません。")
    expect(passkeys_listed(page)).to_have_count(1)

    # So the member adds it from another device.
    computer.put_away()
    phone = VirtualAuthenticator(page)
    press(page.get_by_role("button", name=f"{PASSKEY}を追加する"))
    register_a_passkey(page, press, guide, label="スマートフォン")

    guide.expect_screen("多要素認証・ログイン方法")
    expect(page.get_by_role("status")).to_have_text("生体認証（パスキー）を登録しました。")
    expect(passkeys_listed(page)).to_have_count(2)
    assert len(phone.passkeys()) == 1
    for label in ("パソコン", "スマートフォン"):
        expect(page.get_by_role("button", name=f"{PASSKEY}「{label}」を削除")).to_be_visible()

    press(page.get_by_role("button", name=f"{PASSKEY}「パソコン」を削除"))
    guide.expect_screen("認証方法の削除")
    expect(page.get_by_text("削除してもよろしいですか？")).to_be_visible()
    expect(page.get_by_text("パソコン", exact=True)).to_be_visible()
    press(page.get_by_role("button", name="削除する"))

    guide.expect_screen("多要素認証・ログイン方法")
    expect(page.get_by_role("status")).to_have_text("認証方法を削除しました。")
    expect(passkeys_listed(page)).to_have_count(1)
    expect(page.get_by_role("button", name=f"{PASSKEY}「パソコン」を削除")).to_have_count(0)

    press(page.get_by_role("button", name=f"{PASSKEY}「スマートフォン」を削除"))
    guide.expect_screen("認証方法の削除")
    expect(page.get_by_role("alert")).to_have_text(
        "認証方法は最低1つ必要なため、この認証方法は削除できません。先に別の認証方法を追加してから削除してください。")
    expect(page.get_by_role("button", name="削除する")).to_have_count(0)
    press(page.get_by_role("button", name="多要素認証・ログイン方法に戻る"))
    guide.expect_screen("多要素認証・ログイン方法")
    expect(passkeys_listed(page)).to_have_count(1)


def passkeys_listed(page):
    """The passkeys under 登録済みの認証方法, one section each."""
    return page.locator("section.factor").filter(has=page.get_by_role("heading", name=re.compile(PASSKEY)))
