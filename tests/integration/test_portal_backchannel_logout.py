"""The demo portal hears of logouts by back-channel (OpenID Connect Back-Channel Logout 1.0): when
the member signs a device out on the account page (ログイン中の端末), the portal session on that
device ends too. The portal runs as a real HTTP server the identity provider POSTs to."""
from __future__ import annotations

import threading
import time

import pytest
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from examples.portal import backchannel, create_portal
from idp.oidc.discovery import discovery_document
from tests.support.account import ACCOUNT, post, sign_in_at_portal
from tests.support.backchannel import register_backchannel_logout
from tests.support.sign_in import PORTAL, REALM, add_member
from tests.support.tokens import claims_of

SIGNED_IN = "さん"


@pytest.fixture
def portal(monkeypatch, client):
    """The portal, its identity provider the test one (discovery and keys read through `client`)."""
    portal = create_portal({"PORTAL_IDP_URL": "http://localhost", "PORTAL_URL": "http://portal.test",
                            "PORTAL_SECRET_KEY": "portal-test-secret-0123456789", "PORTAL_OUTBOX_DIR": ""})
    portal.config.update(TESTING=True)
    metadata = discovery_document(f"http://localhost/realms/{REALM}")
    monkeypatch.setattr(portal.extensions["portal.idp"], "load_server_metadata", lambda: metadata)
    monkeypatch.setattr(backchannel, "_realm_keys", lambda uri: KeySet.import_key_set(
        client.get(f"/realms/{REALM}/protocol/openid-connect/certs").get_json()))
    return portal


@pytest.fixture
def portal_server(portal, database):
    """The portal listening on 127.0.0.1, registered as kosmo-portal's back-channel logout URL."""
    server = make_server("127.0.0.1", 0, portal, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    register_backchannel_logout(database, REALM, PORTAL, f"http://127.0.0.1:{server.server_port}/backchannel-logout")
    yield server
    server.shutdown()


def portal_signed_in(portal, tokens: dict):
    """The portal's browser after its callback took these tokens (who, and the session's `sid`)."""
    browser = portal.test_client()
    with browser.session_transaction() as session:
        session["id_token"] = tokens["id_token"]
        session["userinfo"] = {"sub": "hanako", "preferred_username": "hanako-01"}
        session["sid"] = tokens["session_state"]
    return browser


def test_signing_a_device_out_on_the_account_page_ends_its_portal_session(app, database, settings, portal,
                                                                        portal_server):
    add_member(database, settings, email_verified=True)
    phone, tablet = app.test_client(), app.test_client()
    sign_in_at_portal(phone)
    tablet_tokens = sign_in_at_portal(tablet)
    tablet_portal = portal_signed_in(portal, tablet_tokens)
    phone_portal = portal_signed_in(portal, {"id_token": "", "session_state": "the-phones-own-session"})
    assert SIGNED_IN in tablet_portal.get("/").get_data(as_text=True)

    post(phone, f"{ACCOUNT}/sessions/{tablet_tokens['session_state']}/logout", f"{ACCOUNT}/sessions")

    deadline = time.monotonic() + 10
    while not portal.extensions["portal.ended_sessions"].has_ended(tablet_tokens["session_state"]):
        assert time.monotonic() < deadline, "the portal never heard of the logout"
        time.sleep(0.05)
    page = tablet_portal.get("/").get_data(as_text=True)
    assert SIGNED_IN not in page and 'href="/login">ログイン</a>' in page
    assert SIGNED_IN in phone_portal.get("/").get_data(as_text=True)


def test_the_portal_refuses_what_is_not_a_logout_token_from_its_realm(client, database, settings, portal):
    add_member(database, settings, email_verified=True)
    answer = sign_in_at_portal(client)
    assert claims_of(client, answer["id_token"])["sid"] == answer["session_state"]
    receiver = portal.test_client()

    for token in ["", "not.a.jwt", answer["id_token"]]:  # an ID token is signed but is no logout token
        response = receiver.post("/backchannel-logout", data={"logout_token": token})
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
        assert response.headers["Cache-Control"] == "no-store"
    assert not portal.extensions["portal.ended_sessions"].has_ended(answer["session_state"])
