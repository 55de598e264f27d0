"""Fixtures for browser tests: the IdP and the demo portal as real servers, a member, Chromium.

Chromium is Debian's (/usr/bin/chromium), never one downloaded by `playwright install`. Without
it the tests are skipped with the reason, except under CI (`CI` set), where they fail instead.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import DESKTOP, MEMBER, PHONE, portal_for
from tests.support.mail import MailCatcher
from tests.support.servers import IdpServer
from tests.support.settings import UNDER_CI

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _cannot_drive_chromium(reason: str):
    if UNDER_CI:
        pytest.fail(f"{reason}: CI must provide it (apt-get install chromium; pip install '.[test]')")
    pytest.skip(reason)


# Module scope, not session: each test module gets its own copy, and
# two Playwright sync instances cannot be alive at once in one thread.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _cannot_drive_chromium(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _cannot_drive_chromium("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def idp_server(tmp_path_factory):
    with IdpServer(tmp_path_factory.mktemp("browser")) as server:
        yield server


@pytest.fixture(scope="module")
def portal_server(idp_server):
    with portal_for(idp_server) as server:
        yield server


@pytest.fixture(scope="module")
def mail_catcher():
    """An SMTP server catching what the identity provider mails (see tests/support/mail.py)."""
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture(scope="module")
def journey_idp_server(tmp_path_factory, mail_catcher):
    """The identity provider running the guide's `kosmo-member` flow, mailing by SMTP to the catcher."""
    with IdpServer(tmp_path_factory.mktemp("journey"), browser_flow="kosmo-member",
                   env={"IDP_MAIL_URL": mail_catcher.url}) as server:
        yield server


@pytest.fixture(scope="module")
def journey_portal_server(journey_idp_server):
    with portal_for(journey_idp_server) as server:
        yield server


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def screen(request) -> dict:
    return request.param


@pytest.fixture
def page(browser, screen):
    """A tab in a fresh browser profile of the screen's size, in Japanese."""
    context = browser.new_context(locale="ja-JP", **screen)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def press(screen):
    """Tap on a touch screen, click otherwise, as the member would."""
    def press(locator) -> None:
        if screen.get("has_touch"):
            locator.tap()
        else:
            locator.click()

    return press


@pytest.fixture(scope="module")
def member(idp_server) -> dict:
    """山田 太郎, a member of the demo society with a password."""
    fields = {name: value for name, value in MEMBER.items() if name not in ("username", "password")}
    idp_server.add_member(MEMBER["username"], MEMBER["password"], **fields)
    return MEMBER
