"""Brute-force lockout on the demo society's sign-in page (failure factor 10): a guessed password
locks the account, an unknown user ID answers exactly the same, and an operator unlocks."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idp.ephemeral import make_store
from idp.realms import find_realm
from tests.support.cli import cli
from tests.support.lockout import INVALID, LOCKED, attempt, brute_force, enabled, error_text, events
from tests.support.sign_in import add_member

FAILURE_FACTOR = 10


@pytest.fixture
def member(database, settings):
    return add_member(database, settings)


def test_ten_wrong_passwords_lock_the_member_even_against_the_right_password(client, clock, member, database):
    answers = [error_text(attempt(client, clock)) for _ in range(FAILURE_FACTOR)]
    assert answers == [INVALID] * FAILURE_FACTOR
    lock_ends = clock.now + timedelta(seconds=60)

    refused = attempt(client, clock, password="sakura-2024-spring")
    assert (refused.status_code, error_text(refused)) == (401, LOCKED)
    [locked] = events(database, "USER_LOCKED")
    assert (locked.user_id, locked.details) == (member, {
        "reason": "brute_force_attack detected", "num_failures": 10, "factor": "password", "username": "hanako-01",
        "not_before": lock_ends.isoformat()})
    last_error = events(database, "LOGIN_ERROR")[-1]
    assert (last_error.user_id, last_error.error) == (member, "user_temporarily_disabled")


def test_an_unknown_user_id_is_locked_after_as_many_failures_with_the_same_page(client, clock, member):
    for _ in range(FAILURE_FACTOR):
        attempt(client, clock, username="nobody-here")
    for _ in range(FAILURE_FACTOR):
        attempt(client, clock)

    unknown, known = attempt(client, clock, username="Nobody-Here"), attempt(client, clock)
    assert (unknown.status_code, error_text(unknown)) == (known.status_code, error_text(known)) == (401, LOCKED)
    assert without_tokens(unknown, "Nobody-Here") == without_tokens(known, "hanako-01")


def without_tokens(response, username: str) -> str:
    """The page with what differs between any two sign-ins (tab, CSRF and step tokens) blanked."""
    page = re.sub(r'value="[^"]*"|tab_id=[^&"]*', "", response.get_data(as_text=True))
    return page.replace(username, "")


def test_the_lock_ends_after_the_wait_and_a_success_clears_the_count(app, client, clock, member):
    for _ in range(FAILURE_FACTOR):
        attempt(client, clock)
    clock.tick(seconds=61)  # the demo realm's wait increment is Keycloak's 60 seconds

    signed_in = attempt(client, clock, password="sakura-2024-spring")
    assert signed_in.status_code == 302
    another_browser = app.test_client()
    for _ in range(FAILURE_FACTOR - 1):
        attempt(another_browser, clock)
    assert attempt(another_browser, clock, password="sakura-2024-spring").status_code == 302


def test_two_failures_within_a_second_wait_the_quick_login_minimum(client, clock, member):
    attempt(client, clock)
    clock.tick(seconds=-1.5)  # the next attempt comes half a second after the first
    attempt(client, clock)
    assert error_text(attempt(client, clock, password="sakura-2024-spring")) == LOCKED


def test_an_operator_unlocks_a_locked_member(client, clock, member, settings):
    for _ in range(FAILURE_FACTOR):
        attempt(client, clock)

    result = cli(settings)("user", "unlock", "--realm", "kosmo-demo", "hanako-01")
    assert (result.exit_code, result.output.strip()) == (0, "realm kosmo-demo: unlocked hanako-01")
    assert attempt(client, clock, password="sakura-2024-spring").status_code == 302


def test_unlock_names_an_unknown_realm_or_user_in_one_line(database, settings):
    idp = cli(settings)
    for args, problem in [(("--realm", "nowhere", "hanako-01"), "no realm named 'nowhere'"),
                          (("--realm", "kosmo-demo", "nobody-here"), "no user 'nobody-here'")]:
        result = idp("user", "unlock", *args)
        assert result.exit_code != 0
        assert len(result.output.strip().splitlines()) == 1 and problem in result.output


def test_permanent_lockout_disables_the_member_until_an_operator_unlocks(client, clock, member, database, settings):
    brute_force(database, permanent_lockout=True, failure_factor=3)
    for _ in range(3):
        attempt(client, clock)

    assert not enabled(database)
    clock.tick(days=30)
    refused = attempt(client, clock, password="sakura-2024-spring")
    assert (refused.status_code, error_text(refused)) == (401, LOCKED)
    assert [e.type for e in events(database, "USER_DISABLED_BY_PERMANENT_LOCKOUT")] == [
        "USER_DISABLED_BY_PERMANENT_LOCKOUT"]

    result = cli(settings)("user", "unlock", "--realm", "kosmo-demo", "hanako-01")
    assert result.output.strip() == ("realm kosmo-demo: unlocked hanako-01 and enabled it again after a permanent "
                                     "lockout")
    assert enabled(database)
    assert attempt(client, clock, password="sakura-2024-spring").status_code == 302


def test_one_address_guessing_across_many_user_ids_is_stopped_but_another_address_is_not(app, clock, member):
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for n in range(5 * FAILURE_FACTOR):  # five times a member's allowance: offices share one address
        assert error_text(attempt(guesser, clock, username=f"guess-{n:03d}")) == INVALID

    assert error_text(attempt(guesser, clock, username="guess-new")) == LOCKED
    assert error_text(attempt(guesser, clock, password="sakura-2024-spring")) == LOCKED
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert attempt(elsewhere, clock, password="sakura-2024-spring").status_code == 302


def test_a_permanent_lockout_outlives_the_loss_of_the_ephemeral_store(client, clock, member, database, settings):
    brute_force(database, permanent_lockout=True, failure_factor=3)
    for _ in range(3):
        attempt(client, clock)
    forget_failures(database, member)  # Redis flushed, say: only the member's record remembers

    refused = attempt(client, clock, password="sakura-2024-spring")
    assert (refused.status_code, error_text(refused)) == (401, LOCKED)
    assert events(database, "LOGIN_ERROR")[-1].error == "user_disabled"
    result = cli(settings)("user", "unlock", "--realm", "kosmo-demo", "hanako-01")
    assert result.output.strip() == ("realm kosmo-demo: unlocked hanako-01 and enabled it again after a permanent "
                                     "lockout")
    assert attempt(client, clock, password="sakura-2024-spring").status_code == 302


def forget_failures(database, user_id: str) -> None:
    with database.session() as session:
        realm_id = find_realm(session, "kosmo-demo").id
    make_store(None, database).delete(f"brute-force:{realm_id}:user:{user_id}")
