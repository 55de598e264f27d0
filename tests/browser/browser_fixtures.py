"""Fixtures for browser tests: the IdP and the demo portal as real servers, a member, Chromium.

Not a conftest.py: the suite's test folders are not packages, so a second conftest.py would
replace tests/conftest.py as the module `conftest` that other tests import from.

Chromium is Debian's (/usr/bin/chromium), never one downloaded by `playwright install`. Without
it the tests are skipped with the reason, except under CI (`CI` set), where they fail instead.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.servers import IdpServer, PortalServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UNDER_CI = bool(os.environ.get("CI"))

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


@pytest.fixture(scope="session")
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
    with PortalServer(idp_server.url, idp_server.portal_port, idp_server.outbox_dir,
                      log_dir=idp_server.folder) as server:
        yield server


@pytest.fixture(scope="module")
def member(idp_server) -> dict:
    """山田 太郎, a member of the demo society with a password."""
    fields = {name: value for name, value in MEMBER.items() if name not in ("username", "password")}
    idp_server.add_member(MEMBER["username"], MEMBER["password"], **fields)
    return MEMBER
