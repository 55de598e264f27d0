"""python-keycloak's `KeycloakAdmin`, written for Keycloak, drives the Admin REST API of a running
server unchanged: signed in as the master realm's administrator (admin-cli password grant, made
by IDP_BOOTSTRAP_ADMIN_*) and as a service account holding realm-management roles."""
from __future__ import annotations

import base64
import email
import hashlib
import json
import secrets
from email import policy
from urllib.parse import urlencode, urljoin

import pytest
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError, KeycloakPostError, KeycloakPutError
from ruamel.yaml import YAML

from idp.mail import find_links
from tests.support.servers import (
    INTEROP_CONFIDENTIAL,
    INTEROP_CONFIDENTIAL_SECRET,
    INTEROP_PUBLIC,
    REALM,
    IdpServer,
    interop_clients,
    sign_in_form,
)

pytestmark = pytest.mark.interop

ADMIN, ADMIN_PASSWORD = "root-admin", "Kanri-Password-1"
SERVICE, SERVICE_SECRET = "kosmo-admin", "kosmo-admin-secret"
MEMBER_PASSWORD, NEW_PASSWORD = "Kenpo-Kumiai-8001", "Atarashii-Pass-26"
CALLBACK = "http://localhost:1/cb"  # the interop clients' redirect URI; no sign-in here gets that far


