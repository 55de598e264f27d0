"""A member whose second factor is email signs in from the portal: password, then the code the
identity provider mailed through a real SMTP server, typed into ワンタイムパスワード (OTP) メール認証."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select

import idp.login.views
from idp.db.models import AuditEvent, utcnow
from tests.support.mail import MailCatcher, text_part
from tests.support.settings import make_settings
from tests.support.sign_in import (
    CALLBACK,
    add_member,
    authorize,
    follow_step,
    form_action,
    hidden_value,
    pkce_pair,
    redirect_params,
    submit_sign_in,
)

ADDRESS = "hanako-01@example.jp"
FLOW = "flow: password-then-mail\nsteps:\n  - authenticate: password\n  - authenticate: email-code\n"


@pytest.fixture(scope="module")
def catcher():
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def settings(tmp_path, catcher):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "password-then-mail.yaml").write_text(FLOW, encoding="utf-8")
    return make_settings(tmp_path, browser_flow="password-then-mail", flows_dir=flows, mail_url=catcher.url)


@pytest.fixture
def clock(monkeypatch):
    """The clock the sign-in steps read; `clock.wait(seconds)` moves it on."""
    class Clock:
        offset = timedelta()

        def wait(self, seconds: int) -> None:
            self.offset += timedelta(seconds=seconds)

    clock = Clock()
    monkeypatch.setattr(idp.login.views, "utcnow", lambda: utcnow() + clock.offset)
    return clock


class Browser:
    """The member's browser: the page it shows now, and the mails in their inbox."""

    def __init__(self, client, catcher):
        self.client, self.catcher = client, catcher
        catcher.messages.clear()
        self.page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
        self.response = submit_sign_in(client, self.page)
        self.page = self.response.get_data(as_text=True)

    def press(self, button: str, code: str = ""):
        data = {name: hidden_value(self.page, name) for name in ("csrf_token", "tab_id", "step")}
        self.response = follow_step(self.client, self.client.post(
            form_action(self.page), data={**data, "action": button, "code": code}))
        self.page = self.response.get_data(as_text=True)
        return self.response

    def reload(self) -> None:
        self.page = self.client.get(form_action(self.page)).get_data(as_text=True)

    def says(self, text: str) -> bool:
        return text in unescape(self.page)

    def inbox(self) -> list:
        return [message for message in self.catcher.messages if message["To"] == ADDRESS]

    def newest_code(self) -> str:
        return re.search(r"^(\d{6})$", text_part(self.catcher.wait_for_mail(ADDRESS)), re.M)[1]


@pytest.fixture
def member(database, settings):
    return add_member(database, settings, email=ADDRESS, email_verified=True)


def test_password_then_the_mailed_code_brings_the_member_back_to_the_portal(client, database, catcher, member):
    browser = Browser(client, catcher)

    assert browser.says("<h1>ワンタイムパスワード (OTP) メール認証</h1>")
    assert browser.says("h***@example.jp 宛にワンタイムパスワードを送信しました。")
    [mail] = browser.inbox()
    assert mail["Subject"] == "【KOSMOWeb】ワンタイムパスワードのお知らせ"
    browser.reload()
    assert len(browser.inbox()) == 1

    response = browser.press("verify", browser.newest_code())

    assert redirect_params(response)["code"] and response.headers["Location"].startswith(CALLBACK)
    with database.session() as session:
        kinds = session.scalars(select(AuditEvent.type).where(AuditEvent.user_id == member)).all()
    assert kinds == ["SEND_EMAIL_CODE", "LOGIN"]


def test_a_wrong_code_then_resend_after_the_wait_then_the_new_code(client, database, catcher, member, clock):
    browser = Browser(client, catcher)
    first = browser.newest_code()

    browser.press("verify", f"{(int(first) + 1) % 1_000_000:06d}")
    assert browser.response.status_code == 401
    assert browser.says("ワンタイムパスワードが正しくありません。あと4回入力できます。")
    clock.wait(10)
    browser.press("resend")
    assert browser.response.status_code == 429 and browser.says("再送信は20秒後にお試しください。")
    clock.wait(20)
    browser.press("resend")
    assert browser.says("以前のワンタイムパスワードは使用できません。") and len(browser.inbox()) == 2

    response = browser.press("verify", browser.newest_code())

    assert redirect_params(response)["code"]
    with database.session() as session:
        errors = session.scalars(select(AuditEvent.error).where(AuditEvent.type == "LOGIN_ERROR")).all()
    assert errors == ["invalid_email_code"]


def test_a_code_typed_after_five_minutes_is_refused_with_the_way_forward(client, catcher, member, clock):
    browser = Browser(client, catcher)
    code = browser.newest_code()
    clock.wait(300)

    browser.press("verify", code)

    assert browser.response.status_code == 400
    assert browser.says("ワンタイムパスワードの有効期限が切れています。"
                        "「再送信」を押して、新しいワンタイムパスワードを受け取ってください。")
