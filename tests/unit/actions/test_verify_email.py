"""verify-email (メール認証): the mail with its メールアドレスの確認 button, resending, and the link
opened elsewhere."""
from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from html import unescape
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from idp.actions.verify_email import VerifyEmail
from idp.db.models import User
from idp.flows.api import Done, Page
from idp.i18n import messages_for
from idp.mail import MailError, find_links
from idp.mail.message import compose
from idp.mail.render import render_mail
from tests.support.sign_in import authorize, form_action, pkce_pair, redirect_params, submit_sign_in
from tests.support.steps import create_member, flow_settings, step_context, stored

SIGN_IN_STARTED = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
PASSWORD = "sakura-2024-spring"
EMAIL_STEP = "  - action: verify-email\n    if: email-not-verified\n"
ADDRESS = ("email", "email_verified")  # what stored(...) reads before the audit trail


@pytest.fixture
def settings(tmp_path):
    """The demo realm runs a flow of the password and this step only (for the browser test)."""
    return flow_settings(tmp_path, EMAIL_STEP, name="email-journey")


class Browser:
    """One sign-in: the step's scratch data, the clock, and the mails and links it produced."""

    def __init__(self, database, settings, username, **options):
        self.database, self.settings, self.username = database, settings, username
        self.options = VerifyEmail.Options(**options)
        self.data: dict = {}
        self.now = SIGN_IN_STARTED
        self.mails: list[dict] = []
        self.links: list[tuple[dict, int]] = []
        self.mail_fails = False

    def send_mail(self, **mail):
        if self.mail_fails:
            raise MailError("smtp.example: connection refused")
        self.mails.append(mail)

    def make_link(self, payload, ttl):
        self.links.append((payload, ttl))
        return f"https://idp.example/realms/kosmo-demo/login-actions/action-token?key=k{len(self.links)}"

    def run(self, call, *args):
        """Call the step in a request of its own, committed as the engine does."""
        with self.database.session() as session:
            ctx = step_context(session, self.settings, self.username, self.options, data=self.data, now=self.now,
                               send_mail=self.send_mail, make_link=self.make_link)
            return getattr(VerifyEmail(), call)(ctx, *args)

    def wait(self, seconds):
        self.now += timedelta(seconds=seconds)


def text_of(settings, page: Page) -> str:
    """The notice or page-level error as the member reads it."""
    texts = messages_for(settings.themes_dir)
    if page.errors:
        return " ".join(texts[key] for key in page.errors[""])
    return texts[page.values["notice"]].format(seconds=page.values["wait_seconds"])


@pytest.fixture
def taro(database, settings):
    create_member(database, settings, "taro0001", email="taro@example.jp", last_name="山田", first_name="太郎",
                  password=PASSWORD)
    return "taro0001"


@pytest.fixture
def browser(database, settings, taro):
    return Browser(database, settings, taro)


def test_needed_only_for_an_address_not_yet_verified(database, settings, taro, browser):
    assert browser.run("needed")
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == taro))
        user.email_verified = True
    assert not browser.run("needed")
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == taro))
        user.email, user.email_verified = None, False
    assert not browser.run("needed")


def test_reaching_the_step_mails_a_link_with_a_button_and_a_plain_url(settings, browser):
    page = browser.run("challenge")
    assert page.template == "actions/verify-email.html"
    assert page.values["email"] == "taro@example.jp" and not page.errors
    assert browser.links == [({"email": "taro@example.jp"}, 300)]
    [mail] = browser.mails
    url = "https://idp.example/realms/kosmo-demo/login-actions/action-token?key=k1"
    assert mail["to"] == "taro@example.jp"
    assert mail["subject"] == "【KOSMOWeb】メールアドレスの確認"
    assert find_links(mail["text"]) == [url]
    assert "山田 太郎 様" in mail["text"] and "5分" in mail["text"]
    assert f'<a href="{url}" style=' in mail["html"]
    assert "メールアドレスの確認</a>" in mail["html"]
    message = compose(sender="no-reply@kosmo-demo.example", sender_name=None, **mail)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_reloading_the_page_does_not_send_another_mail(browser):
    browser.run("challenge")
    browser.wait(5)
    page = browser.run("challenge")
    assert len(browser.mails) == 1 and not page.errors


def test_resend_waits_for_the_cooldown_then_sends_a_new_link(settings, browser):
    browser.run("challenge")
    browser.wait(20)
    page = browser.run("process", {"action": "resend"})
    assert text_of(settings, page) == "再送信は40秒後にお試しください。"
    assert len(browser.mails) == 1
    browser.wait(40)
    page = browser.run("process", {"action": "resend"})
    assert text_of(settings, page) == "確認のメールを再送信しました。"
    assert len(browser.mails) == 2 and browser.mails[1]["text"] != browser.mails[0]["text"]
    browser.wait(1)
    assert text_of(settings, browser.run("process", {"action": "resend"})) == "再送信は59秒後にお試しください。"


