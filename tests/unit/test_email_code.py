"""ワンタイムパスワード (OTP) メール認証: the code mailed through a real SMTP server, typed back
within five minutes, once; wrong tries, 再送信's wait and the hourly cap each say what happened."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from idp.authenticators.email_code import EmailCodeStep, masked, typed_code
from idp.db.models import User
from idp.ephemeral import make_store
from idp.flows.api import Done, Page
from idp.i18n import messages_for
from idp.mail import send_mail
from tests.support import steps
from tests.support.mail import MailCatcher, html_part, text_part
from tests.support.servers import free_port
from tests.support.settings import make_settings

SIGN_IN_STARTED = datetime(2025, 4, 1, 0, 10, tzinfo=UTC)  # 9:10 in Japan
ADDRESS = "hanako@example.jp"

SUBJECT = "【KOSMOWeb】ワンタイムパスワードのお知らせ"
EXPIRED = ("ワンタイムパスワードの有効期限が切れています。"
           "「再送信」を押して、新しいワンタイムパスワードを受け取ってください。")
TOO_MANY = ("ワンタイムパスワードの入力を5回間違えたため、このワンタイムパスワードは使用できなくなりました。"
            "「再送信」を押して、新しいワンタイムパスワードを受け取ってください。")


@pytest.fixture(scope="module")
def catcher():
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def settings(tmp_path, catcher):
    return make_settings(tmp_path, mail_url=catcher.url)


@pytest.fixture(params=["sql", "redis"])
def store(request, database):
    """The codes kept in the database, and in Redis when IDP_TEST_REDIS_URL is set."""
    return make_store(request.getfixturevalue("redis_url") if request.param == "redis" else None, database)


class SignIn:
    """One member's sign-in at this step: its scratch data and clock kept between requests, the
    mails sent from the realm's no-reply address through SMTP, the events the step reported."""

    def __init__(self, database, settings, store, user_id, catcher):
        self.database, self.settings, self.store, self.user_id = database, settings, store, user_id
        self.catcher = catcher
        self.data: dict = {}
        self.now = SIGN_IN_STARTED
        self.events: list[tuple[str, dict]] = []

    def run(self, call, *args):
        with self.database.session() as session:
            ctx = steps.step_context(session, self.settings, session.get(User, self.user_id), EmailCodeStep,
                                     store=self.store, data=self.data, now=self.now, send_mail=None,
                                     record_event=lambda type, **details: self.events.append((type, details)))
            ctx.send_mail = self._mailer(ctx.config.email)
            answer = getattr(EmailCodeStep(), call)(ctx, *args)
            if isinstance(answer, Page):
                session.rollback()
            return answer

    def _mailer(self, sender):
        def mail(**message):
            send_mail(self.settings, sender=sender.from_address, sender_name=sender.from_display_name, **message)
        return mail

    def sees(self) -> Page:
        return self.run("challenge")

    def types(self, code: str) -> Page | Done:
        return self.run("process", {"action": "verify", "code": code})

    def resends(self) -> Page:
        return self.run("process", {"action": "resend"})

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def mails(self) -> list:
        return [message for message in self.catcher.messages if message["To"] == ADDRESS]

    def code(self) -> str:
        """The code in the newest mail, as the member reads it in a text-only mail client."""
        return re.search(r"^(\d{6})$", text_part(self.catcher.wait_for_mail(ADDRESS)), re.M)[1]

    def event_types(self) -> list[str]:
        return [type for type, _ in self.events]


@pytest.fixture
def hanako(database, settings, store, catcher):
    catcher.messages.clear()
    user_id = steps.create_member(database, settings, "hanako0001", email=ADDRESS, email_verified=True)
    with database.session() as session:
        session.get(User, user_id).second_factor = "email"
    return SignIn(database, settings, store, user_id, catcher)


def said(settings, page: Page, field: str = "") -> list[str]:
    """The messages the page shows above the form ("") or under a field, as the member reads them."""
    texts = messages_for(settings.themes_dir)
    shown = []
    for error in page.errors.get(field, []):
        key, params = (error, {}) if isinstance(error, str) else (error["key"], error["params"])
        shown.append(texts[key].format(**params))
    return shown


