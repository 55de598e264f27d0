"""A single-page app written with keycloak-js (the npm release pinned in tests/interop/node), on another
origin, signs a member in with the library's defaults in Chromium: the third-party-cookie check, the
session-status iframe, fragment response mode, PKCE, token refresh, userinfo, the account REST
profile, logout, and check-sso with and without a silent check page."""
from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.browser import DESKTOP
from tests.support.servers import INTEROP_KEYCLOAK_JS, KEYCLOAK_JS_PAGES, REALM
from tests.support.settings import UNDER_CI

pytestmark = pytest.mark.browser

NODE_DIR = Path(__file__).resolve().parent.parent / "interop" / "node"
KEYCLOAK_JS = NODE_DIR / "node_modules" / "keycloak-js" / "lib" / "keycloak.js"

# Each app page starts keycloak-js with these init options (None: the silent check page).
INIT_OPTIONS = {
    "login-required.html": {"onLoad": "login-required", "pkceMethod": "S256"},
    "check-sso.html": {"onLoad": "check-sso", "pkceMethod": "S256"},
    "check-sso-silent.html": {"onLoad": "check-sso", "pkceMethod": "S256", "silentCheckSsoRedirectUri": "SILENT"},
}
APP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>keycloak-js app</title></head><body>
<script type="module">
import Keycloak from "./keycloak.js";
const options = %(options)s;
if (options.silentCheckSsoRedirectUri) options.silentCheckSsoRedirectUri = location.origin + "/silent-check-sso.html";
window.keycloak = new Keycloak(%(config)s);
window.keycloak.init(options).then(
  (authenticated) => { window.initResult = {authenticated}; },
  (error) => { window.initResult = {error: String(error && (error.message || error.error) || error)}; });
</script></body></html>
"""
SILENT_CHECK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"></head><body>
<script>parent.postMessage(location.href, location.origin);</script>
</body></html>
"""


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """The test's output stays readable."""


