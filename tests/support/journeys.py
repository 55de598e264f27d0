"""Steps for tests that run real `idp serve` processes on a PostgreSQL cluster and a
redis-server of their own: a member's browser (a `requests.Session`) and a relying party's calls.

Their fixtures (the `postgres` cluster and the `redis_server`) are in tests/integration/conftest.py.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from tests.support.servers import (
    INTEROP_CONFIDENTIAL,
    INTEROP_CONFIDENTIAL_SECRET,
    PostgresCluster,
    RedisServer,
    sign_in_form,
)

USERNAME = "kosmo7001"
PASSWORD = "Kenpo-Kumiai-7001"
UNAVAILABLE_TEXT = "ただいまシステムが混み合っているか、メンテナンス中です。"
SESSION_EXPIRED_TEXT = "ログインの有効期限が切れました"
TIMEOUT = 10


def shared_storage(postgres: PostgresCluster, redis_server: RedisServer, **more: str) -> dict[str, str]:
    """The settings that put an `idp serve` on the test's own PostgreSQL and Redis."""
    return {"IDP_DATABASE_URL": postgres.url, "IDP_REDIS_URL": redis_server.url, **more}


class Browser:
    """A member's browser on the relying party's sign-in: cookies kept, redirects looked at."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()

    def arrive(self, base_url: str | None = None) -> requests.Response:
        """The relying party sends the member to the authorization endpoint (code flow)."""
        params = {"client_id": INTEROP_CONFIDENTIAL, "redirect_uri": self.server.callback_url,
                  "response_type": "code", "scope": "openid", "state": secrets.token_urlsafe(8),
                  "nonce": secrets.token_urlsafe(8)}
        url = f"{base_url or self.server.url}/realms/kosmo-demo/protocol/openid-connect/auth?{urlencode(params)}"
        return self.session.get(url, allow_redirects=False, timeout=TIMEOUT)

    def open_sign_in(self, base_url: str | None = None) -> SignInPage:
        """The sign-in page the member arrives at."""
        page = self.arrive(base_url)
        assert page.status_code == 200, page.text[:1000]
        action, hidden = sign_in_form(page.text)
        return SignInPage(self, urljoin(page.url, action), hidden)


class SignInPage:
    """The sign-in form as the browser holds it: sending it again sends the same tab and tokens."""

    def __init__(self, browser: Browser, action: str, hidden: dict[str, str]):
        self.browser, self.action, self.hidden = browser, action, hidden

    def send(self, username: str = USERNAME, password: str = PASSWORD) -> requests.Response:
        return self.browser.session.post(self.action, data={**self.hidden, "username": username,
                                                            "password": password},
                                         allow_redirects=False, timeout=TIMEOUT)


def code_from(answer: requests.Response) -> str:
    """The authorization code on the redirect back to the relying party."""
    assert answer.status_code == 302, answer.text[:1000]
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def sign_in(server, base_url: str | None = None) -> str:
    """A whole sign-in: the member's code."""
    return code_from(Browser(server).open_sign_in(base_url).send())


class RelyingParty:
    """The confidential interop client calling one server's OpenID Connect endpoints."""

    def __init__(self, server, base_url: str):
        self.server = server
        self.endpoints = f"{base_url}/realms/kosmo-demo/protocol/openid-connect"
        self.auth = (INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET)

    def _post(self, path: str, data: dict) -> requests.Response:
        return requests.post(f"{self.endpoints}/{path}", data=data, auth=self.auth, timeout=TIMEOUT)

    def exchange(self, code: str) -> requests.Response:
        return self._post("token", {"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": self.server.callback_url})

    def refresh(self, refresh_token: str) -> requests.Response:
        return self._post("token", {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def logout(self, refresh_token: str) -> requests.Response:
        return self._post("logout", {"refresh_token": refresh_token})

    def introspect(self, token: str) -> requests.Response:
        return self._post("token/introspect", {"token": token})

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(f"{self.endpoints}/userinfo", headers={"Authorization": f"Bearer {access_token}"},
                            timeout=TIMEOUT)


def tokens(answer: requests.Response) -> dict:
    assert answer.status_code == 200, answer.text[:1000]
    return answer.json()


def assert_unavailable_page(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text[:1000]
    assert answer.headers["Content-Type"].startswith("text/html")
    assert UNAVAILABLE_TEXT in answer.text
    assert int(answer.headers["Retry-After"]) > 0


def assert_unavailable_json(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text[:1000]
    assert answer.json()["error"] == "temporarily_unavailable"
    assert int(answer.headers["Retry-After"]) > 0


def readiness(base_url: str) -> tuple[int, dict]:
    answer = requests.get(f"{base_url}/health/ready", timeout=TIMEOUT)
    return answer.status_code, {check["name"]: check["status"] for check in answer.json()["checks"]}


def logged(server_log: Path, text: str) -> list[str]:
    return [line for line in server_log.read_text(errors="replace").splitlines() if text in line]