def notice(settings, page: Page) -> str:
    return messages_for(settings.themes_dir)[page.values["notice"]].format(address=page.values["address"])


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_reaching_the_step_mails_the_code_from_the_realms_no_reply_address(hanako, settings):
    page = hanako.sees()

    assert page.template == "email-code.html" and not page.has_errors
    assert notice(settings, page) == "h***@example.jp 宛にワンタイムパスワードを送信しました。"
    [mail] = hanako.mails()
    assert mail["Subject"] == SUBJECT
    assert "no-reply@kosmo-demo.example" in mail["From"]
    text = text_part(mail)
    assert text.startswith("KOSMO Communication Webにログインするためのワンタイムパスワード\n\n")
    assert re.search(r"^\d{6}$", text, re.M)
    assert "有効期限は5分で、一度だけ使用できます。" in text
    assert "もしKOSMO Communication Webにお心当たりがない場合は、恐れ入りますがこのメールを破棄してください。" in text
    assert hanako.code() in html_part(mail)
    assert hanako.event_types() == ["SEND_EMAIL_CODE"]


def test_a_reload_shows_the_page_again_without_another_mail(hanako):
    hanako.sees()
    hanako.wait(60)

    page = hanako.sees()

    assert not page.has_errors and page.values["notice"] is None
    assert len(hanako.mails()) == 1


def test_the_code_signs_the_member_in_once_and_leaves_their_choice_of_factor(hanako, settings, database):
    hanako.sees()
    code = hanako.code()

    assert hanako.types(code) == Done(factor="email")
    again = hanako.types(code)

    assert said(settings, again) == [EXPIRED]
    assert steps.stored(database, "hanako0001", "second_factor")[0] == "email"


def test_the_store_keeps_only_a_keyed_hash_of_the_code(hanako, store, database):
    hanako.sees()
    code = hanako.code()

    with database.session() as session:
        realm_id = session.get(User, hanako.user_id).realm_id
    record = store.get(f"email-code:{realm_id}:{hanako.user_id}")
    assert code not in json.dumps(record)
    assert set(record) == {"nonce", "digest", "expires_at"} and len(record["digest"]) == 64
    assert "email-code" not in json.dumps(hanako.data) and code not in json.dumps(hanako.data)


def test_the_same_code_under_another_secret_key_is_refused(hanako, database, store, catcher, tmp_path):
    hanako.sees()
    code = hanako.code()
    elsewhere = SignIn(database, make_settings(tmp_path, secret_key="another-secret-key-0123456789",
                                               mail_url=catcher.url), store, hanako.user_id, catcher)
    elsewhere.data = hanako.data

    assert isinstance(elsewhere.types(code), Page)


def test_the_code_works_for_five_minutes_and_not_a_second_longer(hanako, settings):
    hanako.sees()
    code = hanako.code()
    hanako.wait(300)

    page = hanako.types(code)

    assert said(settings, page) == [EXPIRED] and page.status == 400
    assert hanako.events[-1] == ("LOGIN_ERROR", {"error": "expired_code"})
    hanako.now -= timedelta(seconds=1)
    assert hanako.types(code) == Done(factor="email")


def test_five_wrong_tries_kill_the_code_and_only_a_new_one_helps(hanako, settings):
    hanako.sees()
    code = hanako.code()

    for tries_left in (4, 3, 2, 1):
        hanako.wait(2)  # a member's pace: wrong codes within a second would be the realm's quick-login lock
        page = hanako.types(wrong_code(code))
        assert said(settings, page, "code") == [
            f"ワンタイムパスワードが正しくありません。あと{tries_left}回入力できます。"]
        assert page.status == 401
    hanako.wait(2)
    assert said(settings, hanako.types(wrong_code(code))) == [TOO_MANY]
    assert said(settings, hanako.types(code)) == [TOO_MANY]
    assert hanako.events[:2] == [("SEND_EMAIL_CODE", {"email": ADDRESS}),
                                 ("LOGIN_ERROR", {"error": "invalid_email_code"})]
    assert hanako.events[-1] == ("LOGIN_ERROR", {"error": "email_code_attempts_exceeded"})

    hanako.wait(30)
    hanako.resends()
    assert hanako.types(hanako.code()) == Done(factor="email")


def test_resending_waits_thirty_seconds_and_replaces_the_old_code(hanako, settings):
    hanako.sees()
    first = hanako.code()
    hanako.wait(12)

    early = hanako.resends()

    assert said(settings, early) == ["再送信は18秒後にお試しください。"] and early.status == 429
    assert len(hanako.mails()) == 1
    hanako.wait(18)
    page = hanako.resends()
    assert notice(settings, page) == ("h***@example.jp 宛に新しいワンタイムパスワードを再送信しました。"
                                      "以前のワンタイムパスワードは使用できません。")
    assert len(hanako.mails()) == 2
    second = hanako.code()
    if second != first:  # one chance in a million that the new code is the old one
        assert said(settings, hanako.types(first), "code") == [
            "ワンタイムパスワードが正しくありません。あと4回入力できます。"]
    assert hanako.types(second) == Done(factor="email")


