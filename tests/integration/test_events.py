"""The audit trail of tokens and sign-outs, in Keycloak's event names, and `idp events` reading it."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from idp.db.models import AuditEvent, User
from idp.realms import find_realm
from tests.support.cli import cli
from tests.support.sign_in import MEMBER_ID, OIDC, PORTAL, PORTAL_SECRET, PORTAL_TOP, REALM, add_member
from tests.support.tokens import APP, add_direct_access_client, logout_url, password_grant, refresh, signed_in_tokens


def events_of(database, type: str) -> list[AuditEvent]:
    with database.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.type == type).order_by(AuditEvent.time)))


def member_id(database, username: str = MEMBER_ID) -> str:
    with database.session() as session:
        return session.scalar(select(User.id).where(User.username == username))


def test_the_portal_exchanging_a_code_is_a_code_to_token_event_with_the_session(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    [event] = events_of(database, "CODE_TO_TOKEN")
    assert (event.user_id, event.client_id, event.session_id) == (member_id(database), PORTAL, answer["session_state"])
    assert event.ip_address == "127.0.0.1"
    assert event.details["grant_type"] == "authorization_code"
    assert event.details["client_auth_method"] == "client_secret_basic"
    assert event.details["refresh_token_family"]
    assert len(event.details["code_id"]) == 16


def test_each_refresh_is_a_refresh_token_event_of_the_same_family(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    assert refresh(client, answer["refresh_token"]).status_code == 200

    [exchanged] = events_of(database, "CODE_TO_TOKEN")
    [refreshed] = events_of(database, "REFRESH_TOKEN")
    assert refreshed.details["grant_type"] == "refresh_token"
    assert refreshed.details["refresh_token_family"] == exchanged.details["refresh_token_family"]
    assert refreshed.session_id == answer["session_state"] and refreshed.client_id == PORTAL


def test_a_refused_refresh_records_no_refresh_token_event(client, database, settings):
    signed_in_tokens(client, database, settings)

    assert refresh(client, "not-a-token").status_code == 400

    assert events_of(database, "REFRESH_TOKEN") == []


def test_the_password_grant_is_a_login_and_a_wrong_password_a_login_error(client, database, settings):
    add_member(database, settings)
    add_direct_access_client(database)

    assert password_grant(client).status_code == 200
    assert password_grant(client, password="wrong-password-1").status_code == 401
    assert password_grant(client, username="nobody-here").status_code == 401

    [signed_in] = events_of(database, "LOGIN")
    assert signed_in.user_id == member_id(database) and signed_in.client_id == APP and signed_in.session_id
    assert signed_in.details["grant_type"] == "password"
    refused = events_of(database, "LOGIN_ERROR")
    assert [(e.error, e.user_id, e.client_id) for e in refused] == [
        ("invalid_user_credentials", member_id(database), APP), ("user_not_found", None, APP)]
    assert refused[1].details["username"] == "nobody-here"


def test_the_batch_clients_token_is_a_client_login_of_its_service_account(client, database):
    response = client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                           auth=("kosmo-batch", "demo-batch-secret-change-me"))
    assert response.status_code == 200

    [event] = events_of(database, "CLIENT_LOGIN")
    assert event.client_id == "kosmo-batch" and event.session_id is None
    assert event.user_id == member_id(database, "service-account-kosmo-batch")
    assert event.details["grant_type"] == "client_credentials"


def test_signing_out_at_the_portal_is_a_logout_event_with_the_redirect(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    client.get(logout_url(id_token_hint=answer["id_token"], post_logout_redirect_uri=PORTAL_TOP))

    [event] = events_of(database, "LOGOUT")
    assert (event.user_id, event.client_id, event.session_id) == (member_id(database), PORTAL, answer["session_state"])
    assert event.details == {"redirect_uri": PORTAL_TOP}


def test_python_keycloaks_logout_is_a_logout_event(client, database, settings):
    answer = signed_in_tokens(client, database, settings)

    response = client.post(f"{OIDC}/logout", data={"client_id": PORTAL, "client_secret": PORTAL_SECRET,
                                                   "refresh_token": answer["refresh_token"]})

    assert response.status_code == 204
    [event] = events_of(database, "LOGOUT")
    assert event.session_id == answer["session_state"] and event.client_id == PORTAL


# --- idp events ----------------------------------------------------------------------------------

def add_event(database, type: str, minutes_ago: int, username: str | None = None, **fields) -> None:
    with database.session() as session:
        realm = find_realm(session, REALM)
        user_id = session.scalar(select(User.id).where(User.username == username)) if username else None
        session.add(AuditEvent(realm_id=realm.id, type=type, user_id=user_id, ip_address="192.0.2.7",
                               time=datetime.now(UTC) - timedelta(minutes=minutes_ago), **fields))


def test_idp_events_shows_the_newest_first_one_line_each(database, settings):
    add_member(database, settings)
    add_event(database, "LOGIN_ERROR", 30, MEMBER_ID, error="invalid_user_credentials", client_id=PORTAL)
    add_event(database, "LOGIN", 20, MEMBER_ID, client_id=PORTAL, details={"username": MEMBER_ID})

    result = cli(settings)("events")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split("  ")[1:] == ["LOGIN", f"realm={REALM}", f"user={MEMBER_ID}", f"client={PORTAL}",
                                        "ip=192.0.2.7", f"username={MEMBER_ID}"]
    assert lines[1].split("  ")[1] == "LOGIN_ERROR" and "error=invalid_user_credentials" in lines[1]
    assert datetime.strptime(lines[0].split("  ")[0], "%Y-%m-%dT%H:%M:%SZ")


def test_idp_events_filters_by_type_user_since_and_limit(database, settings):
    add_member(database, settings)
    add_member(database, settings, username="taro-02", email="taro@example.jp")
    add_event(database, "LOGIN", 60 * 48, MEMBER_ID)
    add_event(database, "LOGIN", 30, "taro-02")
    add_event(database, "LOGOUT", 20, MEMBER_ID)
    add_event(database, "LOGIN_ERROR", 10, MEMBER_ID)
    idp = cli(settings)

    def types(*args) -> list[str]:
        result = idp("events", "--json", *args)
        assert result.exit_code == 0, result.output
        return [json.loads(line)["type"] for line in result.output.splitlines()]

    assert types("--user", MEMBER_ID) == ["LOGIN_ERROR", "LOGOUT", "LOGIN"]
    assert types("--type", "LOGIN", "--type", "LOGOUT") == ["LOGOUT", "LOGIN", "LOGIN"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    assert types("--since", yesterday, "--user", MEMBER_ID) == ["LOGIN_ERROR", "LOGOUT"]
    assert types("--limit", "1") == ["LOGIN_ERROR"]
    assert types("--realm", REALM, "--type", "UPDATE_EMAIL") == []


def test_idp_events_json_names_the_member_and_the_realm(database, settings):
    add_member(database, settings)
    add_event(database, "UPDATE_EMAIL", 5, MEMBER_ID, details={"previous_email": "a@example.jp"})

    [line] = cli(settings)("events", "--json").output.splitlines()

    row = json.loads(line)
    assert row["realm"] == REALM and row["user"] == MEMBER_ID and row["user_id"] == member_id(database)
    assert row["details"] == {"previous_email": "a@example.jp"} and row["ip_address"] == "192.0.2.7"
    assert row["time"].endswith("Z")


def test_idp_events_for_an_unknown_realm_is_one_clear_error(database, settings):
    result = cli(settings)("events", "--realm", "no-such-realm")

    assert result.exit_code != 0
    assert result.output.strip() == "Error: no realm named 'no-such-realm' (see `idp realm list`)"
