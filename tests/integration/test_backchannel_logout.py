"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): whichever way a member's session
ends, the portal's logout endpoint (a real HTTP server here) gets a logout token it can verify
against the realm's keys, after the page has answered and however slow or broken the portal is."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from idp.db.models import UserSession, utcnow
from tests.support.account import ACCOUNT, post, sign_in_at_portal
from tests.support.backchannel import register_backchannel_logout, verified_logout_claims
from tests.support.lockout import attempt, brute_force, enabled
from tests.support.recovery import BIRTHDATE, NEW_PASSWORD, ask_for_link, mailed_link, mails_to, press, settle_member
from tests.support.settings import make_settings
from tests.support.sign_in import MEMBER_ID, PORTAL, REALM, add_member, authorize, pkce_pair
from tests.support.tokens import claims_of, logout_url, signed_in_tokens


@pytest.fixture
def settings(tmp_path):
    """A short wait between tries keeps the retry stories quick."""
    return make_settings(tmp_path, backchannel_logout_retry_ms=50)


@pytest.fixture
def portal_listens(database, receiver):
    register_backchannel_logout(database, REALM, PORTAL, receiver.url)
    return receiver


def metric(client, result: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(f'idp_backchannel_logout_total{{realm="{REALM}",result="{result}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0


def failures_logged(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "idp.backchannel_logout"]


def session_ids(database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(UserSession.id).order_by(UserSession.started_at)))


def test_rp_initiated_logout_tells_the_portal_with_the_sessions_sid(client, database, settings, portal_listens):
    """Keycloak sends a logout token to each client of the session on RP-initiated logout, with
    `sid` when the client's backchannel.logout.session.required is on."""
    answer = signed_in_tokens(client, database, settings)

    client.get(logout_url(id_token_hint=answer["id_token"]))

    (token,) = portal_listens.wait_for(1)
    claims = verified_logout_claims(client, REALM, token)
    assert claims["aud"] == PORTAL and claims["sid"] == answer["session_state"]
    assert claims["sub"] == claims_of(client, answer["id_token"])["sub"]
    assert metric(client, "success") == 1


def test_without_session_required_the_token_names_only_the_member(client, database, settings, receiver):
    """Keycloak leaves `sid` out when backchannel.logout.session.required is off."""
    register_backchannel_logout(database, REALM, PORTAL, receiver.url, backchannel_logout_session_required=False)
    answer = signed_in_tokens(client, database, settings)

    client.get(logout_url(id_token_hint=answer["id_token"]))

    claims = verified_logout_claims(client, REALM, receiver.wait_for(1)[0])
    assert "sid" not in claims and claims["sub"]


def test_signing_a_device_out_on_the_account_page_tells_the_portal_of_that_device(app, database, settings,
                                                                                 portal_listens):
    """Keycloak's account console 'sign out' of one device ends that session and back-channel
    logs out its clients; the member's own session and its portal session stay."""
    add_member(database, settings, email_verified=True)
    phone, tablet = app.test_client(), app.test_client()
    sign_in_at_portal(phone)
    tablet_tokens = sign_in_at_portal(tablet)

    post(phone, f"{ACCOUNT}/sessions/{tablet_tokens['session_state']}/logout", f"{ACCOUNT}/sessions")

    tokens = portal_listens.wait_for(1)
    assert [verified_logout_claims(phone, REALM, token)["sid"] for token in tokens] == [tablet_tokens["session_state"]]
    time.sleep(0.2)
    assert len(portal_listens.tokens) == 1, "the phone's own portal session is not signed out"


def test_signing_out_every_other_device_tells_the_portal_of_each(app, database, settings, portal_listens):
    """Keycloak's 'sign out all other devices' back-channel logs out each ended session."""
    add_member(database, settings, email_verified=True)
    phone, tablet, laptop = app.test_client(), app.test_client(), app.test_client()
    sign_in_at_portal(phone)
    others = {sign_in_at_portal(tablet)["session_state"], sign_in_at_portal(laptop)["session_state"]}

    post(phone, f"{ACCOUNT}/sessions/others/logout", f"{ACCOUNT}/sessions")

    assert {verified_logout_claims(phone, REALM, token)["sid"] for token in portal_listens.wait_for(2)} == others


@pytest.mark.usefixtures("no_answer_floor")
def test_a_password_reset_tells_the_portal_of_the_sessions_it_ends(client, database, settings, portal_listens):
    """Keycloak's reset-credentials flow ends the member's other sessions (and back-channel logs
    out their clients) once the new password is set."""
    settle_member(database, settings)
    other_device = client.application.test_client()
    ended = sign_in_at_portal(other_device)["session_state"]

    assert ask_for_link(client).status_code == 200
    opened = client.get(mailed_link(mails_to(settings, f"{MEMBER_ID}@example.jp")[-1]), follow_redirects=True)
    asked = press(client, opened.get_data(as_text=True), **BIRTHDATE).get_data(as_text=True)
    press(client, asked, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD)

    assert [verified_logout_claims(client, REALM, token)["sid"] for token in portal_listens.wait_for(1)] == [ended]


def test_a_permanent_lockout_ends_the_members_sessions_and_tells_the_portal(app, clock, database, settings,
                                                                            portal_listens):
    """Keycloak disables a member at a permanent lockout; here their sessions end with it, and
    the portal hears of each by back-channel logout."""
    add_member(database, settings)
    phone, guesser = app.test_client(), app.test_client()
    signed_in = sign_in_at_portal(phone)["session_state"]
    brute_force(database, permanent_lockout=True, failure_factor=3)

    for _ in range(3):
        attempt(guesser, clock)

    assert not enabled(database)
    assert session_ids(database) == []
    assert [verified_logout_claims(phone, REALM, token)["sid"] for token in portal_listens.wait_for(1)] == [signed_in]


def test_a_failing_portal_is_tried_three_times_and_the_failure_logged_once(client, database, settings, caplog,
                                                                          portal_listens):
    """Keycloak logs a failed back-channel logout; here it is retried with a growing wait first."""
    portal_listens.statuses = [500, 503, 500]
    answer = signed_in_tokens(client, database, settings)

    with caplog.at_level(logging.WARNING, logger="idp.backchannel_logout"):
        client.get(logout_url(id_token_hint=answer["id_token"]))
        tokens = portal_listens.wait_for(3)
        deadline = time.monotonic() + 5
        while not failures_logged(caplog) and time.monotonic() < deadline:
            time.sleep(0.02)

    assert len(tokens) == 3 and len(set(tokens)) == 1
    (record,) = failures_logged(caplog)
    assert PORTAL in record.getMessage() and answer["session_state"] in record.getMessage()
    assert "HTTP 500" in record.getMessage()
    assert (metric(client, "retry"), metric(client, "failure"), metric(client, "success")) == (2, 1, 0)


def test_a_portal_that_fails_once_gets_the_token_on_the_second_try(client, database, settings, portal_listens):
    portal_listens.statuses = [502]
    answer = signed_in_tokens(client, database, settings)

    client.get(logout_url(id_token_hint=answer["id_token"]))

    assert len(portal_listens.wait_for(2)) == 2
    deadline = time.monotonic() + 5
    while metric(client, "success") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (metric(client, "retry"), metric(client, "success")) == (1, 1)


def test_a_slow_portal_never_delays_the_members_page(client, database, settings, portal_listens):
    """Keycloak sends back-channel logouts synchronously; here the page answers first."""
    portal_listens.delay = 2.0
    answer = signed_in_tokens(client, database, settings)

    started = time.monotonic()
    response = client.get(logout_url(id_token_hint=answer["id_token"]))
    answered_in = time.monotonic() - started

    assert response.status_code == 200 and answered_in < 1.0
    assert len(portal_listens.wait_for(1)) == 1


def test_a_rolled_back_ending_tells_nobody(client, database, settings, portal_listens):
    """A session that did not end (its transaction rolled back) is not announced."""
    from idp.oidc import sessions

    answer = signed_in_tokens(client, database, settings)
    with client.application.app_context(), database.session() as session:
        sessions.end_session(session, session.get(UserSession, answer["session_state"]))
        session.rollback()

    time.sleep(0.3)
    assert portal_listens.tokens == [] and session_ids(database) == [answer["session_state"]]


def test_a_session_found_expired_on_a_visit_is_announced(client, database, settings, portal_listens):
    """Keycloak lets idle sessions expire without a logout token; here a session found expired is
    ended like any other, so the portal hears of it then."""
    answer = signed_in_tokens(client, database, settings)
    with database.session() as session:
        session.get(UserSession, answer["session_state"]).last_seen_at = utcnow() - timedelta(days=1)
        session.commit()

    authorize(client, pkce_pair()[1])

    claims = verified_logout_claims(client, REALM, portal_listens.wait_for(1)[0])
    assert claims["sid"] == answer["session_state"]