def test_the_cooldown_is_an_option(database, settings, taro):
    browser = Browser(database, settings, taro, resend_cooldown_seconds=10)
    browser.run("challenge")
    browser.wait(10)
    browser.run("process", {"action": "resend"})
    assert len(browser.mails) == 2
    with pytest.raises(ValidationError):
        VerifyEmail.Options(resend_cooldown_seconds=-1)


def test_refresh_before_the_link_was_opened_says_so(settings, taro, browser):
    browser.run("challenge")
    page = browser.run("process", {"action": "continue"})
    assert text_of(settings, page) == ("メールアドレスの確認がまだ完了していません。"
                                       "届いたメールの「メールアドレスの確認」をクリックしてから、「更新」を押してください。")


def test_the_link_opened_in_another_browser_verifies_and_the_first_tab_continues(database, settings, taro, browser):
    browser.run("challenge")
    phone = Browser(database, settings, taro)
    assert phone.run("follow_link", {"email": "Taro@Example.JP"}) == Done()
    assert stored(database, taro, *ADDRESS) == (
        "taro@example.jp", True, [("VERIFY_EMAIL", {"email": "taro@example.jp"})])
    assert not browser.run("needed")
    assert browser.run("process", {"action": "continue"}) == Done()


def test_a_second_link_of_the_same_address_changes_nothing_more(database, settings, taro, browser):
    browser.run("follow_link", {"email": "taro@example.jp"})
    assert browser.run("follow_link", {"email": "taro@example.jp"}) == Done()
    assert len(stored(database, taro, *ADDRESS)[2]) == 1


def test_a_link_for_an_earlier_address_is_refused(database, settings, taro, browser):
    browser.run("challenge")
    with database.session() as session:
        session.scalar(select(User).where(User.username == taro)).email = "taro.new@example.jp"
    page = browser.run("follow_link", {"email": "taro@example.jp"})
    assert page.template == "actions/verify-email-done.html" and page.status == 400
    assert text_of(settings, page).startswith(
        "このリンクは、以前に設定されていたメールアドレスの確認用のため使用できません。")
    assert stored(database, taro, *ADDRESS) == ("taro.new@example.jp", False, [])


def test_a_changed_address_gets_its_own_mail(database, taro, browser):
    browser.run("challenge")
    with database.session() as session:
        session.scalar(select(User).where(User.username == taro)).email = "taro.new@example.jp"
    browser.run("challenge")
    assert [mail["to"] for mail in browser.mails] == ["taro@example.jp", "taro.new@example.jp"]


def test_a_mail_that_cannot_be_delivered_is_reported_and_may_be_resent_at_once(settings, browser):
    browser.mail_fails = True
    page = browser.run("challenge")
    assert text_of(settings, page) == "メールを送信できませんでした。しばらくしてから再度お試しください。"
    assert browser.data == {}
    browser.mail_fails = False
    page = browser.run("process", {"action": "resend"})
    assert len(browser.mails) == 1 and not page.errors


def test_names_in_the_html_mail_are_escaped(settings):
    text, html = render_mail(settings, "ja", "verify-email", url="https://idp.example/x?a=1&b=2",
                             name="<b>山田</b>", site="デモ健保", minutes=5)
    assert "&lt;b&gt;山田&lt;/b&gt; 様" in html and 'href="https://idp.example/x?a=1&amp;b=2"' in html
    assert "<b>山田</b> 様" in text and "https://idp.example/x?a=1&b=2" in text


def delivered(settings) -> list[email.message.EmailMessage]:
    outbox = settings.mail_url.removeprefix("outbox:")
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(Path(outbox).glob("*.eml"))]


def test_in_the_browser_the_link_opened_on_a_phone_lets_the_first_tab_continue(app, client, database, settings, taro):
    sign_in = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    page = submit_sign_in(client, sign_in, username=taro, password=PASSWORD).get_data(as_text=True)
    assert "<h1>メール認証</h1>" in page and "taro@example.jp 宛に確認のメールを送信しました。" in page
    assert ">再送信</button>" in page and "js/step-poll.js" in page
    poll_url = unescape(re.search(r'data-poll-url="([^"]+)"', page).group(1))
    assert client.get(poll_url, headers={"Accept": "application/json"}).get_json()["needed"] is True

    [mail] = delivered(settings)
    assert mail["Subject"] == "【KOSMOWeb】メールアドレスの確認" and mail.is_multipart()
    [link] = find_links(mail.get_body(("plain",)).get_content())
    assert f'href="{link}"' in mail.get_body(("html",)).get_content()

    phone = app.test_client()
    opened = phone.get(link)
    assert opened.status_code == 200
    assert ("メールアドレスの確認が完了しました。元の画面に戻り、画面を更新してください。"
            in opened.get_data(as_text=True))
    assert phone.get(link).status_code == 400  # single use
    assert stored(database, taro, *ADDRESS)[:2] == ("taro@example.jp", True)

    assert client.get(poll_url, headers={"Accept": "application/json"}).get_json()["needed"] is False
    assert "code" in redirect_params(client.get(form_action(page)))
