"""Fixtures for browser tests: the IdP and the demo portal as real servers, a member, Chromium.

Not a conftest.py: the suite's test folders are not packages, so a second conftest.py would
replace tests/conftest.py as the module `conftest` that other tests import from.

Chromium is Debian's (/usr/bin/chromium), never one downloaded by `playwright install`. Without
it the tests are skipped with the reason, except under CI (`CI` set), where they fail instead.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import IdpServer, PortalServer
from tests.smtp import MailCatcher

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UNDER_CI = bool(os.environ.get("CI"))

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


def _cannot_drive_chromium(reason: str):
    if UNDER_CI:
        pytest.fail(f"{reason}: CI must provide it (apt-get install chromium; pip install '.[test]')")
    pytest.skip(reason)


# Module scope, not session: each test module that imports this fixture gets its own copy, and
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


@contextmanager
def portal_for(idp: IdpServer):
    """The demo portal signing in at `idp`, on the port its portal client expects."""
    with PortalServer(idp.url, idp.portal_port, idp.outbox_dir, log_dir=idp.folder) as server:
        yield server


@pytest.fixture(scope="module")
def portal_server(idp_server):
    with portal_for(idp_server) as server:
        yield server


@pytest.fixture(scope="module")
def mail_catcher():
    """An SMTP server catching what the identity provider mails (see tests/smtp.py)."""
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
