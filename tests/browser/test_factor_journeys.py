"""The guide's three journeys in Chromium, each from the demo portal: the first sign-in ends by
setting up the member's second factor (a passkey, an authenticator app, codes by mail), they sign
out, and the next sign-in asks for that factor right after the password.

The members start with steps 4–8 of the first sign-in done (prepared in the database, see
prepare_member in tests/support/browser.py); test_first_sign_in.py walks those screens.
"""
from __future__ import annotations

import pytest

from tests.support.browser import (
    DESKTOP,
    PHONE,
    Guide,
    VirtualAuthenticator,
    expect_signed_in,
    keep_the_address,
    prepare_member,
    register_a_passkey,
    set_up_the_app,
    sign_in_with_password,
    sign_in_with_the_passkey,
    sign_out,
    type_the_apps_code,
    type_the_mailed_code,
)

pytestmark = pytest.mark.browser

PASSWORD = "Kenpo_journey-2026"


class PasskeyJourney:
    """生体認証: the device's own authenticator makes the passkey and, the next time, signs in with it."""

    second_factor = "passkey"

    def __init__(self, page, press, guide, mail_catcher, address):
        self.page, self.press, self.guide = page, press, guide
        self.device = VirtualAuthenticator(page)

    def set_up(self) -> None:
        register_a_passkey(self.page, self.press, self.guide)

    def use(self) -> None:
        [passkey] = self.device.passkeys()
        assert passkey["rpId"] == "localhost" and passkey["isResidentCredential"]
        sign_in_with_the_passkey(self.page, self.press, self.guide)

    def check(self) -> None:
        [passkey] = self.device.passkeys()
        assert passkey["signCount"] >= 1


class AppJourney:
    """ワンタイムパスワード (OTP) アプリ認証: pyotp plays the app on the member's phone."""

    second_factor = "totp"

    def __init__(self, page, press, guide, mail_catcher, address):
        self.page, self.press, self.guide = page, press, guide

    def set_up(self) -> None:
        self.key = set_up_the_app(self.page, self.press, self.guide, device_name="わたしのスマートフォン")

    def use(self) -> None:
        type_the_apps_code(self.page, self.press, self.guide, self.key)

    def check(self) -> None:
        pass


class EmailJourney:
    """ワンタイムパスワード (OTP) メール認証: the verified address is the device; each sign-in mails a code."""

    second_factor = "email"

    def __init__(self, page, press, guide, mail_catcher, address):
        self.page, self.press, self.guide = page, press, guide
        self.catcher, self.address = mail_catcher, address
        self.codes_read = 0  # the code is mailed as the page appears: count what was read, not what came

    def set_up(self) -> None:
        self.use()

    def use(self) -> None:
        type_the_mailed_code(self.page, self.press, self.guide, self.catcher, self.address, self.codes_read)
        self.codes_read += 1

    def check(self) -> None:
        assert len(self.catcher.mails_to(self.address)) == 2, "one code mailed per sign-in"


JOURNEYS = [
    pytest.param(PasskeyJourney, "j-passkey", DESKTOP, id="passkey-desktop"),
    pytest.param(AppJourney, "j-app", DESKTOP, id="app-desktop"),
    pytest.param(EmailJourney, "j-email", DESKTOP, id="email-desktop"),
    pytest.param(AppJourney, "j-app-phone", PHONE, id="app-phone"),
]


@pytest.mark.parametrize("journey, user_id, screen", JOURNEYS)
def test_a_member_sets_up_the_factor_at_the_first_sign_in_and_signs_in_with_it_the_next_time(
        journey, user_id, screen, page, press, journey_idp_server, journey_portal_server,
        mail_catcher, tmp_path):
    address = f"{user_id}@kosmo-demo.example"
    name = "佐藤 一郎"
    prepare_member(journey_idp_server, user_id, PASSWORD, second_factor=journey.second_factor,
                   last_name="佐藤", first_name="一郎", email=address)
    portal = journey_portal_server.url
    guide = Guide(page, tmp_path)
    member = journey(page, press, guide, mail_catcher, address)

    sign_in_with_password(page, press, portal, user_id, PASSWORD, guide)
    keep_the_address(page, press, guide)
    member.set_up()
    expect_signed_in(page, portal, name)

    sign_out(page, press, portal, name)

    sign_in_with_password(page, press, portal, user_id, PASSWORD, guide)
    member.use()
    expect_signed_in(page, portal, name)
    member.check()
