"""Passkeys in Chromium with its virtual authenticator (docs/member-screens.md §4): a member registers one from the
demo portal and names it, then signs in with it the next time; each time the browser's dialog
fails first and 再試行してください leads back to the step. Served at http://localhost:PORT, since
WebAuthn refuses IP-address origins.

The realm requires user verification here, so an authenticator that cannot verify the member
makes the browser's dialog fail as a cancelled one does.
"""
from __future__ import annotations

import shutil

import pytest

from idp.config import CHECKOUT
from tests.support.browser import DESKTOP, VirtualAuthenticator, portal_for
from tests.support.servers import IdpServer

pytestmark = pytest.mark.browser

USER_ID, PASSWORD = "kosmo0001", "Initial-2025"
FLOW = """flow: passkeys
steps:
  - authenticate: password
  - authenticate: passkey
  - action: webauthn-register
    if: no-second-factor
"""


@pytest.fixture(scope="module")
def passkey_idp(tmp_path_factory):
    """The identity provider running the flow above, its realm requiring user verification."""
    folder = tmp_path_factory.mktemp("passkeys")
    flows = folder / "flows"
    shutil.copytree(CHECKOUT / "flows", flows)
    (flows / "passkeys.yaml").write_text(FLOW, encoding="utf-8")
    server = IdpServer(folder, browser_flow="passkeys", env={"IDP_FLOWS_DIR": str(flows)})
    realm_file = server.folder / "realm-config" / "kosmo-demo.yaml"
    realm_file.write_text(realm_file.read_text(encoding="utf-8") + "webauthn:\n  user_verification: required\n",
                          encoding="utf-8")
    with server:
        server.add_member(USER_ID, PASSWORD, first_name="太郎", last_name="山田")
        yield server


@pytest.fixture(scope="module")
def passkey_portal(passkey_idp):
    with portal_for(passkey_idp) as portal:
        yield portal


def sign_in_with_password(page, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True).click()
    page.get_by_label("ユーザID").fill(USER_ID)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()


def test_a_member_registers_a_passkey_and_signs_in_with_it_each_after_a_failed_dialog(
        browser, passkey_idp, passkey_portal):
    from playwright.sync_api import expect

    context = browser.new_context(locale="ja-JP", **DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    device = VirtualAuthenticator(page)
    sign_in_with_password(page, passkey_portal.url)

    expect(page.get_by_role("heading", name="セキュリティの設定", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="セキュリティキーの登録")).to_be_visible()
    expect(page.get_by_label("全てのデバイスからサインアウトする")).not_to_be_checked()
    device.verifies_the_member(False)
    page.get_by_role("button", name="登録").click()

    expect(page.get_by_role("alert")).to_have_text("生体認証を完了できませんでした。")
    device.verifies_the_member(True)
    page.get_by_role("button", name="再試行してください").click()
    page.get_by_role("button", name="登録").click()

    expect(page.get_by_role("heading", name="セキュリティキーの登録", level=1)).to_be_visible()
    label = page.get_by_label("パスキーの名前")
    expect(label).to_have_value("パスキー")
    label.fill("テスト用パソコン")
    page.get_by_role("button", name="OK").click()

    expect(page).to_have_url(passkey_portal.url + "/")
    [passkey] = device.passkeys()
    assert passkey["isResidentCredential"] and passkey["rpId"] == "localhost"

    context.clear_cookies()
    sign_in_with_password(page, passkey_portal.url)
    expect(page.get_by_role("heading", name="生体認証", level=1)).to_be_visible()
    device.verifies_the_member(False)
    page.get_by_role("button", name="生体認証でログイン").click()
    expect(page.get_by_role("alert")).to_have_text("生体認証を完了できませんでした。")
    device.verifies_the_member(True)
    page.get_by_role("button", name="再試行してください").click()
    page.get_by_role("button", name="生体認証でログイン").click()

    expect(page).to_have_url(passkey_portal.url + "/")
    assert device.passkeys()[0]["signCount"] >= 1
    context.close()
