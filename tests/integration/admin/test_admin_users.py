"""The Admin API's `users` resource driven over HTTP: an operator's service account searches,
creates, reads, changes and deletes members, and is refused as Keycloak refuses."""
from __future__ import annotations

from sqlalchemy import select

from idp.db.models import AuditEvent, User
from tests.support.admin import MEMBER_PASSWORD, REALM


def _stored(database, user_id: str) -> User | None:
    with database.session() as session:
        user = session.get(User, user_id)
        if user is not None:
            session.expunge(user)
        return user


def test_a_created_member_gets_201_with_its_location_and_reads_back_as_keycloak_shapes_it(api, database, settings):
    response = api.post("/users", {"username": "Kosmo8001", "email": "Ichiro@Example.jp", "firstName": "一郎",
                                   "lastName": "鈴木", "enabled": True,
                                   "attributes": {"birthdate": ["1980-04-01"], "insurer": ["06123456"]}})
    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(f"{settings.base_url}/admin/realms/{REALM}/users/")
    user_id = location.rsplit("/", 1)[1]

    body = api.get(f"/users/{user_id}").get_json()
    assert body["username"] == "kosmo8001" and body["email"] == "ichiro@example.jp"
    assert (body["firstName"], body["lastName"]) == ("一郎", "鈴木")
    assert (body["enabled"], body["emailVerified"]) == (True, False)
    assert body["attributes"] == {"insurer": ["06123456"], "birthdate": ["1980-04-01"]}
    assert body["totp"] is False and body["requiredActions"] == [] and body["createdTimestamp"] > 0
    assert str(_stored(database, user_id).birthdate) == "1980-04-01"


def test_a_member_created_without_enabled_is_disabled_as_in_keycloak(api, database):
    user_id = api.create_member("kosmo8002", enabled=None)
    api.create_member("kosmo8003")
    assert api.get(f"/users/{user_id}").get_json()["enabled"] is False
    assert [user["username"] for user in api.get("/users", enabled="false").get_json()] == ["kosmo8002"]
    assert api.get("/users/count", enabled="true").get_json() == 1


def test_a_taken_user_id_or_email_is_409_with_keycloaks_message_and_nothing_is_written(api, database):
    api.create_member("kosmo8001", email="ichiro@example.jp")
    same_id = api.post("/users", {"username": "KOSMO8001", "enabled": True})
    same_email = api.post("/users", {"username": "kosmo8003", "email": "ICHIRO@example.jp", "enabled": True})
    assert (same_id.status_code, same_id.get_json()) == (409, {"errorMessage": "User exists with same username"})
    assert (same_email.status_code, same_email.get_json()) == (409, {"errorMessage": "User exists with same email"})
    assert api.get("/users/count").get_json() == 1


def test_invalid_fields_are_400_naming_each_field_and_nothing_is_created(api, database):
    response = api.post("/users", {"email": "not-an-address", "firstName": "x" * 300,
                                   "attributes": {"birthdate": ["1980-13-45"]}})
    body = response.get_json()
    assert response.status_code == 400
    assert body["field"] == "username" and body["errorMessage"] == "error-user-attribute-required"
    assert [(e["field"], e["errorMessage"]) for e in body["errors"]] == [
        ("username", "error-user-attribute-required"), ("email", "invalidEmailMessage"),
        ("firstName", "error-invalid-length"), ("birthdate", "error-invalid-date")]
    assert api.get("/users/count").get_json() == 0


def test_a_body_of_the_wrong_shape_is_a_400_not_a_500(api):
    for body in (["kosmo8001"], {"username": 8001}, {"username": "kosmo8001", "enabled": "yes"},
                 {"username": "kosmo8001", "attributes": {"a": [1]}}, {"username": "kosmo8001", "credentials": "x"}):
        response = api.post("/users", body)
        assert response.status_code == 400, body
        assert "errorMessage" in response.get_json()
    assert api.get("/users/count").get_json() == 0


def test_an_initial_password_follows_the_realm_policy(api, client, database):
    refused = api.post("/users", {"username": "kosmo8001", "enabled": True,
                                  "credentials": [{"type": "password", "value": "short"}]})
    assert refused.status_code == 400
    assert refused.get_json() == {"error": "invalidPasswordMinLengthMessage",
                                  "error_description": "Invalid password: minimum length 8."}
    assert api.get("/users/count").get_json() == 0
    api.create_member("kosmo8001", credentials=[{"type": "password", "value": MEMBER_PASSWORD, "temporary": True}])
    member = api.get("/users", username="kosmo8001", exact="true").get_json()[0]
    assert member["requiredActions"] == ["UPDATE_PASSWORD"]


