"""The steps every OpenID Connect story starts with: a member of the demo society, a PKCE pair,
an authorization request, the hosted sign-in form filled in and followed, and what it leaves."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import func, select

from idp.db.models import UserSession
from idp.db.users import create_user
from idp.realms import find_realm

REALM = "kosmo-demo"
REALM_PATH = f"/realms/{REALM}"
OIDC = f"{REALM_PATH}/protocol/openid-connect"
PORTAL = "kosmo-portal"
PORTAL_SECRET = "demo-portal-secret-change-me"
CALLBACK = "http://localhost:8081/callback"
PORTAL_TOP = "http://localhost:8081/"
MEMBER_ID = "hanako-01"
MEMBER_PASSWORD = "sakura-2024-spring"
SSO_COOKIE = "KC_IDP_SESSION"


def add_member(database, settings, username: str = MEMBER_ID, password: str = MEMBER_PASSWORD, **fields) -> str:
    """A member of the demo society; returns the user's id."""
    fields = {"email": f"{username}@example.jp", "first_name": "花子", "last_name": "山田", **fields}
    with database.session() as session:
        realm = find_realm(session, REALM)
        user = create_user(session, realm, username, settings=settings, password=password, **fields)
        session.commit()
        return user.id


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_params(challenge: str | None = None, **overrides) -> dict:
    params = {
        "client_id": PORTAL, "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
        "state": "portal-state-1", "nonce": "portal-nonce-1",
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def authorize(client, challenge: str | None = None, **overrides):
    return client.get(f"{OIDC}/auth?" + urlencode(authorization_params(challenge, **overrides)))


def form_action(page: str) -> str:
    return unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))


def hidden_value(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    assert match, f"no field {name} on the page"
    return unescape(match.group(1))


def submit_sign_in(client, page: str, username: str = MEMBER_ID, password: str = MEMBER_PASSWORD,
                   remember_me: bool = False, **extra):
    data = {"csrf_token": hidden_value(page, "csrf_token"), "tab_id": hidden_value(page, "tab_id"),
            "step": hidden_value(page, "step"), "username": username, "password": password}
    if remember_me:
        data["remember_me"] = "y"
    data.update(extra)
    return follow_step(client, client.post(form_action(page), data={k: v for k, v in data.items() if v is not None}))


def follow_step(client, response):
    """What the browser does after a finished step: GET the next step (Post/Redirect/Get)."""
    while response.status_code == 303:
        response = client.get(response.headers["Location"])
    return response


def redirect_params(response) -> dict:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def sign_in_for_code(client, verifier_challenge: tuple[str, str] | None = None, remember_me: bool = False,
                     **overrides) -> dict:
    """The member signs in on the hosted page; returns the redirect's query parameters."""
    challenge = verifier_challenge[1] if verifier_challenge else pkce_pair()[1]
    page = authorize(client, challenge, **overrides)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return redirect_params(submit_sign_in(client, page.get_data(as_text=True), remember_me=remember_me))


def later(monkeypatch, seconds: int) -> None:
    """Move the clock the ephemeral store, tokens and auth times read forward by `seconds`."""
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)


def sso_cookie_header(response) -> str:
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith(SSO_COOKIE + "="))


def count_sessions(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(UserSession))


def referer_sent_by_browser(page: str, page_url: str) -> dict:
    """The Referer a browser sends when posting the page's form back to the same origin."""
    policy = re.search(r'<meta name="referrer" content="([^"]+)"', page)
    if policy and policy.group(1) == "no-referrer":
        return {}
    if policy and policy.group(1) in ("origin", "strict-origin", "origin-when-cross-origin",
                                      "strict-origin-when-cross-origin"):
        return {"Referer": page_url.split("/realms/")[0] + "/"}
    return {"Referer": page_url}


def fields_of(page: str) -> dict:
    """The hidden fields every step form carries: csrf_token, tab_id and the step token."""
    return {name: unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
