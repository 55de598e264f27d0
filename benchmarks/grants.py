"""What a relying party, a member's browser and an administrator's script send to kosmo-idp, as
load-generator steps (see load.py), and what must be prepared before them (sign-ins, codes)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from benchmarks.load import Exhausted, LocalSession, Step
from tests.support.servers import sign_in_form


@dataclass(frozen=True)
class Realm:
    """Where the realm answers and the confidential client the load signs in with."""

    url: str  # http://127.0.0.1:PORT/realms/NAME
    callback_url: str
    client_id: str
    client_secret: str
    token_path: str = "/protocol/openid-connect/token"

    @property
    def token_url(self) -> str:
        return self.url + self.token_path

    @property
    def auth_url(self) -> str:
        return f"{self.url}/protocol/openid-connect/auth?" + urlencode({
            "client_id": self.client_id, "response_type": "code", "scope": "openid",
            "redirect_uri": self.callback_url})

    @property
    def client_auth(self) -> tuple[str, str]:
        return self.client_id, self.client_secret


def _answered(answer, status: int = 200) -> str | None:
    return None if answer.status_code == status else f"{answer.status_code} {answer.text[:200]}"


def _code(answer) -> str:
    """The code of a redirect back to the relying party."""
    if answer.status_code != 302:
        raise RuntimeError(f"expected a redirect with a code, got {answer.status_code}: {answer.text[:300]}")
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def client_credentials(realm: Realm) -> Step:
    http = LocalSession()
    return lambda: _answered(http.post(realm.token_url, auth=realm.client_auth,
                                       data={"grant_type": "client_credentials"}))


def password_grant(realm: Realm, username: str, password: str) -> Step:
    http = LocalSession()
    return lambda: _answered(http.post(realm.token_url, auth=realm.client_auth, data={
        "grant_type": "password", "username": username, "password": password, "scope": "openid"}))


def refresh(realm: Realm, refresh_token: str) -> Step:
    """Refreshes one token family, always with the newest (rotated) refresh token."""
    http = LocalSession()
    newest = [refresh_token]

    def step() -> str | None:
        answer = http.post(realm.token_url, auth=realm.client_auth,
                           data={"grant_type": "refresh_token", "refresh_token": newest[0]})
        if answer.status_code == 200:
            newest[0] = answer.json()["refresh_token"]
        return _answered(answer)

    return step


def sign_in_page(realm: Realm) -> tuple[LocalSession, str, dict[str, str]]:
    """A new browser at the hosted sign-in page: its session, the form's address and hidden fields."""
    browser = LocalSession()
    page = browser.get(realm.auth_url)
    page.raise_for_status()
    action, hidden = sign_in_form(page.text)
    # The form goes out later on a connection of its own, as after a member typed: a kept-alive
    # one may meanwhile be closed by the server (gunicorn keeps idle ones 2 s) under our send.
    browser.close()
    return browser, urljoin(realm.auth_url, action), hidden


def sign_in_step(pages: list, username: str, password: str) -> Step:
    """Sends the password form of each prepared page once; a redirect with a code is success."""

    def step() -> str | None:
        if not pages:
            raise Exhausted
        browser, action, hidden = pages.pop()
        answer = browser.post(action, allow_redirects=False,
                              data={**hidden, "username": username, "password": password})
        return None if answer.status_code == 302 and "code=" in answer.headers.get("Location", "") \
            else f"{answer.status_code} {answer.text[:200]}"

    return step


def signed_in_browser(realm: Realm, username: str, password: str) -> tuple[LocalSession, str]:
    """A browser that signed the member in (its SSO cookie kept) and the code it came back with."""
    browser, action, hidden = sign_in_page(realm)
    answer = browser.post(action, allow_redirects=False, data={**hidden, "username": username, "password": password})
    return browser, _code(answer)


def next_code(realm: Realm, browser: LocalSession) -> str:
    """Another code for a browser already signed in: the SSO session answers without a form."""
    return _code(browser.get(realm.auth_url, allow_redirects=False))


def exchange(realm: Realm, code: str) -> dict:
    answer = LocalSession().post(realm.token_url, auth=realm.client_auth, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": realm.callback_url})
    answer.raise_for_status()
    return answer.json()


def code_exchange(realm: Realm, codes: list[str]) -> Step:
    """Trades each prepared code for tokens once."""
    http = LocalSession()

    def step() -> str | None:
        if not codes:
            raise Exhausted
        return _answered(http.post(realm.token_url, auth=realm.client_auth, data={
            "grant_type": "authorization_code", "code": codes.pop(), "redirect_uri": realm.callback_url}))

    return step


def user_search(realm: Realm, admin_url: str, access_token: str, term: str) -> Step:
    """The Admin API's `GET users?search=` as Keycloak's admin console sends it."""
    http = LocalSession()
    http.headers["Authorization"] = f"Bearer {access_token}"
    query = urlencode({"search": term, "first": 0, "max": 20, "briefRepresentation": "true"})
    return lambda: _answered(http.get(f"{admin_url}/users?{query}"))


def service_token(realm: Realm, client_id: str, secret: str) -> str:
    answer = LocalSession().post(realm.token_url, auth=(client_id, secret), data={"grant_type": "client_credentials"})
    answer.raise_for_status()
    return answer.json()["access_token"]
