"""Who may call the Admin API: service accounts by their realm-management roles, the master
realm's administrators everywhere, nobody else; realms and clients that do not enable it are
closed. Answers are Keycloak's (401, 403, 404 with its JSON)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import idp.admin.users
from idp.cli import main as idp_command
from idp.db.models import Realm, User
from idp.realms import find_realm
from idp.realms.export import export_realm
from idp.realms.schema import RealmConfig
from idp.setup import prepare
from tests.support.admin import (
    ADMIN_CLIENT,
    CLOSED_REALM,
    MASTER_ADMIN,
    MASTER_PASSWORD,
    NO_API_CLIENT,
    REALM,
    VIEWER_CLIENT,
    AdminApi,
    admin_realm_config,
    basic,
    bearer,
    service_token,
)
from tests.support.settings import make_settings


def _master_token(client, username=MASTER_ADMIN, password=MASTER_PASSWORD):
    response = client.post("/realms/master/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "admin-cli", "username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def _add_master_admin(settings, username=MASTER_ADMIN, password=MASTER_PASSWORD):
    """`idp admin create` against the test's database, as an operator runs it."""
    env = {"IDP_DATABASE_URL": settings.database_url, "IDP_SECRET_KEY": settings.secret_key,
           "IDP_REALMS_DIR": str(settings.realms_dir), "IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": "1024"}
    return CliRunner().invoke(idp_command, ["admin", "create", username, "--password-stdin"],
                              input=password + "\n", env=env)


def test_without_a_token_or_with_a_forged_one_the_api_answers_401(client):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic a2V5OnZhbHVl"}):
        response = client.get(f"/admin/realms/{REALM}/users", headers=headers)
        assert (response.status_code, response.get_json()) == (401, {"error": "HTTP 401 Unauthorized"})


def test_a_viewer_reads_members_but_may_not_change_them(client, api):
    user_id = api.create_member("kosmo8001")
    viewer = AdminApi(client, service_token(client, VIEWER_CLIENT))
    assert viewer.get(f"/users/{user_id}").status_code == 200
    assert viewer.get(f"/users/{user_id}").get_json()["access"]["manage"] is False
    for response in (viewer.post("/users", {"username": "kosmo8002"}),
                     viewer.put(f"/users/{user_id}", {"firstName": "x"}),
                     viewer.delete(f"/users/{user_id}"), viewer.get("/events"), viewer.get("/clients")):
        assert (response.status_code, response.get_json()) == (403, {"error": "HTTP 403 Forbidden"})
    assert api.get(f"/users/{user_id}").get_json()["firstName"] == ""


def test_a_client_that_does_not_enable_the_api_is_refused_whatever_its_roles(client):
    no_api = AdminApi(client, service_token(client, NO_API_CLIENT))
    assert no_api.get("/users").status_code == 403


def test_a_realm_with_the_api_off_answers_as_if_it_did_not_exist(client):
    closed = AdminApi(client, service_token(client, ADMIN_CLIENT, realm=CLOSED_REALM), realm=CLOSED_REALM)
    for response in (closed.get("/users"), closed.post("/users", {"username": "x"}),
                     client.get("/admin/realms/no-such-realm/users")):
        assert (response.status_code, response.get_json()) == (404, {"error": "Realm not found."})


def test_a_token_of_another_realm_does_not_open_this_one(client):
    stranger = AdminApi(client, service_token(client, ADMIN_CLIENT, realm=CLOSED_REALM))
    assert stranger.get("/users").status_code == 401


def test_a_revoked_token_or_a_disabled_service_account_is_401_at_once(client, database):
    token = service_token(client)
    client.post(f"/realms/{REALM}/protocol/openid-connect/revoke", data={"token": token}, headers=basic(ADMIN_CLIENT))
    assert AdminApi(client, token).get("/users").status_code == 401
    fresh = service_token(client)
    with database.session() as session:
        account = select(User).join(Realm).where(Realm.name == REALM,
                                                 User.username == f"service-account-{ADMIN_CLIENT}")
        session.scalar(account).enabled = False
    assert AdminApi(client, fresh).get("/users").status_code == 401