def _open_the_admin_api(server: IdpServer) -> None:
    """The demo realm as written by IdpServer, with its Admin API switched on."""
    yaml = YAML()
    path = server.folder / "realm-config" / f"{REALM}.yaml"
    realm = yaml.load(path.read_text(encoding="utf-8"))
    realm["admin_api"] = True
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(realm, out)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keycloak-admin")
    service = {"client_id": SERVICE, "secret": {"env": "KOSMO_ADMIN_TEST_SECRET", "default": SERVICE_SECRET},
               "standard_flow": False, "service_account": True, "admin_api": True,
               "service_account_client_roles": {"realm-management": ["manage-users", "view-events"]}}
    env = {"IDP_BOOTSTRAP_ADMIN_USERNAME": ADMIN, "IDP_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD}
    server = IdpServer(tmp, env=env, extra_clients=[*interop_clients(CALLBACK), service])
    _open_the_admin_api(server)
    with server:
        yield server


@pytest.fixture(scope="module")
def admin(server) -> KeycloakAdmin:
    """As a Keycloak operator's script signs in: the master realm's admin-cli, then the society's realm."""
    return KeycloakAdmin(server_url=server.url, username=ADMIN, password=ADMIN_PASSWORD, realm_name=REALM,
                         user_realm_name="master")


@pytest.fixture(scope="module")
def service(server) -> KeycloakAdmin:
    return KeycloakAdmin(server_url=server.url, realm_name=REALM, client_id=SERVICE, client_secret_key=SERVICE_SECRET)


def _password_grant(server, username: str, password: str) -> requests.Response:
    return requests.post(f"{server.issuer()}/protocol/openid-connect/token", timeout=10, data={
        "grant_type": "password", "client_id": INTEROP_PUBLIC, "username": username, "password": password})


def _new_member(admin: KeycloakAdmin, username: str, **fields) -> str:
    return admin.create_user({"username": username, "email": f"{username}@example.jp", "enabled": True,
                              "firstName": "一郎", "lastName": "鈴木",
                              "credentials": [{"type": "password", "value": MEMBER_PASSWORD}], **fields})


def test_the_administrator_creates_finds_counts_updates_and_deletes_a_member(admin):
    user_id = _new_member(admin, "kosmo9001", attributes={"birthdate": ["1980-04-01"]})
    assert admin.get_user_id("KOSMO9001") == user_id
    found = admin.get_users({"search": "kosmo900"})
    assert [user["username"] for user in found] == ["kosmo9001"]
    assert admin.users_count({"email": "kosmo9001@example.jp"}) == 1
    admin.update_user(user_id, {"firstName": "次郎", "attributes": {"birthdate": ["1980-04-02"]}})
    user = admin.get_user(user_id)
    assert (user["firstName"], user["attributes"]["birthdate"]) == ("次郎", ["1980-04-02"])
    admin.disable_user(user_id)
    assert admin.get_user(user_id)["enabled"] is False
    admin.delete_user(user_id)
    with pytest.raises(KeycloakGetError) as missing:
        admin.get_user(user_id)
    assert missing.value.response_code == 404


def test_a_taken_user_id_is_a_409_with_keycloaks_error_json(admin):
    _new_member(admin, "kosmo9002")
    with pytest.raises(KeycloakPostError) as taken:
        admin.create_user({"username": "kosmo9002", "enabled": True})
    assert taken.value.response_code == 409
    assert json.loads(taken.value.response_body) == {"errorMessage": "User exists with same username"}
    assert admin.create_user({"username": "kosmo9002"}, exist_ok=True) == admin.get_user_id("kosmo9002")


def test_passwords_credentials_sessions_and_logout(admin, server):
    user_id = _new_member(admin, "kosmo9003")
    admin.set_user_password(user_id, NEW_PASSWORD, temporary=False)
    tokens = _password_grant(server, "kosmo9003", NEW_PASSWORD).json()
    assert [item["id"] for item in admin.get_sessions(user_id)] == [tokens["session_state"]]
    [password] = admin.get_credentials(user_id)
    assert password["type"] == "password" and "secretData" not in password

    renamed = admin.connection.raw_put(
        f"admin/realms/{REALM}/users/{user_id}/credentials/{password['id']}/userLabel", data="初期パスワード")
    assert renamed.status_code == 204 and admin.get_credentials(user_id)[0]["userLabel"] == "初期パスワード"

    admin.user_logout(user_id)
    assert admin.get_sessions(user_id) == []
    admin.delete_credential(user_id, password["id"])
    assert admin.get_credentials(user_id) == []
    assert _password_grant(server, "kosmo9003", NEW_PASSWORD).status_code == 401


def test_a_password_against_the_policy_is_refused_with_keycloaks_message(admin):
    user_id = _new_member(admin, "kosmo9004")
    with pytest.raises(KeycloakPutError) as refused:
        admin.set_user_password(user_id, "short", temporary=False)
    assert json.loads(refused.value.response_body) == {
        "error": "invalidPasswordMinLengthMessage", "error_description": "Invalid password: minimum length 8."}


def _type_wrong_passwords(server, username: str, times: int) -> None:
    """A browser on the sign-in page (the public client's code flow with PKCE), typing a wrong password."""
    browser, verifier = requests.Session(), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = f"{server.issuer()}/protocol/openid-connect/auth?" + urlencode({
        "client_id": INTEROP_PUBLIC, "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
    page = browser.get(url, timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    for _ in range(times):
        action, hidden = sign_in_form(page.text)
        page = browser.post(urljoin(url, action), timeout=10,
                            data={**hidden, "username": username, "password": "wrong-password"})
        assert page.status_code == 401  # the sign-in page again, refused


def test_brute_force_status_shows_a_lock_that_clearing_lifts(admin, server):
    user_id = _new_member(admin, "kosmo9005")
    assert admin.get_bruteforce_detection_status(user_id) == {
        "numFailures": 0, "disabled": False, "lastIPFailure": "n/a", "lastFailure": 0}
    _type_wrong_passwords(server, "kosmo9005", 3)  # typed faster than a person: the quick-login check locks
    status = admin.get_bruteforce_detection_status(user_id)
    assert status["numFailures"] >= 2 and status["disabled"] is True and status["lastIPFailure"] == "127.0.0.1"

    assert admin.clear_bruteforce_attempts_for_user(user_id) == {}
    assert admin.get_bruteforce_detection_status(user_id)["disabled"] is False


def test_the_execute_actions_mail_link_lets_the_member_set_a_password(admin, server):
    user_id = _new_member(admin, "kosmo9006")
    admin.send_update_account(user_id, ["UPDATE_PASSWORD"], client_id="kosmo-portal", lifespan=3600)
    mail = email.message_from_bytes(sorted(server.outbox_dir.glob("*.eml"))[-1].read_bytes(), policy=policy.default)
    [link] = [url for url in find_links(mail.get_body(("plain",)).get_content()) if "action-token" in url]

    browser = requests.Session()
    page = browser.get(link, timeout=10)
    action, hidden = sign_in_form(page.text)
    done = browser.post(urljoin(link, action), timeout=10,
                        data={**hidden, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert "お願いしていた手続きが完了しました。" in done.text
    assert _password_grant(server, "kosmo9006", NEW_PASSWORD).status_code == 200


def test_send_verify_email_mails_the_member(admin, server):
    user_id = _new_member(admin, "kosmo9007")
    before = len(list(server.outbox_dir.glob("*.eml")))
    admin.send_verify_email(user_id)
    assert len(list(server.outbox_dir.glob("*.eml"))) == before + 1


def test_events_and_clients_are_readable(admin, server):
    _password_grant(server, "nobody-at-all", "wrong-password")
    assert "LOGIN_ERROR" in [event["type"] for event in admin.get_events({"type": "LOGIN_ERROR"})]
    client_ids = [client["clientId"] for client in admin.get_clients()]
    assert "kosmo-portal" in client_ids and SERVICE in client_ids


def test_a_service_account_manages_members_with_its_roles_only(service):
    user_id = service.create_user({"username": "kosmo9008", "enabled": True})
    assert service.get_user(user_id)["username"] == "kosmo9008"
    assert service.get_events({"max": 5}) is not None
    with pytest.raises(KeycloakGetError) as forbidden:
        service.get_clients()
    assert forbidden.value.response_code == 403


def test_unknown_admin_paths_realms_and_methods_answer_keycloaks_json(admin, server):
    bearer = {"Authorization": f"Bearer {admin.connection.token['access_token']}"}
    for path in (f"admin/realms/{REALM}/no-such-thing", "admin/realms/no-such-realm", "admin/nothing-here",
                 "admin/realms/no-such-realm/users"):
        answer = requests.get(f"{server.url}/{path}", headers=bearer, timeout=10)
        assert (answer.status_code, answer.headers["Content-Type"]) == (404, "application/json"), path
        assert "error" in answer.json()
    wrong_method = requests.patch(f"{server.url}/admin/realms/{REALM}/users", headers=bearer, timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json() == {"error": "HTTP 405 Method Not Allowed"}


def test_the_administrator_reads_the_realm_and_every_realm_but_cannot_change_it(admin):
    realm = admin.get_realm(REALM)
    assert (realm["realm"], realm["enabled"], realm["accessTokenLifespan"]) == (REALM, True, 300)
    assert {"id", "displayName", "bruteForceProtected", "revokeRefreshToken", "ssoSessionIdleTimeout"} <= set(realm)
    assert sorted(listed["realm"] for listed in admin.get_realms()) == sorted(["master", REALM])
    with pytest.raises(KeycloakPutError) as refused:
        admin.update_realm(REALM, {"accessTokenLifespan": 60})
    assert refused.value.response_code == 501
    assert "realm YAML" in json.loads(refused.value.response_body)["errorMessage"]


def test_a_service_account_sees_only_its_own_realm_and_only_its_name(service):
    assert [(realm["realm"], "accessTokenLifespan" in realm) for realm in service.get_realms()] == [(REALM, False)]


def _client_credentials(server, secret: str) -> int:
    return requests.post(f"{server.issuer()}/protocol/openid-connect/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": INTEROP_CONFIDENTIAL, "client_secret": secret}).status_code


def test_the_administrator_reads_a_client_and_regenerates_its_secret_which_outlives_a_realm_reload(admin, server):
    client_pk = admin.get_client_id(INTEROP_CONFIDENTIAL)
    client = admin.get_client(client_pk)
    assert (client["id"], client["clientId"], client["publicClient"]) == (client_pk, INTEROP_CONFIDENTIAL, False)
    assert admin.get_client_secrets(client_pk) == {"type": "secret", "value": INTEROP_CONFIDENTIAL_SECRET}

    regenerated = admin.generate_client_secrets(client_pk)
    assert regenerated["type"] == "secret" and regenerated["value"] != INTEROP_CONFIDENTIAL_SECRET
    assert admin.get_client_secrets(client_pk) == {"type": "secret"}  # kept as a hash: shown once
    assert _client_credentials(server, INTEROP_CONFIDENTIAL_SECRET) == 401
    server.idp("realm", "import", str(server.folder / "realm-config" / f"{REALM}.yaml"))
    assert _client_credentials(server, regenerated["value"]) == 200
    [event, *_] = admin.get_admin_events({"operationTypes": "ACTION"})
    assert (event["resourceType"], event["resourcePath"]) == ("CLIENT", f"clients/{client_pk}/client-secret")


def test_an_unknown_client_is_keycloaks_404_and_secrets_need_manage_clients(admin, service):
    with pytest.raises(KeycloakGetError) as missing:
        admin.get_client("no-such-client")
    assert (missing.value.response_code, json.loads(missing.value.response_body)) == (
        404, {"error": "Could not find client"})
    with pytest.raises(KeycloakPostError) as forbidden:
        service.generate_client_secrets(admin.get_client_id(INTEROP_CONFIDENTIAL))
    assert forbidden.value.response_code == 403


def _access_claims(server, username: str) -> dict:
    token = _password_grant(server, username, MEMBER_PASSWORD).json()["access_token"]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_realm_roles_with_composites_mapped_to_a_member_reach_the_token(admin, server):
    assert admin.create_realm_role({"name": "組合員", "description": "被保険者"}) == "%E7%B5%84%E5%90%88%E5%93%A1"
    admin.create_realm_role({"name": "kenshin-yoyaku"})
    admin.add_composite_realm_roles_to_role("組合員", [admin.get_realm_role("kenshin-yoyaku")])
    member_role = admin.get_realm_role("組合員")
    assert (member_role["composite"], member_role["clientRole"]) == (True, False)
    assert member_role["description"] == "被保険者"
    assert admin.get_realm_role_by_id(member_role["id"])["name"] == "組合員"
    assert [role["name"] for role in admin.get_composite_realm_roles_of_role("組合員")] == ["kenshin-yoyaku"]

    user_id = _new_member(admin, "kosmo9010")
    admin.assign_realm_roles(user_id, [member_role])
    assert [role["name"] for role in admin.get_realm_roles_of_user(user_id)] == ["組合員"]
    assert {role["name"] for role in admin.get_composite_realm_roles_of_user(user_id)} == {"組合員", "kenshin-yoyaku"}
    assert "組合員" not in [role["name"] for role in admin.get_available_realm_roles_of_user(user_id)]
    assert [user["username"] for user in admin.get_realm_role_members("組合員")] == ["kosmo9010"]
    assert {"組合員", "kenshin-yoyaku"} <= set(_access_claims(server, "kosmo9010")["realm_access"]["roles"])

    admin.delete_realm_roles_of_user(user_id, [member_role])
    assert "組合員" not in _access_claims(server, "kosmo9010")["realm_access"]["roles"]
    with pytest.raises(KeycloakPostError) as taken:
        admin.create_realm_role({"name": "組合員"})
    assert json.loads(taken.value.response_body) == {"errorMessage": "Role with name 組合員 already exists"}
    admin.update_realm_role("kenshin-yoyaku", {"name": "kenshin", "description": "健診"})
    admin.delete_realm_role("kenshin")
    with pytest.raises(KeycloakGetError) as gone:
        admin.get_realm_role("kenshin")
    assert json.loads(gone.value.response_body) == {"error": "Could not find role"}
    assert admin.get_realm_role("組合員")["composite"] is False


def test_client_roles_and_their_mappings_reach_resource_access(admin, server):
    client_pk = admin.get_client_id(INTEROP_CONFIDENTIAL)
    assert admin.create_client_role(client_pk, {"name": "reader"}) == "reader"
    admin.create_client_role(client_pk, {"name": "editor"})
    admin.add_composite_client_roles_to_role(client_pk, "editor", [admin.get_client_role(client_pk, "reader")])
    assert sorted(role["name"] for role in admin.get_client_roles(client_pk)) == ["editor", "reader"]

    user_id = _new_member(admin, "kosmo9011")
    admin.assign_client_role(user_id, client_pk, [admin.get_client_role(client_pk, "editor")])
    assert [role["name"] for role in admin.get_client_roles_of_user(user_id, client_pk)] == ["editor"]
    assert sorted(role["name"] for role in admin.get_composite_client_roles_of_user(user_id, client_pk)) == [
        "editor", "reader"]
    mappings = admin.get_all_roles_of_user(user_id)
    assert [role["name"] for role in mappings["clientMappings"][INTEROP_CONFIDENTIAL]["mappings"]] == ["editor"]
    resource_access = _access_claims(server, "kosmo9011")["resource_access"]
    assert resource_access[INTEROP_CONFIDENTIAL] == {"roles": ["editor", "reader"]}

    admin.delete_client_roles_of_user(user_id, client_pk, [admin.get_client_role(client_pk, "editor")])
    assert admin.get_client_roles_of_user(user_id, client_pk) == []
    admin.delete_client_role(client_pk, "reader")
    assert [role["name"] for role in admin.get_client_roles(client_pk)] == ["editor"]


def test_groups_with_subgroups_members_and_roles_as_an_administrator_manages_them(admin, server):
    union = admin.create_group({"name": "組合員", "attributes": {"kigo": ["8001"]}})
    family = admin.create_group({"name": "被扶養者"}, parent=union)
    assert admin.get_group(union)["attributes"] == {"kigo": ["8001"]}
    assert admin.get_group_by_path("/組合員/被扶養者")["id"] == family
    found = admin.get_groups({"search": "組合員"})
    assert [(group["name"], group["subGroupCount"]) for group in found] == [("組合員", 1)]
    assert [child["path"] for child in admin.get_group_children(union)] == ["/組合員/被扶養者"]
    assert admin.groups_count() == {"count": 2}

    admin.create_realm_role({"name": "kazoku"})
    admin.assign_group_realm_roles(union, [admin.get_realm_role("kazoku")])
    assert admin.get_group(union)["realmRoles"] == ["kazoku"]
    user_id = _new_member(admin, "kosmo9012")
    admin.group_user_add(user_id, family)
    assert [group["path"] for group in admin.get_user_groups(user_id)] == ["/組合員/被扶養者"]
    assert [user["username"] for user in admin.get_group_members(family)] == ["kosmo9012"]
    assert "kazoku" in _access_claims(server, "kosmo9012")["realm_access"]["roles"]  # the parent group's role

    admin.group_user_remove(user_id, family)
    assert admin.get_user_groups(user_id) == []
    assert "kazoku" not in _access_claims(server, "kosmo9012")["realm_access"]["roles"]
    with pytest.raises(KeycloakPostError) as taken:
        admin.create_group({"name": "被扶養者"}, parent=union)
    assert json.loads(taken.value.response_body) == {"errorMessage": "Sibling group named '被扶養者' already exists."}
    admin.update_group(family, {"name": "家族"})
    assert admin.get_group(family)["path"] == "/組合員/家族"
    admin.delete_group(union)
    with pytest.raises(KeycloakGetError) as gone:
        admin.get_group(family)
    assert gone.value.response_code == 404


def test_required_actions_are_listed_and_their_settings_take_effect_on_new_and_updated_members(admin):
    listed = {action["alias"]: action for action in admin.get_required_actions()}
    assert {"UPDATE_PASSWORD", "CONFIGURE_TOTP", "VERIFY_EMAIL", "TERMS_AND_CONDITIONS", "UPDATE_EMAIL",
            "webauthn-register"} <= set(listed)
    assert listed["CONFIGURE_TOTP"] == {"alias": "CONFIGURE_TOTP", "name": "Configure OTP",
                                        "providerId": "CONFIGURE_TOTP", "enabled": True, "defaultAction": False,
                                        "priority": 10, "config": {}}

    terms = admin.get_required_action_by_alias("TERMS_AND_CONDITIONS")
    admin.update_required_action("TERMS_AND_CONDITIONS", {**terms, "defaultAction": True, "priority": 5})
    assert admin.get_required_actions()[0] == {**terms, "defaultAction": True, "priority": 5}
    user_id = _new_member(admin, "kosmo9013")
    assert admin.get_user(user_id)["requiredActions"] == ["TERMS_AND_CONDITIONS"]

    admin.update_required_action("VERIFY_EMAIL", {**listed["VERIFY_EMAIL"], "enabled": False})
    with pytest.raises(KeycloakPutError) as refused:
        admin.update_user(user_id, {"requiredActions": ["VERIFY_EMAIL"]})
    assert json.loads(refused.value.response_body) == {"errorMessage": "Provided invalid required actions"}
    admin.update_required_action("VERIFY_EMAIL", listed["VERIFY_EMAIL"])
    admin.update_required_action("TERMS_AND_CONDITIONS", terms)
    with pytest.raises(KeycloakPutError) as unknown:
        admin.update_required_action("NO_SUCH_ACTION", {"enabled": True})
    assert unknown.value.response_code == 404


def test_a_service_account_with_user_roles_manages_groups_but_not_roles_or_required_actions(service):
    assert "accessTokenLifespan" not in service.get_realm(REALM)  # view-realm not held: the name only
    group_id = service.create_group({"name": "事業所A"})
    assert service.get_group(group_id)["path"] == "/事業所A"
    with pytest.raises(KeycloakPostError) as roles:
        service.create_realm_role({"name": "not-allowed"})
    with pytest.raises(KeycloakGetError) as actions:
        service.get_required_actions()
    assert (roles.value.response_code, actions.value.response_code) == (403, 403)
    service.delete_group(group_id)
