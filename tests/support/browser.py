"""What a member does in the browser on the guide's journeys, shared by the browser tests: the
screen sizes, signing in from the demo portal, setting up and using each second factor, signing
out; and a member prepared in the IdP's database as if steps 4–8 of the first sign-in were done."""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from idp.db import Database
from idp.db.models import Realm, TermsAcceptance, User
from tests.support.mail import MailCatcher, text_part
from tests.support.servers import REALM, IdpServer, PortalServer

SIGN_IN_HEADING = "ログイン"
APP_SETUP_HEADING = "ワンタイムパスワードの設定"
EMAIL_CODE_HEADING = "ワンタイムパスワード (OTP) メール認証"
PASSKEY_SETUP_HEADING = "セキュリティの設定"
PASSKEY_HEADING = "生体認証"


class Guide:
    """The member following the guide: checks each screen's heading, fits it on the screen, keeps a picture."""

    def __init__(self, page, folder):
        self.page, self.folder, self.count = page, folder, 0

    def expect_screen(self, heading: str, *, timeout: float = 10_000) -> None:
        from playwright.sync_api import expect

        expect(self.page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=timeout)
        # Nothing may stick out sideways: a phone would have to scroll to reach it.
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{heading}: {overflow} px wider than the screen"
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02}-{heading}.png", full_page=True)


class VirtualAuthenticator:
    """The platform authenticator of the member's device (Chromium's, over the DevTools protocol).
    Each one is a device of its own: passkeys made on one are not on another."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True}})["authenticatorId"]

    def verifies_the_member(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})

    def passkeys(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def put_away(self) -> None:
        """The member puts this device away: the browser no longer reaches it."""
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def prepare_member(server: IdpServer, user_id: str, password: str, *, second_factor: str,
                   last_name: str, first_name: str, email: str) -> None:
    """A member whose first sign-in is done up to the factor's setup: birthdate verified, current
    terms accepted, address verified, user ID chosen with `second_factor`, a password of their own.
    Only メールアドレスの更新 (every first sign-in) and the factor's setup are left."""
    server.add_member(user_id, password, first_name=first_name, last_name=last_name, email=email,
                      birthdate="1985-06-15")
    database = Database(server.env["IDP_DATABASE_URL"])
    try:
        with database.session() as session:
            realm = session.scalars(select(Realm).where(Realm.name == REALM)).one()
            member = session.scalars(select(User).where(User.realm_id == realm.id,
                                                        User.username == user_id.lower())).one()
            now = datetime.now(UTC)
            member.birthdate_verified_at = member.user_id_chosen_at = now
            member.email_verified = True
            member.second_factor = second_factor
            member.first_login_completed_at = None
            session.add(TermsAcceptance(user_id=member.id, version=realm.config["terms"]["version"],
                                        accepted_at=now))
    finally:
        database.dispose()


def sign_in_with_password(page, press, portal_url: str, user_id: str, password: str, guide: Guide) -> None:
    """From the portal's ログイン to the identity provider's sign-in page, user ID and password."""
    page.goto(portal_url + "/")
    press(page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True))
    guide.expect_screen(SIGN_IN_HEADING)
    page.get_by_label("ユーザID").fill(user_id)
    page.get_by_label("パスワード", exact=True).fill(password)
    press(page.get_by_role("button", name="ログイン", exact=True))


def keep_the_address(page, press, guide: Guide) -> None:
    """メールアドレスの更新, shown at every first sign-in: the member keeps the address shown."""
    from playwright.sync_api import expect

    guide.expect_screen("メールアドレスの更新")
    expect(page.get_by_label("メールアドレス")).not_to_be_empty()
    press(page.get_by_role("button", name="実行"))


