"""configure-totp (ワンタイムパスワードの設定, docs/member-screens.md §5): the member scans the QR code or types the
key, confirms with the app's code and names the device; the key is stored encrypted."""
from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import timedelta

import png
import pyotp
import pytest
import qrcode
from sqlalchemy import select

from idp.actions.configure_totp import QR_MODULE_PIXELS, ConfigureTotp, qr_png
from idp.authenticators.otp import OtpStep
from idp.authenticators.totp import code_at, key_uri
from idp.db.models import Credential, User
from idp.db.users import otp_key
from idp.ephemeral import make_store
from idp.flows.api import Done, Page
from idp.realms.schema import OtpPolicy
from tests.support.steps import SIGN_IN_TIME, audit_trail, create_member, render, shown, step_context

GUIDE = [
    "ワンタイムパスワードの設定",
    "アカウントを有効にするにはワンタイムパスワードのセットアップが必要です。",
    "Google Authenticator", "Microsoft Authenticator", "FreeOTP",
    "アプリケーションを開き、バーコードをスキャンします。",
    "スキャンできませんか?",
    "アプリケーションを開き、キーを入力します",
    "アプリケーションから提供されたワンタイムパスワードを入力し、送信をクリックしてセットアップを完了します。",
    "OTPデバイスの管理に役立つデバイス名を指定します。",
    "ワンタイムパスワード*", "デバイス名*", "全てのデバイスからサインアウトする", "実行",
]
WRONG_CODE = "認証コードが異なります"
MEMBER = "taro-otp01"


class Setup:
    """One member's setup across requests: the engine keeps the step's data between them."""

    def __init__(self, database, settings, username: str = MEMBER, **context):
        self.database, self.settings, self.username, self.context = database, settings, username, context
        self.data: dict = {}
        self.store = make_store(None, database)
        self.sessions_ended = 0

    def run(self, call, now=SIGN_IN_TIME):
        with self.database.session() as session:
            ctx = step_context(session, self.settings, self.username, ConfigureTotp, store=self.store,
                               data=self.data, now=now, **self.context)
            ctx.end_other_sessions = self._end_other_sessions
            answer = call(ctx)
            if isinstance(answer, Page) and answer.has_errors:
                session.rollback()
            return answer

    def _end_other_sessions(self) -> int:
        self.sessions_ended += 1
        return 1

    def sees(self) -> Page:
        return self.run(lambda ctx: ConfigureTotp().challenge(ctx))

    def submit(self, now=SIGN_IN_TIME, **form) -> Page | Done:
        return self.run(lambda ctx: ConfigureTotp().process(ctx, form), now)

    @property
    def secret(self) -> str:
        return self.data["secret"]

    def phone(self, now=SIGN_IN_TIME, **policy) -> str:
        """The code the member's app shows, the key typed in lower case as the guide allows."""
        return pyotp.TOTP(self.secret.lower(), **policy).at(now)


def devices(database, username: str = MEMBER) -> list[Credential]:
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return [c for c in user.credentials if c.type == "otp"]


def member_row(database, username: str = MEMBER) -> User:
    with database.session() as session:
        return session.scalar(select(User).where(User.username == username))


@pytest.fixture
def member(database, settings):
    create_member(database, settings, MEMBER, password="sakura-2024-spring")
    return MEMBER


@pytest.fixture
def setup(database, settings, member) -> Setup:
    return Setup(database, settings)


def key_on_page(page_html: str) -> str:
    """The key as the member reads it after スキャンできませんか?."""
    return html.unescape(re.search(r'id="totp-key"[^>]*>([^<]+)<', page_html)[1])


def qr_of(page_html: str) -> bytes:
    return base64.b64decode(re.search(r'<img class="totp-qr" src="data:image/png;base64,([^"]+)"', page_html)[1])


# The page


def test_the_page_reads_as_the_guide_word_for_word(app, setup):
    page = render(app, setup.sees())
    for text in GUIDE:
        assert text in html.unescape(page), text
    assert 'autocomplete="one-time-code"' in page
    assert re.search(r'<a href="data:image/png;base64,[^"]+" download="otp.png"', page)


def test_the_key_is_160_bits_in_groups_of_four_and_stays_the_same_on_reload(app, setup):
    first = key_on_page(render(app, setup.sees()))
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", first)
    assert len(base64.b32decode(first.replace(" ", ""))) == 20
    assert key_on_page(render(app, setup.sees())) == first
    assert Setup(setup.database, setup.settings).sees().values["key"] != first  # another setup, another key


