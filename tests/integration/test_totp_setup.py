"""A member sets up an authenticator app at sign-in (docs/member-screens.md §5), pyotp playing the phone with the key
read off the page, then signs in with it; codes are spent once, devices picked by name."""
from __future__ import annotations

import re
import time

import pyotp
import pytest

from idp.db.models import Credential, User
from idp.security.secret_box import encrypt
from tests.support.factors import key_behind_unable_to_scan
from tests.support.sign_in import (
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    submit_sign_in,
)
from tests.support.steps import demo_society

# Keycloak's conditional OTP, with the setup for members who have no app yet.
STEPS = """\
  - authenticate: otp
    if: otp-configured
  - action: configure-totp
    if:
      not: otp-configured
"""
USER_ID, PASSWORD = "yamada-otp01", "sakura-2024-spring"
WRONG_CODE = "認証コードが異なります"


class Society:
    """The demo society running the flow above, with one member; `realm` updates its YAML."""

    def __init__(self, tmp_path, realm: dict | None = None):
        self.settings, self.database, self.app = demo_society(tmp_path, STEPS, realm)
        self.user_id = add_member(self.database, self.settings, USER_ID, PASSWORD)

    def sign_in(self) -> tuple:
        """A fresh browser signs in with the password: (client, the next page's HTML)."""
        client = self.app.test_client()
        page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
        return client, submit_sign_in(client, page, username=USER_ID, password=PASSWORD).get_data(as_text=True)

    def add_device(self, label: str, secret: str, secret_key: str | None = None) -> str:
        with self.database.session() as session:
            device = Credential(type="otp", user_label=label,
                                secret_data={"value": encrypt(secret, secret_key or self.settings.secret_key)},
                                credential_data={"subType": "totp", "digits": 6, "period": 30, "counter": 0,
                                                 "algorithm": "HmacSHA1", "secretEncoding": "BASE32"})
            member = session.get(User, self.user_id)
            member.credentials.append(device)
            session.flush()
            return device.id


@pytest.fixture
def society(tmp_path):
    society = Society(tmp_path)
    yield society
    society.database.dispose()


def submit(client, page: str, **fields):
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    return follow_step(client, client.post(form_action(page), data={**data, **fields}))


def signed_in(response) -> bool:
    return response.status_code == 302 and "code=" in response.headers["Location"]


def test_a_member_sets_up_their_app_from_the_key_and_signs_in_with_it_next_time(society):
    client, page = society.sign_in()
    assert "ワンタイムパスワードの設定" in page
    phone = pyotp.TOTP(key_behind_unable_to_scan(page))
    setup_code = phone.now()
    assert signed_in(submit(client, page, totp=setup_code, userLabel="私のiPhone"))

    second_browser, page = society.sign_in()
    assert 'autocomplete="one-time-code"' in page and "ワンタイムパスワードの設定" not in page
    replay = submit(second_browser, page, device=hidden_value(page, "device"), otp=setup_code)
    assert replay.status_code == 401 and WRONG_CODE in replay.get_data(as_text=True)
    page = replay.get_data(as_text=True)
    next_code = phone.at(time.time() + 30)  # the app's next code, already within the window
    assert signed_in(submit(second_browser, page, device=hidden_value(page, "device"), otp=next_code))


def test_a_wrong_code_and_a_missing_device_name_are_told_and_the_same_key_stays(society):
    client, page = society.sign_in()
    key = key_behind_unable_to_scan(page)
    phone = pyotp.TOTP(key)
    wrong = submit(client, page, totp=phone.at(time.time() + 300), userLabel="私のiPhone")
    assert wrong.status_code == 400 and WRONG_CODE in wrong.get_data(as_text=True)
    page = wrong.get_data(as_text=True)
    assert key_behind_unable_to_scan(page) == key
    unnamed = submit(client, page, totp=phone.now(), userLabel="")
    assert unnamed.status_code == 400 and "デバイス名を入力してください。" in unnamed.get_data(as_text=True)
    page = unnamed.get_data(as_text=True)
    assert signed_in(submit(client, page, totp=phone.now(), userLabel="私のiPhone"))


def test_the_page_offers_the_qr_code_as_a_png_to_save(society):
    _client, page = society.sign_in()
    assert re.search(r'<img class="totp-qr" src="data:image/png;base64,iVBORw0KGgo', page)
    assert re.search(r'href="data:image/png;base64,iVBORw0KGgo[^"]*" download="otp.png"', page)
    assert "js/totp-setup.js" in page


def test_a_member_with_two_apps_picks_the_one_they_hold(society):
    home, work = pyotp.random_base32(32), pyotp.random_base32(32)
    society.add_device("自宅のiPad", home)
    work_id = society.add_device("会社のAndroid", work)
    client, page = society.sign_in()
    assert "自宅のiPad" in page and "会社のAndroid" in page
    wrong_device = submit(client, page, device=work_id, otp=pyotp.TOTP(home).now())
    assert wrong_device.status_code == 401
    assert signed_in(submit(client, wrong_device.get_data(as_text=True), device=work_id, otp=pyotp.TOTP(work).now()))


def test_the_realms_look_around_window_decides_whether_the_last_code_still_counts(tmp_path):
    society = Society(tmp_path, realm={"otp_policy": {"look_around_window": 0}})
    try:
        secret = pyotp.random_base32(32)
        society.add_device("iPhone", secret)
        client, page = society.sign_in()
        last = pyotp.TOTP(secret).at(time.time() - 30)
        refused = submit(client, page, device=hidden_value(page, "device"), otp=last)
        assert refused.status_code == 401
        page = refused.get_data(as_text=True)
        assert signed_in(submit(client, page, device=hidden_value(page, "device"), otp=pyotp.TOTP(secret).now()))
    finally:
        society.database.dispose()


def test_an_app_sealed_under_another_secret_key_is_refused_not_an_error(society):
    secret = pyotp.random_base32(32)
    society.add_device("iPhone", secret, secret_key="the-key-before-the-operator-lost-it")
    client, page = society.sign_in()
    refused = submit(client, page, device=hidden_value(page, "device"), otp=pyotp.TOTP(secret).now())
    assert refused.status_code == 401 and WRONG_CODE in refused.get_data(as_text=True)