def test_search_and_field_filters_work_as_keycloaks_with_paging(api):
    for number, (first, last, email) in enumerate([("一郎", "鈴木", "ichiro@example.jp"),
                                                    ("花子", "鈴木", "hanako@example.jp"),
                                                    ("太郎", "山田", "taro@kenpo.example")]):
        api.create_member(f"kosmo800{number + 1}", firstName=first, lastName=last, email=email)
    names = lambda response: [user["username"] for user in response.get_json()]  # noqa: E731
    assert names(api.get("/users", search="kosmo")) == ["kosmo8001", "kosmo8002", "kosmo8003"]
    assert names(api.get("/users", search="鈴木")) == ["kosmo8001", "kosmo8002"]
    assert names(api.get("/users", search="example.jp")) == []  # prefix by default
    assert names(api.get("/users", search="*example.jp*")) == ["kosmo8001", "kosmo8002"]
    assert names(api.get("/users", search='"kosmo800"')) == []
    assert names(api.get("/users", email="kenpo")) == ["kosmo8003"]
    assert names(api.get("/users", username="kosmo800", exact="true")) == []
    assert names(api.get("/users", username="KOSMO8002", exact="true")) == ["kosmo8002"]
    assert names(api.get("/users", first=1, max=1)) == ["kosmo8002"]
    assert names(api.get("/users", search="%")) == []  # LIKE wildcards are text
    assert names(api.get("/users", first=-3, max="9" * 30)) == ["kosmo8001", "kosmo8002", "kosmo8003"]
    assert api.get("/users", first="two").status_code == 400
    assert api.get("/users/count", lastName="鈴木").get_json() == 2
    brief = api.get("/users", briefRepresentation="true").get_json()[0]
    assert "attributes" not in brief and brief["username"] == "kosmo8001"


def test_service_accounts_are_not_listed_as_members(api):
    assert api.get("/users").get_json() == [] and api.get("/users/count").get_json() == 0


def test_an_update_changes_only_the_fields_sent_and_keeps_the_servers_own_flags(api, database):
    user_id = api.create_member("kosmo8001", email="ichiro@example.jp", emailVerified=True, firstName="一郎",
                                attributes={"insurer": ["06123456"]})
    with database.session() as session:
        stored = session.get(User, user_id)
        stored.attributes = {**stored.attributes, "email_code_enabled": True}
    assert api.put(f"/users/{user_id}", {"lastName": "鈴木", "attributes": {"branch": ["東京"]}}).status_code == 204
    body = api.get(f"/users/{user_id}").get_json()
    assert (body["firstName"], body["lastName"], body["emailVerified"]) == ("一郎", "鈴木", True)
    assert body["attributes"] == {"branch": ["東京"]}
    assert _stored(database, user_id).attributes == {"branch": ["東京"], "email_code_enabled": True}

    assert api.put(f"/users/{user_id}", {"email": "new@example.jp"}).status_code == 204
    assert api.get(f"/users/{user_id}").get_json()["emailVerified"] is False  # a new address is unverified


def test_an_update_cannot_take_anothers_email_or_rename_the_user_id(api):
    api.create_member("kosmo8001", email="ichiro@example.jp")
    user_id = api.create_member("kosmo8002", email="hanako@example.jp")
    taken = api.put(f"/users/{user_id}", {"email": "ichiro@example.jp", "firstName": "花子"})
    renamed = api.put(f"/users/{user_id}", {"username": "someone-else"})
    assert (taken.status_code, taken.get_json()) == (409, {"errorMessage": "User exists with same email"})
    assert renamed.status_code == 400 and renamed.get_json()["errorMessage"] == "error-user-attribute-read-only"
    body = api.get(f"/users/{user_id}").get_json()
    assert (body["email"], body["firstName"], body["username"]) == ("hanako@example.jp", "", "kosmo8002")


def test_required_actions_are_keycloak_aliases_and_unknown_ones_are_refused(api):
    user_id = api.create_member("kosmo8001")
    actions = {"requiredActions": ["CONFIGURE_TOTP", "TERMS_AND_CONDITIONS"]}
    assert api.put(f"/users/{user_id}", actions).status_code == 204
    assert api.get(f"/users/{user_id}").get_json()["requiredActions"] == ["CONFIGURE_TOTP", "TERMS_AND_CONDITIONS"]
    refused = api.put(f"/users/{user_id}", {"requiredActions": ["DANCE"]})
    assert (refused.status_code, refused.get_json()) == (400, {"errorMessage": "Provided invalid required actions"})
    assert api.get(f"/users/{user_id}").get_json()["requiredActions"] == ["CONFIGURE_TOTP", "TERMS_AND_CONDITIONS"]


def test_a_deleted_member_is_gone_and_then_not_found(api, database):
    user_id = api.create_member("kosmo8001")
    assert api.delete(f"/users/{user_id}").status_code == 204
    assert _stored(database, user_id) is None
    for response in (api.get(f"/users/{user_id}"), api.delete(f"/users/{user_id}"), api.put(f"/users/{user_id}", {})):
        assert (response.status_code, response.get_json()) == (404, {"error": "User not found"})


def test_every_change_is_kept_as_an_admin_event_naming_who_did_it(api, database):
    user_id = api.create_member("kosmo8001")
    api.put(f"/users/{user_id}", {"firstName": "一郎"})
    api.delete(f"/users/{user_id}")
    with database.session() as session:
        kept = session.scalars(select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.time)).all()
        assert [event.type for event in kept] == ["ADMIN_CREATE", "ADMIN_UPDATE", "ADMIN_DELETE"]
        assert {event.client_id for event in kept} == {"kosmo-admin"}
        assert kept[0].details["resource_path"] == f"users/{user_id}"
        assert kept[0].details["auth_username"] == "service-account-kosmo-admin"
    operations = [event["operationType"] for event in api.get("/admin-events").get_json()]
    assert operations == ["DELETE", "UPDATE", "CREATE"]