def set_up_the_app(page, press, guide: Guide, device_name: str) -> str:
    """ワンタイムパスワードの設定 with pyotp as the phone's app: the key behind スキャンできませんか?,
    typed lower-case as a member might, then the app's code and a device name. Returns the key."""
    import pyotp
    from playwright.sync_api import expect

    guide.expect_screen(APP_SETUP_HEADING)
    key_text = page.locator("#totp-key")
    expect(key_text).to_be_hidden()
    press(page.get_by_role("link", name="スキャンできませんか?"))
    expect(key_text).to_be_visible()
    guide.expect_screen(APP_SETUP_HEADING)
    key = re.sub(r"\s", "", key_text.inner_text()).lower()
    page.get_by_label("ワンタイムパスワード").fill(pyotp.TOTP(key).now())
    page.get_by_label("デバイス名").fill(device_name)
    press(page.get_by_role("button", name="実行"))
    return key


def type_the_apps_code(page, press, guide: Guide, key: str) -> None:
    """The app's code at sign-in: the next 30-second step's, so the setup's code is never replayed."""
    import pyotp

    guide.expect_screen("ワンタイムパスワード")
    page.get_by_label("ワンタイムパスワード", exact=True).fill(pyotp.TOTP(key).at(time.time() + 30))
    press(page.get_by_role("button", name="ログイン", exact=True))


def type_the_mailed_code(page, press, guide: Guide, catcher: MailCatcher, address: str, mails_before: int) -> None:
    """ワンタイムパスワード (OTP) メール認証: the code from the newest mail, as the member reads it."""
    guide.expect_screen(EMAIL_CODE_HEADING)
    mail = catcher.wait_for_mail(address, after=mails_before)
    assert mail["Subject"].endswith("ワンタイムパスワードのお知らせ"), mail["Subject"]
    code = re.search(r"^(\d{6})$", text_part(mail), re.M)[1]
    page.get_by_label("ワンタイムパスワード", exact=True).fill(code)
    press(page.get_by_role("button", name="実行"))


def register_a_passkey(page, press, guide: Guide, label: str | None = None) -> None:
    """セキュリティの設定 → 登録 (the device's dialog passes) → the name, パスキー unless `label` → OK."""
    from playwright.sync_api import expect

    guide.expect_screen(PASSKEY_SETUP_HEADING)
    expect(page.get_by_role("heading", name="セキュリティキーの登録")).to_be_visible()
    press(page.get_by_role("button", name="登録"))
    guide.expect_screen("セキュリティキーの登録")
    name = page.get_by_label("パスキーの名前")
    expect(name).to_have_value("パスキー")
    if label is not None:
        name.fill(label)
    press(page.get_by_role("button", name="OK"))


def sign_in_with_the_passkey(page, press, guide: Guide) -> None:
    guide.expect_screen(PASSKEY_HEADING)
    press(page.get_by_role("button", name="生体認証でログイン"))


def expect_signed_in(page, portal_url: str, name: str) -> None:
    """Back on the portal's front page, the member's name in the header."""
    from playwright.sync_api import expect

    expect(page).to_have_url(portal_url + "/")
    expect(page.get_by_role("banner").get_by_role("link", name=f"{name} さん")).to_be_visible()


def sign_out(page, press, portal_url: str, name: str) -> None:
    """The name in the header → ログアウトしてもよろしいですか？ → ログアウトする, back on the portal."""
    from playwright.sync_api import expect

    press(page.get_by_role("banner").get_by_role("link", name=f"{name} さん"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("ログアウトしてもよろしいですか？")
    press(dialog.get_by_role("button", name="ログアウトする"))
    expect(page).to_have_url(re.compile(re.escape(portal_url) + "/"))
    expect(page.get_by_role("status")).to_have_text("ログアウトしました。")


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}


MEMBER = {
    "username": "yamada-taro",
    "password": "kenpo-yamada-2026",
    "first_name": "太郎",
    "last_name": "山田",
    "email": "yamada-taro@kosmo-demo.example",
    "birthdate": "1980-04-01",
}


@contextmanager
def portal_for(idp: IdpServer):
    """The demo portal signing in at `idp`, on the port its portal client expects."""
    with PortalServer(idp.url, idp.portal_port, idp.outbox_dir, log_dir=idp.folder) as server:
        yield server