def test_five_mails_an_hour_then_the_member_is_told_when_to_try_again(hanako, settings):
    hanako.sees()
    for _ in range(4):
        hanako.wait(30)
        assert not hanako.resends().has_errors
    hanako.wait(30)  # 9:12:30 in Japan

    capped = hanako.resends()

    assert said(settings, capped) == [
        "ワンタイムパスワードの送信回数が上限に達しました。48分ほど時間をおいてから「再送信」を押してください。"]
    assert len(hanako.mails()) == 5
    hanako.wait(48 * 60)
    assert not hanako.resends().has_errors
    assert len(hanako.mails()) == 6


def test_a_mail_that_cannot_be_delivered_says_so_and_does_not_count(hanako, database, store, catcher, tmp_path,
                                                                     settings):
    broken = SignIn(database, make_settings(tmp_path, mail_url=f"smtp://127.0.0.1:{free_port()}"), store,
                    hanako.user_id, catcher)

    for _ in range(6):
        page = broken.sees()
        assert said(settings, page) == ["メールを送信できませんでした。しばらくしてから再度お試しください。"]
    assert said(settings, broken.types("123456")) == [
        "ワンタイムパスワードがまだ送信されていません。「再送信」を押して、ワンタイムパスワードを受け取ってください。"]
    assert broken.event_types() == ["LOGIN_ERROR"] and broken.data == {}

    hanako.sees()
    assert hanako.types(hanako.code()) == Done(factor="email")


def test_empty_and_malformed_codes_are_refused_without_using_a_try(hanako, settings):
    hanako.sees()
    code = hanako.code()

    assert said(settings, hanako.types("  "), "code") == ["ワンタイムパスワードを入力してください。"]
    for typo in ("12345", "1234567", "12a456", "١٢٣٤٥٦"):
        assert said(settings, hanako.types(typo), "code") == ["ワンタイムパスワードは6桁の数字で入力してください。"]
    for _ in range(4):
        hanako.wait(2)  # a member's pace, not the realm's quick-login lock
        hanako.types(wrong_code(code))
    assert hanako.types(code) == Done(factor="email")
    assert hanako.event_types().count("LOGIN_ERROR") == 4


def test_full_width_digits_and_spaces_from_a_japanese_keyboard_are_accepted(hanako):
    hanako.sees()
    code = hanako.code()
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)

    assert typed_code(f" {full_width[:3]} {full_width[3:]}") == code
    assert hanako.types(f"{code[:3]}-{code[3:]}") == Done(factor="email")


def test_a_member_without_a_verified_address_is_stopped_not_let_through(database, settings, store, catcher):
    user_id = steps.create_member(database, settings, "jiro0002", email="jiro@example.jp")
    jiro = SignIn(database, settings, store, user_id, catcher)
    message = ("確認済みのメールアドレスが登録されていないため、メールでワンタイムパスワードを受け取れません。"
               "お手数ですが、ご加入の健康保険組合にお問い合わせください。")

    assert not jiro.run("is_set_up") and jiro.run("needed")
    assert said(settings, jiro.sees()) == [message]
    assert said(settings, jiro.resends()) == [message]
    assert not [mail for mail in catcher.messages if mail["To"] == "jiro@example.jp"]


def test_email_is_set_up_when_the_address_is_verified(hanako):
    assert hanako.run("is_set_up")
    assert (EmailCodeStep.factor, EmailCodeStep.setup_action) == ("email", None)


def test_the_address_is_shown_masked():
    assert masked("hanako@example.jp") == "h***@example.jp"


def test_the_page_in_the_guides_words(hanako, app):
    html = steps.render(app, hanako.sees())

    for words in ("<h1>ワンタイムパスワード (OTP) メール認証</h1>", "受信したワンタイムパスワードを入力してください。",
                  '<label for="code">ワンタイムパスワード</label>', ">実行</button>", ">再送信</button>",
                  "※メールが届かない場合は再送信を選択してください"):
        assert words in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert '<button type="submit" name="action" value="verify"' in html
    assert html.index("実行</button>") < html.index("再送信</button>")
