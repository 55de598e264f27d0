"""Two `idp serve` processes behind one public URL, sharing PostgreSQL and Redis, behave as one:
a member signs in on the first, the relying party refreshes and signs out on the second, and
the first then refuses the session, the refresh tokens and the access token, as Keycloak does.
"""
from __future__ import annotations

import pytest
import requests

from tests.support.journeys import PASSWORD, USERNAME, Browser, RelyingParty, code_from, shared_storage, tokens
from tests.support.servers import IdpServer

pytestmark = pytest.mark.servers


@pytest.fixture
def servers(tmp_path, postgres, redis_server):
    storage = shared_storage(postgres, redis_server)
    with IdpServer(tmp_path / "first", env=storage) as first:
        # Behind a load balancer both answer for one issuer; the first already loaded the
        # realm files into the shared database, so the second loads none.
        second_env = {**storage, "IDP_BASE_URL": first.url, "IDP_LOAD_REALMS": "false"}
        with IdpServer(tmp_path / "second", env=second_env) as second:
            first.add_member(USERNAME, PASSWORD, email="saburo@example.jp", first_name="三郎", last_name="高橋")
            yield first, second


def signed_in_on(server) -> tuple[Browser, dict]:
    """A member's browser that signed in on `server`, and the relying party's tokens."""
    browser = Browser(server)
    code = code_from(browser.open_sign_in().send())
    return browser, tokens(RelyingParty(server, server.url).exchange(code))


def assert_signed_out_everywhere(first, browser: Browser, *spent: dict) -> None:
    """What the first server says about a session the second ended."""
    on_first = RelyingParty(first, first.url)
    for issued in spent:
        refused = on_first.refresh(issued["refresh_token"])
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
        assert on_first.introspect(issued["access_token"]).json() == {"active": False}
        assert on_first.userinfo(issued["access_token"]).status_code == 401
    # No SSO session any more: the member is asked to sign in again rather than sent back with a code.
    again = browser.arrive(first.url)
    assert again.status_code == 200 and 'name="password"' in again.text


def test_refreshed_and_signed_out_on_the_second_the_first_refuses_session_and_tokens(servers):
    first, second = servers
    browser, issued = signed_in_on(first)
    on_second = RelyingParty(first, second.url)

    refreshed = tokens(on_second.refresh(issued["refresh_token"]))
    assert on_second.userinfo(refreshed["access_token"]).json()["preferred_username"] == USERNAME
    assert code_from(browser.arrive(second.url))  # the SSO session is known on the second too

    assert on_second.logout(refreshed["refresh_token"]).status_code == 204

    assert_signed_out_everywhere(first, browser, issued, refreshed)


def test_signed_out_in_the_browser_on_the_second_the_first_refuses_session_and_tokens(servers):
    first, second = servers
    browser, issued = signed_in_on(first)
    refreshed = tokens(RelyingParty(first, second.url).refresh(issued["refresh_token"]))

    ended = browser.session.get(f"{second.url}/realms/kosmo-demo/protocol/openid-connect/logout",
                                params={"id_token_hint": refreshed["id_token"],
                                        "post_logout_redirect_uri": first.callback_url, "state": "bye"},
                                allow_redirects=False, timeout=10)

    assert ended.status_code == 302 and ended.headers["Location"] == f"{first.callback_url}?state=bye"
    assert_signed_out_everywhere(first, browser, issued, refreshed)
    assert requests.get(f"{first.url}/health/ready", timeout=10).status_code == 200