def test_paths_the_api_does_not_offer_answer_404_in_json(api):
    response = api.get("/identity-provider/instances")  # /groups, once the example, is offered now
    assert (response.status_code, response.get_json()) == (404, {"error": "HTTP 404 Not Found"})


def test_a_master_administrator_made_with_idp_admin_create_manages_every_enabled_realm(client, settings, database):
    result = _add_master_admin(settings)
    assert result.exit_code == 0, result.output
    assert "added administrator root-admin" in result.output
    admin = AdminApi(client, _master_token(client))
    user_id = admin.create_member("kosmo8001")
    assert admin.get(f"/users/{user_id}").get_json()["access"]["manage"] is True
    assert admin.get("/events").status_code == 200
    closed = AdminApi(client, _master_token(client), realm=CLOSED_REALM)
    assert closed.get("/users").status_code == 404  # its switch is off for everyone


def test_idp_admin_create_refuses_a_taken_name_and_a_weak_password(settings, database):
    assert _add_master_admin(settings).exit_code == 0
    again = _add_master_admin(settings)
    weak = _add_master_admin(settings, username="second-admin", password="short")
    assert again.exit_code != 0 and "already has a user 'root-admin'" in again.output
    assert weak.exit_code != 0 and "password policy" in weak.output


def test_a_master_user_without_the_admin_role_cannot_use_the_api(client, settings, database):
    _add_master_admin(settings)
    with database.session() as session:
        session.scalar(select(User).where(User.username == MASTER_ADMIN)).roles = []
    token = _master_token(client)
    assert client.get(f"/admin/realms/{REALM}/users", headers=bearer(token)).status_code == 403


def test_the_bootstrap_variables_make_the_first_administrator_once(tmp_path, database):
    lines = []
    settings = make_settings(tmp_path, realms_dir=admin_realm_config(tmp_path / "realms"),
                             bootstrap_admin_username="Boot-Admin", bootstrap_admin_password=MASTER_PASSWORD)
    prepare(settings, database, echo=lines.append)
    prepare(settings, database, echo=lines.append)
    assert lines.count("master realm: created administrator boot-admin (IDP_BOOTSTRAP_ADMIN_USERNAME)") == 1
    with database.session() as session:
        assert session.scalar(select(User).where(User.username == "boot-admin")).roles == ["admin"]


def test_a_realm_file_naming_an_unknown_realm_management_role_is_refused():
    client = {"client_id": "batch", "secret": {"env": "X"}, "standard_flow": False, "service_account": True,
              "service_account_client_roles": {"realm-management": ["manage-everything"]}}
    with pytest.raises(ValidationError, match="unknown realm-management roles \\['manage-everything'\\]"):
        RealmConfig.model_validate({"realm": "society", "clients": [client]})


def test_realm_export_keeps_the_admin_switches_and_roles(database):
    with database.session() as session:
        exported = export_realm(session, find_realm(session, REALM))
    admin_client = next(client for client in exported["clients"] if client["client_id"] == ADMIN_CLIENT)
    assert exported["admin_api"] is True and admin_client["admin_api"] is True
    assert admin_client["service_account_client_roles"] == {
        "realm-management": ["manage-users", "view-events", "view-clients"]}


def _break_user_reads(monkeypatch, error: Exception) -> None:
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(idp.admin.users, "user_representation", broken)


def test_an_unexpected_failure_is_logged_and_answered_in_json(api, monkeypatch, caplog):
    user_id = api.create_member("kosmo8001")
    _break_user_reads(monkeypatch, RuntimeError("a bug"))
    response = api.get(f"/users/{user_id}")
    assert (response.status_code, response.get_json()) == (500, {"error": "unknown_error"})
    assert "unexpected error on GET" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_a_database_outage_is_the_503_every_endpoint_gives(api, monkeypatch):
    user_id = api.create_member("kosmo8001")
    _break_user_reads(monkeypatch, OperationalError("SELECT 1", {}, ConnectionError("server closed the connection")))
    response = api.get(f"/users/{user_id}")
    assert response.status_code == 503 and response.get_json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"]
