"""The Admin API behind a valid administrator token, fuzzed: whatever JSON body or query a
back-office tool sends, the answer is never a 500, and a refused request changes no stored row."""
from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import assert_answered, assert_unchanged, fuzz, json_values, nasty_text, snapshot

REPRESENTATION_KEYS = ("username", "email", "firstName", "lastName", "enabled", "emailVerified", "attributes",
                       "requiredActions", "credentials", "id", "createdTimestamp", "totp", "groups", "realmRoles")


def representations() -> st.SearchStrategy:
    """A UserRepresentation-like object whose every field may hold any JSON, or any JSON at all."""
    fields = st.dictionaries(st.sampled_from(REPRESENTATION_KEYS), json_values(), max_size=6)
    plausible = st.fixed_dictionaries({"username": st.one_of(st.just("kosmo9001"), nasty_text())},
                                      optional={"email": st.one_of(st.just("kumiai@example.jp"), nasty_text()),
                                                "attributes": json_values(), "credentials": json_values()})
    return st.one_of(fields, plausible, json_values())


def _refused_changes_nothing(database, send, accepted: int, what: str) -> None:
    before = snapshot(database)
    response = send()
    assert_answered(response, what)
    if response.status_code != accepted:
        assert_unchanged(before, snapshot(database), what)


@fuzz(25)
@given(body=representations())
def test_creating_a_member_from_any_json_is_never_a_500(api, database, body):
    _refused_changes_nothing(database, lambda: api.post("/users", body), 201, f"POST users {body!r:.200}")


@fuzz(25)
@given(body=representations())
def test_updating_a_member_with_any_json_is_never_a_500(api, database, body):
    user_id = _member(api)
    _refused_changes_nothing(database, lambda: api.put(f"/users/{user_id}", body), 204, f"PUT users {body!r:.200}")


@fuzz(20)
@given(body=st.one_of(st.fixed_dictionaries({"type": st.just("password"), "value": nasty_text()},
                                            optional={"temporary": json_values()}), json_values()))
def test_a_password_reset_with_any_json_is_never_a_500(api, database, body):
    user_id = _member(api)
    _refused_changes_nothing(database, lambda: api.put(f"/users/{user_id}/reset-password", body), 204,
                             f"reset-password {body!r:.200}")


@fuzz(20)
@given(body=json_values(), params=st.dictionaries(st.sampled_from(("client_id", "redirect_uri", "lifespan")),
                                                  nasty_text(), max_size=3))
def test_execute_actions_email_with_any_json_or_query_is_never_a_500(api, database, body, params):
    user_id = _member(api)
    _refused_changes_nothing(database, lambda: api.put(f"/users/{user_id}/execute-actions-email", body, **params),
                             204, f"execute-actions-email {body!r:.120} {params!r:.120}")


@fuzz(25)
@given(params=st.dictionaries(st.sampled_from(("search", "username", "email", "firstName", "lastName", "exact",
                                               "first", "max", "briefRepresentation", "enabled", "q")),
                              nasty_text(), max_size=5))
def test_searching_members_with_any_query_is_never_a_500(api, params):
    for path in ("/users", "/users/count"):
        assert_answered(api.get(path, **params), f"GET {path} {params!r:.200}")


@fuzz(15)
@given(label=json_values(), credential=st.one_of(st.just(None), nasty_text()))
def test_renaming_or_removing_a_credential_with_anything_is_never_a_500(api, database, label, credential):
    user_id = _member(api)
    credential_id = credential if credential is not None else _password_credential(api, user_id)
    path = f"/users/{user_id}/credentials/{quote(credential_id, safe='')}"  # as a client library sends it
    _refused_changes_nothing(database, lambda: api.put(f"{path}/userLabel", label), 204, f"userLabel {label!r:.200}")
    assert_answered(api.delete(path), f"DELETE credential {credential_id!r:.100}")


def _member(api) -> str:
    """The member every example works on (made once; later examples find it)."""
    found = api.get("/users", username="kosmo9000", exact="true").get_json()
    if found:
        return found[0]["id"]
    return api.create_member("kosmo9000", email="kosmo9000@example.jp",
                             credentials=[{"type": "password", "value": "Kenpo-Kumiai-9000", "temporary": False}])


def _password_credential(api, user_id: str) -> str:
    credentials = api.get(f"/users/{user_id}/credentials").get_json()
    return credentials[0]["id"] if credentials else "none"