def test_the_key_typed_in_lower_case_gives_the_same_codes():
    key = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    assert pyotp.TOTP(key.lower()).at(SIGN_IN_TIME) == pyotp.TOTP(key).at(SIGN_IN_TIME)
    counter = int(SIGN_IN_TIME.timestamp()) // 30
    assert pyotp.TOTP(key.lower()).at(SIGN_IN_TIME) == code_at(base64.b32decode(key), counter)


def test_adding_another_app_from_the_account_pages_shows_no_warning(app, database, settings, member):
    page = render(app, Setup(database, settings).sees())
    assert "アカウントを有効にするには" in page
    with database.session() as session:
        ctx = step_context(session, settings, MEMBER, ConfigureTotp, store=make_store(None, database))
        ctx.extra = {"kc_action": True}
        assert "アカウントを有効にするには" not in render(app, ConfigureTotp().challenge(ctx))


# The QR code


def test_the_qr_code_is_a_png_image_of_the_otpauth_uri(app, setup):
    page = render(app, setup.sees())
    image = qr_of(page)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height, rows, _info = png.Reader(bytes=image).read()
    pixels = [list(row) for row in rows]
    uri = ("otpauth://totp/KOSMO%20Web%20%E3%83%87%E3%83%A2%E5%81%A5%E5%BA%B7%E4%BF%9D%E9%99%BA%E7%B5%84%E5%90%88"
           f":{MEMBER}?secret={setup.secret}&issuer=KOSMO%20Web%20%E3%83%87%E3%83%A2%E5%81%A5%E5%BA%B7%E4%BF%9D"
           "%E9%99%BA%E7%B5%84%E5%90%88&digits=6&period=30")
    # No QR reader is installed: the image must hold exactly the modules of this URI's QR code.
    code = qrcode.QRCode(border=4)
    code.add_data(uri)
    modules, size = code.get_matrix(), QR_MODULE_PIXELS
    assert width == height == len(modules) * size
    assert [[pixels[y * size + size // 2][x * size + size // 2] == 0 for x in range(len(modules))]
            for y in range(len(modules))] == modules


def test_the_uri_names_the_society_and_user_id_encoded_and_the_algorithm_only_when_not_sha1():
    assert key_uri("ABCD", issuer="健保 A", account="taro@example.jp") == (
        "otpauth://totp/%E5%81%A5%E4%BF%9D%20A:taro%40example.jp?secret=ABCD&issuer=%E5%81%A5%E4%BF%9D%20A"
        "&digits=6&period=30")
    assert key_uri("ABCD", issuer="K", account="t", digits=8, period=60, algorithm="HmacSHA256") == (
        "otpauth://totp/K:t?secret=ABCD&issuer=K&digits=8&period=60&algorithm=SHA256")


def test_qr_png_reports_the_width_it_drew():
    image, size = qr_png("otpauth://totp/K:t?secret=ABCD")
    assert png.Reader(bytes=image).read()[0] == size


# Confirming


def test_the_apps_code_and_a_device_name_store_an_encrypted_device(database, settings, setup):
    setup.sees()
    secret = setup.secret
    assert setup.submit(totp=setup.phone(), userLabel=" 私のiPhone ") == Done()
    [device] = devices(database)
    assert device.user_label == "私のiPhone"
    assert device.secret_data["value"].startswith("v1:") and secret not in device.secret_data["value"]
    assert otp_key(device, settings) == base64.b32decode(secret)
    assert device.credential_data == {"subType": "totp", "digits": 6, "period": 30, "counter": 0,
                                      "algorithm": "HmacSHA1", "secretEncoding": "BASE32"}
    assert device.created_at.replace(tzinfo=None) == SIGN_IN_TIME.replace(tzinfo=None)
    assert member_row(database).second_factor == "totp"
    with database.session() as session:
        assert [event for event, _ in audit_trail(session, member_row(database).id)] == ["UPDATE_TOTP"]
    assert setup.data == {}  # the key leaves the sign-in session once stored


def test_a_code_one_step_early_or_late_is_accepted_as_the_realm_allows(setup):
    setup.sees()
    late = setup.phone(now=SIGN_IN_TIME - timedelta(seconds=30))
    assert setup.submit(totp=late, userLabel="iPhone") == Done()


def test_a_realm_without_a_look_around_window_wants_the_current_code(database, settings, member):
    strict = Setup(database, settings, config_update={"otp_policy": OtpPolicy(look_around_window=0)})
    strict.sees()
    late = strict.phone(now=SIGN_IN_TIME - timedelta(seconds=30))
    assert strict.submit(totp=late, userLabel="iPhone").errors["totp"] == ["configure_totp.error.invalid_code"]
    assert strict.submit(totp=strict.phone(), userLabel="iPhone") == Done()


def test_a_realm_policy_of_sha256_and_eight_digits_reaches_the_app_and_the_device(database, settings, member):
    policy = OtpPolicy(algorithm="HmacSHA256", digits=8, period=60)
    setup = Setup(database, settings, config_update={"otp_policy": policy})
    page = setup.sees()
    assert (page.values["algorithm"], page.values["digits"], page.values["period"]) == ("SHA256", 8, 60)
    code = setup.phone(digits=8, digest=hashlib.sha256, interval=60)
    assert setup.submit(totp=code, userLabel="iPhone") == Done()
    [device] = devices(database)
    assert device.credential_data["algorithm"] == "HmacSHA256"
    assert (device.credential_data["digits"], device.credential_data["period"]) == (8, 60)


def test_a_member_who_chose_another_factor_keeps_that_choice(database, settings):
    hanako = create_member(database, settings, "hanako-pk01")
    with database.session() as session:
        session.get(User, hanako).second_factor = "passkey"
    setup = Setup(database, settings, "hanako-pk01")
    setup.sees()
    assert setup.submit(totp=setup.phone(), userLabel="iPhone") == Done()
    assert member_row(database, "hanako-pk01").second_factor == "passkey"


def test_signing_out_everywhere_happens_only_when_ticked(setup, database, settings):
    setup.sees()
    assert setup.submit(totp=setup.phone(), userLabel="iPhone") == Done()
    assert setup.sessions_ended == 0
    again = Setup(database, settings)
    again.sees()
    assert again.submit(**{"totp": again.phone(), "userLabel": "iPad", "logout-sessions": "on"}) == Done()
    assert again.sessions_ended == 1


def test_the_code_that_confirmed_the_app_cannot_sign_in_again(database, settings, setup):
    setup.sees()
    code = setup.phone()
    assert setup.submit(totp=code, userLabel="iPhone") == Done()
    [device] = devices(database)
    with database.session() as session:
        ctx = step_context(session, settings, MEMBER, OtpStep, store=setup.store)
        assert OtpStep().process(ctx, {"device": device.id, "otp": code}).errors == {"": ["otp.invalid"]}


# Refusals change nothing


@pytest.mark.parametrize("form, field, message", [
    ({"totp": "", "userLabel": "iPhone"}, "totp", "ワンタイムパスワードを入力してください。"),
    ({"totp": "wrong", "userLabel": "iPhone"}, "totp", WRONG_CODE),
    ({"totp": "right", "userLabel": "  "}, "userLabel", "デバイス名を入力してください。"),
    ({"totp": "right", "userLabel": "あ" * 256}, "userLabel", "設定可能なデバイス名の最大文字数は255文字です。"),
])
def test_each_refusal_is_told_in_the_guides_words_and_stores_nothing(app, database, setup, form, field, message):
    setup.sees()
    key = setup.secret
    codes = {"right": setup.phone(), "wrong": setup.phone(now=SIGN_IN_TIME + timedelta(minutes=5)), "": ""}
    page = setup.submit(**{**form, "totp": codes[form["totp"]]})
    assert isinstance(page, Page) and page.status == 400
    assert shown(app, page, field) == [message]
    assert devices(database) == [] and member_row(database).second_factor is None
    with database.session() as session:
        assert audit_trail(session, member_row(database).id) == []
    assert setup.secret == key  # the app already holds this key: it must not change
    assert page.values["key"].replace(" ", "") == key


def test_a_wrong_code_keeps_the_device_name_typed(app, setup):
    setup.sees()
    page = setup.submit(totp="000000" if setup.phone() != "000000" else "111111", userLabel="私のiPhone")
    assert 'value="私のiPhone"' in render(app, page)
    assert WRONG_CODE in render(app, page)


def test_a_second_app_needs_a_name_of_its_own(app, database, settings, setup):
    setup.sees()
    assert setup.submit(totp=setup.phone(), userLabel="iPhone") == Done()
    second = Setup(database, settings)
    second.sees()
    page = second.submit(totp=second.phone(), userLabel="iPhone")
    assert shown(app, page, "userLabel") == ["同じ名前のデバイスが登録されています。別のデバイス名を入力してください。"]
    assert second.submit(totp=second.phone(), userLabel="iPad") == Done()
    assert sorted(d.user_label for d in devices(database)) == ["iPad", "iPhone"]
