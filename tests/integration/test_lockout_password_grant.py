"""Brute-force detection on the token endpoint's password grant (Keycloak's direct access grants):
the same counts as the sign-in page, so guessing there locks the member everywhere, and a locked
member, known or not, gets Keycloak's `Invalid user credentials` like any wrong password."""
from __future__ import annotations

import pytest

import idp.oidc.grants.password
from tests.support.lockout import attempt, brute_force, enabled, error_text, events
from tests.support.sign_in import MEMBER_PASSWORD, add_member
from tests.support.tokens import add_direct_access_client, password_grant

INVALID = {"error": "invalid_grant", "error_description": "Invalid user credentials"}


@pytest.fixture
def token_clock(clock, monkeypatch):
    """The sign-in pages' clock, read by the token endpoint too."""
    monkeypatch.setattr(idp.oidc.grants.password, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def member(database, settings):
    member_id = add_member(database, settings)
    add_direct_access_client(database)
    return member_id


def guess(client, clock, password="wrong-password-1", **fields):
    clock.tick()
    return password_grant(client, password=password, **fields)


def test_ten_wrong_passwords_lock_the_grant_with_keycloaks_answer(client, token_clock, member, database):
    for _ in range(10):
        assert guess(client, token_clock).get_json() == INVALID

    locked = guess(client, token_clock, password=MEMBER_PASSWORD)
    assert (locked.status_code, locked.get_json()) == (401, INVALID)
    [user_locked] = events(database, "USER_LOCKED")
    assert (user_locked.user_id, user_locked.details["factor"]) == (member, "password")
    assert events(database, "LOGIN_ERROR")[-1].error == "user_temporarily_disabled"
    assert error_text(attempt(client, token_clock, password=MEMBER_PASSWORD)) != "(no error)"  # the page too

    token_clock.tick(seconds=61)
    assert guess(client, token_clock, password=MEMBER_PASSWORD).status_code == 200


def test_an_unknown_user_id_locks_alike_with_the_same_answer(client, token_clock, member, database):
    for _ in range(10):
        guess(client, token_clock, username="nobody-99")

    unknown = guess(client, token_clock, username="nobody-99", password=MEMBER_PASSWORD)
    assert (unknown.status_code, unknown.get_json()) == (401, INVALID)
    assert [e.error for e in events(database, "LOGIN_ERROR")][-2:] == ["user_not_found", "user_temporarily_disabled"]


def test_permanent_lockout_through_the_grant_disables_the_member(client, token_clock, member, database):
    brute_force(database, permanent_lockout=True, failure_factor=3)
    for _ in range(3):
        guess(client, token_clock)

    assert not enabled(database)
    assert [e.user_id for e in events(database, "USER_DISABLED_BY_PERMANENT_LOCKOUT")] == [member]
    token_clock.tick(days=1)
    assert guess(client, token_clock, password=MEMBER_PASSWORD).get_json() == INVALID
    assert events(database, "LOGIN_ERROR")[-1].error == "user_disabled"


def test_a_granted_password_clears_the_failures(client, token_clock, member):
    for _ in range(9):
        guess(client, token_clock)
    assert guess(client, token_clock, password=MEMBER_PASSWORD).status_code == 200
    guess(client, token_clock)  # the tenth failure had the ninth not been cleared
    assert guess(client, token_clock, password=MEMBER_PASSWORD).status_code == 200