@pytest.fixture(scope="module")
def app(idp_server, tmp_path_factory):
    """The app's pages and keycloak-js's ES module, served on the origin the test client's redirect
    URIs name (another port than the identity provider's)."""
    if not KEYCLOAK_JS.exists():
        problem = f"keycloak-js is not installed: run `npm ci` in {NODE_DIR} (make test does)"
        if UNDER_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    folder = tmp_path_factory.mktemp("keycloak-js-app")
    shutil.copy(KEYCLOAK_JS, folder / "keycloak.js")
    config = json.dumps({"url": idp_server.url, "realm": REALM, "clientId": INTEROP_KEYCLOAK_JS})
    for page, options in INIT_OPTIONS.items():
        (folder / page).write_text(APP_PAGE % {"options": json.dumps(options), "config": config}, encoding="utf-8")
    (folder / "silent-check-sso.html").write_text(SILENT_CHECK_PAGE, encoding="utf-8")
    assert set(KEYCLOAK_JS_PAGES) == {*INIT_OPTIONS, "silent-check-sso.html"}
    origin = idp_server.callback_url.rsplit("/", 1)[0]
    server = ThreadingHTTPServer(("127.0.0.1", urlsplit(origin).port), partial(_QuietFiles, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield origin
    server.shutdown()
    server.server_close()


@pytest.fixture
def tab(browser):
    """A tab in a fresh browser profile; keycloak-js's console warnings are kept for failures."""
    context = browser.new_context(locale="ja-JP", **DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    yield page
    context.close()


def init_result(page) -> dict:
    page.wait_for_function("window.initResult !== undefined", timeout=20_000)
    return page.evaluate("window.initResult")


def sign_in(page, member: dict) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="ログイン", level=1)).to_be_visible()
    page.get_by_label("ユーザID").fill(member["username"])
    page.get_by_label("パスワード", exact=True).fill(member["password"])
    page.get_by_role("button", name="ログイン", exact=True).click()


def test_login_required_with_the_defaults_then_refresh_userinfo_profile_and_logout(
        tab, app, idp_server, member):
    """Keycloak's behaviour pinned: 3p-cookies/step1.html and step2.html answer "supported"; the code comes
    back in the fragment (keycloak-js's default response_mode) with session_state; the token exchange,
    refresh, userinfo and account REST calls are allowed by CORS from the client's web origins (`+`);
    login-status-iframe.html answers "unchanged" for the session named by the token's sid; logout with
    id_token_hint ends the session and returns to the page."""
    tab.goto(f"{app}/login-required.html")
    sign_in(tab, member)

    assert init_result(tab) == {"authenticated": True}, tab.console_messages
    assert tab.url == f"{app}/login-required.html"
    assert not [text for text in tab.console_messages if "[KEYCLOAK]" in text]  # e.g. "blocking 3rd-party cookies"
    token = tab.evaluate("window.keycloak.tokenParsed")
    assert token["azp"] == INTEROP_KEYCLOAK_JS and token["preferred_username"] == member["username"]
    assert tab.evaluate("window.keycloak.sessionId") == token["sid"]

    refreshed = tab.evaluate("async () => [await window.keycloak.updateToken(-1), window.keycloak.tokenParsed.jti]")
    assert refreshed[0] is True and refreshed[1] != token["jti"]
    userinfo = tab.evaluate("window.keycloak.loadUserInfo()")
    assert userinfo["preferred_username"] == member["username"] and userinfo["sub"] == token["sub"]
    profile = tab.evaluate("window.keycloak.loadUserProfile()")
    assert profile["username"] == member["username"]
    assert (profile["firstName"], profile["lastName"], profile["email"]) == (
        member["first_name"], member["last_name"], member["email"])
    assert profile["id"] == token["sub"] and "emailVerified" in profile and "attributes" in profile

    tab.evaluate("window.keycloak.logout()")
    # Back at the page, whose login-required init finds no session and sends the member to sign in.
    from playwright.sync_api import expect
    expect(tab.get_by_role("heading", name="ログイン", level=1)).to_be_visible()
    assert tab.url.startswith(f"{idp_server.url}/realms/{REALM}/")


def test_check_sso_without_a_session_stays_signed_out_and_with_one_signs_in(tab, app, member):
    """Keycloak's login-status-iframe answers "unchanged" when neither the page nor the browser has a
    session, and "changed" once the browser has one, so keycloak-js asks with prompt=none and the
    SSO session answers without a page."""
    tab.goto(f"{app}/check-sso.html")
    assert init_result(tab) == {"authenticated": False}, tab.console_messages
    assert tab.url == f"{app}/check-sso.html"

    tab.goto(f"{app}/login-required.html")
    sign_in(tab, member)
    assert init_result(tab) == {"authenticated": True}, tab.console_messages

    tab.goto(f"{app}/check-sso.html")
    assert init_result(tab) == {"authenticated": True}, tab.console_messages
    assert tab.url == f"{app}/check-sso.html"


def test_check_sso_with_a_silent_check_page_signs_in_inside_an_iframe(tab, app, member):
    """With silentCheckSsoRedirectUri, keycloak-js frames the authorization request (prompt=none); the
    code comes back to the silent page in the iframe, and the app page never navigates."""
    tab.goto(f"{app}/check-sso-silent.html")
    assert init_result(tab) == {"authenticated": False}, tab.console_messages

    tab.goto(f"{app}/login-required.html")
    sign_in(tab, member)
    assert init_result(tab) == {"authenticated": True}, tab.console_messages

    navigations = []
    tab.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == tab.main_frame else None)
    tab.goto(f"{app}/check-sso-silent.html")
    assert init_result(tab) == {"authenticated": True}, tab.console_messages
    assert navigations == [f"{app}/check-sso-silent.html"]
    assert tab.evaluate("window.keycloak.tokenParsed.preferred_username") == member["username"]
