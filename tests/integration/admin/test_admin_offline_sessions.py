"""Offline access through the Admin API, as python-keycloak's KeycloakAdmin reads and revokes it
(`get_user_offline_sessions`-style paths, consents)."""
from __future__ import annotations

from idp.realms import find_realm
from tests.support.admin import APP_CLIENT, MEMBER_PASSWORD, REALM

TOKEN = f"/realms/{REALM}/protocol/openid-connect/token"


def offline_sign_in(client, username: str = "kosmo8001") -> dict:
    response = client.post(TOKEN, data={"grant_type": "password", "client_id": APP_CLIENT, "username": username,
                                        "password": MEMBER_PASSWORD, "scope": "openid offline_access"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(client, token: str):
    return client.post(TOKEN, data={"grant_type": "refresh_token", "client_id": APP_CLIENT, "refresh_token": token})


def app_uuid(database) -> str:
    with database.session() as session:
        realm = find_realm(session, REALM)
        return next(c.id for c in realm.clients if c.client_id == APP_CLIENT)


def member(api) -> str:
    return api.create_member("kosmo8001", email="kosmo8001@example.jp", firstName="一郎",
                             credentials=[{"type": "password", "value": MEMBER_PASSWORD}])


def test_an_admin_logout_ends_sso_sessions_but_not_offline_sessions(api, client, database):
    """Pins Keycloak's `POST /users/{id}/logout`: it removes the user's SSO sessions only; offline
    sessions stay listed under `offline-sessions/{clientUuid}` and their tokens keep working."""
    user_id = member(api)
    tokens = offline_sign_in(client)

    assert api.post(f"/users/{user_id}/logout").status_code == 204

    listed = api.get(f"/users/{user_id}/offline-sessions/{app_uuid(database)}").get_json()
    assert [s["userId"] for s in listed] == [user_id]
    assert listed[0]["clients"] == {app_uuid(database): APP_CLIENT} and listed[0]["start"] > 0
    assert refresh(client, tokens["refresh_token"]).status_code == 200


def test_consents_list_offline_access_and_revoking_it_ends_the_offline_tokens(api, client, database):
    """Pins Keycloak's consents representation (an offline token is an additional grant "Offline
    Token") and `DELETE /users/{id}/consents/{clientId}`, which revokes the offline tokens."""
    user_id = member(api)
    tokens = offline_sign_in(client)

    consents = api.get(f"/users/{user_id}/consents").get_json()
    assert consents == [{"clientId": APP_CLIENT, "grantedClientScopes": [], "createdDate": None,
                         "lastUpdatedDate": None,
                         "additionalGrants": [{"client": app_uuid(database), "key": "Offline Token"}]}]

    assert api.delete(f"/users/{user_id}/consents/{APP_CLIENT}").status_code == 204
    assert refresh(client, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert api.get(f"/users/{user_id}/offline-sessions/{app_uuid(database)}").get_json() == []
    again = api.delete(f"/users/{user_id}/consents/{APP_CLIENT}")
    assert again.status_code == 404 and again.get_json() == {"error": "Consent nor offline token not found"}


def test_offline_sessions_of_an_unknown_client_are_a_json_404(api, client):
    user_id = member(api)

    response = api.get(f"/users/{user_id}/offline-sessions/no-such-client")

    assert response.status_code == 404 and response.get_json() == {"error": "Client not found"}
