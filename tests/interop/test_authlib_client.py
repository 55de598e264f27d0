"""Authlib's requests client drives a running server: client credentials, password, refresh and
the authorization code + PKCE flow, whose browser part is a `requests.Session` filling in the
hosted sign-in form; ID tokens are checked independently with joserfc against `/certs`."""
from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.servers import (
    INTEROP_CONFIDENTIAL,
    INTEROP_CONFIDENTIAL_SECRET,
    INTEROP_PUBLIC,
    IdpServer,
    sign_in_form,
)

pytestmark = pytest.mark.interop

USERNAME = "kosmo9001"
PASSWORD = "Kumiai-Kenpo-9001"
SCOPE = "openid profile email"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with IdpServer(tmp_path_factory.mktemp("authlib")) as server:
        server.add_member(USERNAME, PASSWORD, email="jiro@example.jp", first_name="次郎", last_name="田中")
        yield server


@pytest.fixture(scope="module")
def endpoints(server) -> dict:
    return requests.get(f"{server.issuer()}/.well-known/openid-configuration", timeout=10).json()


@pytest.fixture
def confidential() -> OAuth2Session:
    return OAuth2Session(INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET, scope=SCOPE)


def sign_in_in_browser(browser: requests.Session, authorization_url: str, username: str, password: str) -> str:
    """What the member's browser does: open the sign-in page, submit it, and land on the callback."""
    page = browser.get(authorization_url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    action, hidden = sign_in_form(page.text)
    assert {"csrf_token", "tab_id"} <= set(hidden), hidden
    answer = browser.post(urljoin(authorization_url, action),
                          data={**hidden, "username": username, "password": password},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def start_code_flow(server: IdpServer, endpoints: dict) -> tuple[OAuth2Session, str, dict]:
    """A public client with PKCE (S256): (its session, the authorization URL, what it must check)."""
    client = OAuth2Session(INTEROP_PUBLIC, scope=SCOPE, redirect_uri=server.callback_url,
                           code_challenge_method="S256", token_endpoint_auth_method="none")
    checks = {"code_verifier": secrets.token_urlsafe(48), "nonce": secrets.token_urlsafe(16)}
    url, checks["state"] = client.create_authorization_url(endpoints["authorization_endpoint"], **checks)
    return client, url, checks


def verified_id_token(server: IdpServer, endpoints: dict, id_token: str, *, access_token: str,
                      nonce: str | None = None) -> dict:
    """The ID token's claims once joserfc has checked signature, iss, aud, exp, nonce and at_hash."""
    keys = KeySet.import_key_set(requests.get(endpoints["jwks_uri"], timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"])
    expected = {
        "iss": {"essential": True, "value": server.issuer()},
        "aud": {"essential": True, "value": INTEROP_PUBLIC},
        "exp": {"essential": True},
    }
    if nonce is not None:
        expected["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**expected).validate(token.claims)
    assert token.claims["at_hash"] == left_half_hash(access_token)
    return token.claims


def left_half_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the access token (RS256/ES256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def test_client_credentials_give_a_service_account_token_without_refresh_token(confidential, endpoints):
    token = confidential.fetch_token(endpoints["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert "refresh_token" not in token
    userinfo = confidential.get(endpoints["userinfo_endpoint"], timeout=10).json()
    assert userinfo["preferred_username"] == f"service-account-{INTEROP_CONFIDENTIAL}"


def test_password_grant_then_userinfo_with_the_bearer_token(confidential, endpoints):
    token = confidential.fetch_token(endpoints["token_endpoint"], username=USERNAME, password=PASSWORD)
    assert {"access_token", "refresh_token", "id_token", "session_state"} <= set(token)
    userinfo = confidential.get(endpoints["userinfo_endpoint"], timeout=10).json()
    assert userinfo["preferred_username"] == USERNAME
    assert userinfo["email"] == "jiro@example.jp"


def test_refresh_replaces_the_refresh_token_and_the_old_one_stops_working(confidential, endpoints):
    first = confidential.fetch_token(endpoints["token_endpoint"], username=USERNAME, password=PASSWORD)
    second = confidential.refresh_token(endpoints["token_endpoint"], refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_state"] == first["session_state"]
    reused = requests.post(endpoints["token_endpoint"], timeout=10,
                           auth=(INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET),
                           data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_code_flow_with_pkce_signs_the_member_in(server, endpoints):
    client, url, checks = start_code_flow(server, endpoints)
    callback = sign_in_in_browser(requests.Session(), url, USERNAME, PASSWORD)
    returned = parse_qs(urlsplit(callback).query)
    assert callback.startswith(server.callback_url + "?")
    assert returned["state"] == [checks["state"]]
    assert returned["iss"] == [server.issuer()]
    token = client.fetch_token(endpoints["token_endpoint"], authorization_response=callback,
                               code_verifier=checks["code_verifier"])
    assert set(token["scope"].split()) == {"openid", "profile", "email"}
    claims = verified_id_token(server, endpoints, token["id_token"], nonce=checks["nonce"],
                               access_token=token["access_token"])
    assert claims["typ"] == "ID"
    assert claims["azp"] == INTEROP_PUBLIC
    assert claims["sid"] == token["session_state"] == returned["session_state"][0]
    assert claims["preferred_username"] == USERNAME
    assert claims["name"] == "田中 次郎"


def test_the_refreshed_id_token_names_the_same_member_and_passes_the_checks(server, endpoints):
    client, url, checks = start_code_flow(server, endpoints)
    callback = sign_in_in_browser(requests.Session(), url, USERNAME, PASSWORD)
    token = client.fetch_token(endpoints["token_endpoint"], authorization_response=callback,
                               code_verifier=checks["code_verifier"])
    first = verified_id_token(server, endpoints, token["id_token"], access_token=token["access_token"])
    refreshed = client.refresh_token(endpoints["token_endpoint"], refresh_token=token["refresh_token"])
    again = verified_id_token(server, endpoints, refreshed["id_token"], access_token=refreshed["access_token"])
    assert (again["sub"], again["sid"], again["auth_time"]) == (first["sub"], first["sid"], first["auth_time"])


def test_a_code_is_good_for_one_exchange_only(server, endpoints):
    client, url, checks = start_code_flow(server, endpoints)
    callback = sign_in_in_browser(requests.Session(), url, USERNAME, PASSWORD)
    client.fetch_token(endpoints["token_endpoint"], authorization_response=callback,
                       code_verifier=checks["code_verifier"])
    code = parse_qs(urlsplit(callback).query)["code"][0]
    replay = requests.post(endpoints["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": INTEROP_PUBLIC,
        "redirect_uri": server.callback_url, "code_verifier": checks["code_verifier"]})
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_wrong_code_verifier_gets_no_tokens(server, endpoints):
    client, url, checks = start_code_flow(server, endpoints)
    callback = sign_in_in_browser(requests.Session(), url, USERNAME, PASSWORD)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    answer = requests.post(endpoints["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": INTEROP_PUBLIC,
        "redirect_uri": server.callback_url, "code_verifier": secrets.token_urlsafe(48)})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_signed_in_browser_gets_the_next_code_without_the_form(server, endpoints):
    browser = requests.Session()
    _client, url, _checks = start_code_flow(server, endpoints)
    sign_in_in_browser(browser, url, USERNAME, PASSWORD)
    client, url, checks = start_code_flow(server, endpoints)
    again = browser.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 302
    callback = again.headers["Location"]
    token = client.fetch_token(endpoints["token_endpoint"], authorization_response=callback,
                               code_verifier=checks["code_verifier"])
    verified_id_token(server, endpoints, token["id_token"], nonce=checks["nonce"], access_token=token["access_token"])
