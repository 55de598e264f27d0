"""The pages keycloak-js frames from a relying party's page, as Keycloak serves them
(LoginStatusIframeEndpoint, ThirdPartyCookiesIframeEndpoint): the session-status iframe, its origin
check, and the third-party-cookie check; only they may be framed, and only by web origins."""
from __future__ import annotations

import base64
import hashlib

import pytest

from idp.db.models import Client
from tests.support.sign_in import OIDC, PORTAL, REALM_PATH, add_member, pkce_pair, sign_in_for_code

APP = "http://localhost:8081"
IFRAME_PAGES = ["/login-status-iframe.html", "/3p-cookies/step1.html", "/3p-cookies/step2.html"]


def set_web_origins(database, origins: list[str]) -> None:
    with database.session() as session:
        session.query(Client).filter(Client.client_id == PORTAL).one().web_origins = origins
        session.commit()


def frame_ancestors(response) -> str:
    policy = response.headers["Content-Security-Policy"]
    return policy.split("frame-ancestors ")[1].split(";")[0]


@pytest.mark.parametrize("path", IFRAME_PAGES)
def test_the_iframe_pages_may_be_framed_by_the_realms_web_origins_only(client, database, path):
    set_web_origins(database, ["+"])

    response = client.get(f"{OIDC}{path}")

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert frame_ancestors(response) == f"'self' {APP}"
    assert "X-Frame-Options" not in response.headers
    page = response.get_data(as_text=True)
    assert '<script src="/resources/ja/js/' in page and "<script>" not in page


def test_a_realm_without_web_origins_lets_nobody_else_frame_the_iframe(client, database):
    set_web_origins(database, [])

    response = client.get(f"{OIDC}/login-status-iframe.html")

    assert frame_ancestors(response) == "'self'"


@pytest.mark.parametrize("path", ["/auth?client_id=kosmo-portal", "/logout"])
def test_every_other_page_still_refuses_to_be_framed(client, database, path):
    set_web_origins(database, ["+"])

    response = client.get(f"{OIDC}{path}")

    assert frame_ancestors(response) == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_iframe_init_check_accepts_only_the_clients_web_origins(client, database):
    """Keycloak's login-status-iframe.html/init: 204 for a web origin of the client or the server's own
    origin, 403 otherwise."""
    set_web_origins(database, ["+"])
    init = f"{OIDC}/login-status-iframe.html/init"

    assert client.get(f"{init}?client_id={PORTAL}&origin={APP}").status_code == 204
    assert client.get(f"{init}?client_id={PORTAL}&origin=http://evil.example").status_code == 403
    assert client.get(f"{init}?client_id=no-such-client&origin={APP}").status_code == 403
    assert client.get(f"{init}?client_id={PORTAL}").status_code == 403
    assert client.get(f"{init}?client_id={PORTAL}&origin=http://localhost").status_code == 204  # our own origin


def test_signing_in_sets_the_session_state_cookie_the_iframe_compares(client, database, settings):
    """Keycloak 26's KEYCLOAK_SESSION cookie: readable by script, the SHA-256 of the session id that the
    authorization response names as session_state."""
    add_member(database, settings)

    params = sign_in_for_code(client, pkce_pair())

    expected = base64.urlsafe_b64encode(hashlib.sha256(params["session_state"].encode()).digest()).rstrip(b"=")
    cookie = client.get_cookie("KC_IDP_SESSION_STATE", path=f"{REALM_PATH}/")
    assert cookie is not None and cookie.value == expected.decode()
    assert not cookie.http_only


def test_discovery_names_the_session_status_iframe_as_keycloak_does(client):
    document = client.get(f"{REALM_PATH}/.well-known/openid-configuration").get_json()

    assert document["check_session_iframe"] == f"http://localhost{OIDC}/login-status-iframe.html"
