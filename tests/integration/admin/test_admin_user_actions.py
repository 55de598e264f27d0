"""What administrators do to a member through the Admin API: set a password, list and end
sessions, list, rename and remove credentials, read and lift a brute-force lock; and what they
read: events, admin events and clients."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

from idp.admin.errors import PASSWORD_POLICY_ERRORS, password_refused
from idp.db.models import Credential, utcnow
from idp.realms import find_realm, realm_config
from idp.security.brute_force import BruteForce
from idp.security.password_policy import PasswordPolicy
from idp.security.passwords import hash_password
from tests.support.admin import APP_CLIENT, MEMBER_PASSWORD, REALM, VIEWER_CLIENT, AdminApi, service_token, sign_in

NEW_PASSWORD = "Atarashii-Pass-26"


def _member(api, username="kosmo8001", **fields) -> str:
    return api.create_member(username, email=f"{username}@example.jp", firstName="一郎",
                             credentials=[{"type": "password", "value": MEMBER_PASSWORD}], **fields)


def test_reset_password_replaces_the_password_under_the_realm_policy(api, client):
    user_id = _member(api)
    refused = api.put(f"/users/{user_id}/reset-password", {"type": "password", "value": "kosmo8001"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalidPasswordNotUsernameMessage"
    assert sign_in(client, "kosmo8001")["status"] == 200  # the old password still works

    assert api.put(f"/users/{user_id}/reset-password", {"type": "password", "value": NEW_PASSWORD,
                                                        "temporary": False}).status_code == 204
    assert sign_in(client, "kosmo8001")["status"] == 401
    assert sign_in(client, "kosmo8001", NEW_PASSWORD)["status"] == 200


def test_a_temporary_password_must_be_changed_before_tokens_are_issued(api, client):
    user_id = _member(api)
    api.put(f"/users/{user_id}/reset-password", {"type": "password", "value": NEW_PASSWORD, "temporary": True})
    refused = sign_in(client, "kosmo8001", NEW_PASSWORD)
    assert (refused["status"], refused["error_description"]) == (400, "Account is not fully set up")
    assert api.get(f"/users/{user_id}").get_json()["requiredActions"] == ["UPDATE_PASSWORD"]
    # Taking UPDATE_PASSWORD off the member lifts the requirement, as in Keycloak.
    api.put(f"/users/{user_id}", {"requiredActions": []})
    assert sign_in(client, "kosmo8001", NEW_PASSWORD)["status"] == 200


def test_an_update_may_carry_a_new_password_checked_before_anything_changes(api, client):
    user_id = _member(api)
    refused = api.put(f"/users/{user_id}", {"firstName": "次郎", "credentials": [{"type": "password", "value": "x"}]})
    assert refused.status_code == 400 and api.get(f"/users/{user_id}").get_json()["firstName"] == "一郎"
    new_password = {"credentials": [{"type": "password", "value": NEW_PASSWORD}]}
    assert api.put(f"/users/{user_id}", new_password).status_code == 204
    assert sign_in(client, "kosmo8001", NEW_PASSWORD)["status"] == 200


def test_reset_password_refuses_an_empty_or_malformed_body(api):
    user_id = _member(api)
    for body in ({"type": "password", "value": ""}, {"value": NEW_PASSWORD, "temporary": "no"},
                 {"type": "otp", "value": "123456"}, ["x"]):
        assert api.put(f"/users/{user_id}/reset-password", body).status_code == 400, body


def test_sessions_are_listed_with_their_clients_and_logout_ends_them_all(api, client):
    user_id = _member(api)
    first, second = sign_in(client, "kosmo8001"), sign_in(client, "kosmo8001")
    listed = api.get(f"/users/{user_id}/sessions").get_json()
    assert {item["id"] for item in listed} == {first["session_state"], second["session_state"]}
    assert listed[0]["username"] == "kosmo8001" and listed[0]["userId"] == user_id
    assert list(listed[0]["clients"].values()) == [APP_CLIENT] and listed[0]["start"] > 0

    assert api.post(f"/users/{user_id}/logout").status_code == 204
    assert api.get(f"/users/{user_id}/sessions").get_json() == []
    refreshed = client.post(f"/realms/{REALM}/protocol/openid-connect/token", data={
        "grant_type": "refresh_token", "client_id": APP_CLIENT, "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 400


def test_credentials_are_listed_without_secrets_renamed_and_removed(api, client, database):
    user_id = _member(api)
    api.put(f"/users/{user_id}/reset-password", {"type": "password", "value": NEW_PASSWORD})
    with database.session() as session:
        session.add(Credential(
            user_id=user_id, type="otp", priority=20, user_label="iPhone", secret_data={"value": "sealed"},
            credential_data={"subType": "totp", "digits": 6, "period": 30, "algorithm": "HmacSHA1"}))
    listed = api.get(f"/users/{user_id}/credentials").get_json()
    assert [item["type"] for item in listed] == ["password", "otp"]  # the replaced password is history, not listed
    assert all("secretData" not in item for item in listed) and "sealed" not in str(listed)
    otp = listed[1]
    assert otp["userLabel"] == "iPhone" and '"digits":6' in otp["credentialData"]
    assert api.get(f"/users/{user_id}").get_json()["totp"] is True

    rename = client.put(f"/admin/realms/{REALM}/users/{user_id}/credentials/{otp['id']}/userLabel",
                        data="仕事用のスマホ", headers={**api.headers, "Content-Type": "text/plain"})
    assert rename.status_code == 204
    assert api.get(f"/users/{user_id}/credentials").get_json()[1]["userLabel"] == "仕事用のスマホ"

    assert api.delete(f"/users/{user_id}/credentials/{otp['id']}").status_code == 204
    assert [item["type"] for item in api.get(f"/users/{user_id}/credentials").get_json()] == ["password"]
    again = api.delete(f"/users/{user_id}/credentials/{otp['id']}")
    assert (again.status_code, again.get_json()) == (404, {"error": "Credential not found"})


def test_a_credential_of_another_member_is_not_found(api):
    owner, other = _member(api), _member(api, "kosmo8002")
    password_id = api.get(f"/users/{owner}/credentials").get_json()[0]["id"]
    assert api.delete(f"/users/{other}/credentials/{password_id}").status_code == 404
    assert len(api.get(f"/users/{owner}/credentials").get_json()) == 1


def _fail_sign_ins(app, user_id: str, times: int) -> None:
    with app.app_context():
        with app.extensions["idp.db"].session() as session:
            realm = find_realm(session, REALM)
            detection = BruteForce(current_app.extensions["idp.ephemeral"], realm.id, realm_config(realm).brute_force,
                                   utcnow())
            for _ in range(times):
                detection.failed(user_id, "203.0.113.7")


def test_brute_force_status_reads_the_lock_and_delete_lifts_it(api, app):
    user_id = _member(api)
    assert api.get(f"/attack-detection/brute-force/users/{user_id}").get_json() == {
        "numFailures": 0, "disabled": False, "lastIPFailure": "n/a", "lastFailure": 0}
    _fail_sign_ins(app, user_id, 10)  # the demo realm's failure factor
    status = api.get(f"/attack-detection/brute-force/users/{user_id}").get_json()
    assert status["numFailures"] == 10 and status["disabled"] is True and status["lastIPFailure"] == "203.0.113.7"

    assert api.delete(f"/attack-detection/brute-force/users/{user_id}").status_code == 204
    assert api.get(f"/attack-detection/brute-force/users/{user_id}").get_json()["numFailures"] == 0
    assert api.get("/attack-detection/brute-force/users/no-such-user").status_code == 404


def test_events_are_newest_first_filtered_and_admin_events_kept_apart(api, client):
    user_id = _member(api)
    sign_in(client, "kosmo8001")
    sign_in(client, "kosmo8001", "wrong-password")
    events = api.get("/events", user=user_id).get_json()
    assert [event["type"] for event in events] == ["LOGIN_ERROR", "LOGIN"]
    assert events[0]["details"]["username"] == "kosmo8001" and events[0]["error"] == "invalid_user_credentials"
    assert events[1]["clientId"] == APP_CLIENT and events[1]["sessionId"]
    assert [event["type"] for event in api.get("/events", type="LOGIN").get_json()] == ["LOGIN"]
    assert {event["type"] for event in api.get("/events", client="kosmo-admin").get_json()} == {"CLIENT_LOGIN"}
    assert len(api.get("/events", user=user_id, max=1).get_json()) == 1
    today = datetime.now(UTC).date()
    assert api.get("/events", dateFrom=(today + timedelta(days=2)).isoformat()).get_json() == []
    assert len(api.get("/events", user=user_id, dateTo=(today + timedelta(days=1)).isoformat()).get_json()) == 2
    assert api.get("/events", dateFrom="25/11/2026").status_code == 400

    [created] = api.get("/admin-events").get_json()
    assert created["operationType"] == "CREATE" and created["resourcePath"].startswith("users/")
    assert created["authDetails"]["clientId"] == "kosmo-admin"


def test_clients_are_listed_without_secrets_and_found_by_client_id(api):
    clients = api.get("/clients").get_json()
    ids = [item["clientId"] for item in clients]
    assert "kosmo-portal" in ids and "account-console" in ids and ids == sorted(ids)
    portal = api.get("/clients", clientId="kosmo-portal").get_json()
    assert len(portal) == 1 and portal[0]["publicClient"] is False and "secret" not in portal[0]
    assert portal[0]["redirectUris"] == ["http://localhost:8081/callback"]
    assert portal[0]["attributes"] == {"pkce.code.challenge.method": "S256"}
    assert [item["clientId"] for item in api.get("/clients", clientId="kosmo-", search="true").get_json()][:2] == [
        "kosmo-admin", "kosmo-app"]


def test_a_viewer_reads_sessions_credentials_and_locks_but_cannot_act(api, client):
    user_id = _member(api)
    viewer = AdminApi(client, service_token(client, VIEWER_CLIENT))
    for path in ("sessions", "credentials"):
        assert viewer.get(f"/users/{user_id}/{path}").status_code == 200
    assert viewer.get(f"/attack-detection/brute-force/users/{user_id}").status_code == 200
    assert viewer.post(f"/users/{user_id}/logout").status_code == 403
    assert viewer.put(f"/users/{user_id}/reset-password", {"value": NEW_PASSWORD}).status_code == 403
    assert viewer.delete(f"/attack-detection/brute-force/users/{user_id}").status_code == 403


def test_every_password_rule_is_refused_with_keycloaks_message_key(settings):
    """Each rule a password can break is named with Keycloak's key and English text, never our
    Japanese message key."""
    policy = PasswordPolicy.parse("length(20) and maxLength(21) and digits(2) and lowerCase(2) and upperCase(2) "
                                  "and specialChars(2) and notUsername and notContainsUsername and notEmail "
                                  "and passwordHistory(2) and regexPattern(z+) and allowedCharacters")
    broken = policy.violations("kosmo8001°", username="kosmo8001", email="kosmo8001°",
                               previous_hashes=[hash_password("kosmo8001°", settings)])
    broken += policy.violations("x" * 30) + policy.violations("ABC") + policy.violations("k8", username="k8")
    assert {violation.key for violation in broken} == set(PASSWORD_POLICY_ERRORS)
    for violation in broken:
        body = password_refused(violation).body
        assert body["error"].startswith("invalidPassword")
        assert body["error_description"].startswith("Invalid password: ")


def test_enabling_a_member_through_put_clears_their_failures_as_keycloak_does(api, app):
    user_id = _member(api)
    _fail_sign_ins(app, user_id, 10)
    assert api.put(f"/users/{user_id}", {"enabled": False}).status_code == 204
    assert api.get(f"/attack-detection/brute-force/users/{user_id}").get_json()["numFailures"] == 10

    assert api.put(f"/users/{user_id}", {"enabled": True}).status_code == 204

    assert api.get(f"/attack-detection/brute-force/users/{user_id}").get_json() == {
        "numFailures": 0, "disabled": False, "lastIPFailure": "n/a", "lastFailure": 0}
    assert api.get(f"/users/{user_id}").get_json()["enabled"] is True
