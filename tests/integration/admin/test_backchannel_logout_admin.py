"""Back-channel logout when an administrator signs a member out through the Admin API."""
from __future__ import annotations

from tests.support.admin import APP_CLIENT, MEMBER_PASSWORD, REALM, sign_in
from tests.support.backchannel import register_backchannel_logout, verified_logout_claims


def test_the_admin_apis_user_logout_tells_the_app_of_every_session(api, client, database, receiver):
    """Keycloak's POST /admin/realms/{realm}/users/{id}/logout back-channel logs out the clients
    of each of the user's sessions."""
    register_backchannel_logout(database, REALM, APP_CLIENT, receiver.url)
    user_id = api.create_member("kosmo8001", credentials=[{"type": "password", "value": MEMBER_PASSWORD}])
    first, second = sign_in(client, "kosmo8001"), sign_in(client, "kosmo8001")

    assert api.post(f"/users/{user_id}/logout").status_code == 204

    claims = [verified_logout_claims(client, REALM, token) for token in receiver.wait_for(2)]
    assert {item["sid"] for item in claims} == {first["session_state"], second["session_state"]}
    assert {item["aud"] for item in claims} == {APP_CLIENT} and {item["sub"] for item in claims} == {user_id}
