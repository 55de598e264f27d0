"""Keycloak's brute-force detection against the real ephemeral store (SQL, and Redis when
IDP_TEST_REDIS_URL is set), with the clock moved by hand."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from idp.ephemeral import make_store
from idp.realms.schema import BruteForceSettings
from idp.security.brute_force import (
    IP_FACTOR,
    PERMANENT_SECONDS,
    BruteForce,
    Failure,
    disable_for_lockout,
    lock_events,
    whose,
)

START = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
MEMBER, OTHER = "member-1", "member-2"
HOME, OFFICE = "192.0.2.10", "198.51.100.7"


@pytest.fixture(params=["sql", "redis"])
def store(request, migrated_database):
    return make_store(request.getfixturevalue("redis_url") if request.param == "redis" else None, migrated_database)


class Clock:
    """The realm's detection as seen at a moment that tests move forward."""

    def __init__(self, store, **settings):
        self.store = store
        self.settings = BruteForceSettings(enabled=True, **settings)
        self.now = START

    def guard(self) -> BruteForce:
        return BruteForce(self.store, "realm-1", self.settings, self.now)

    def fail(self, user_id=MEMBER, ip=HOME, times=1, every=timedelta(seconds=5)):
        failure = None
        for _ in range(times):
            self.now += every
            failure = self.guard().failed(user_id, ip)
        return failure

    def wait(self, **delta):
        self.now += timedelta(**delta)

    def locked(self, user_id=MEMBER, ip=HOME):
        return self.guard().locked(user_id, ip)


def test_failures_below_the_factor_do_not_lock(store):
    clock = Clock(store, failure_factor=3)
    assert clock.fail(times=2).wait_seconds == 0
    assert clock.locked() is None


def test_reaching_the_failure_factor_locks_for_the_wait_increment(store):
    clock = Clock(store, failure_factor=3, wait_increment_seconds=60)
    failure = clock.fail(times=3)
    assert (failure.wait_seconds, failure.lock_started, failure.permanent) == (60, True, False)
    assert clock.locked() == 60
    assert clock.locked(user_id=OTHER) is None


def test_the_lock_ends_after_the_wait(store):
    clock = Clock(store, failure_factor=3, wait_increment_seconds=60)
    clock.fail(times=3)
    clock.wait(seconds=59)
    assert clock.locked() == 1
    clock.wait(seconds=1)
    assert clock.locked() is None


def test_the_wait_grows_with_each_multiple_of_the_factor_and_is_capped(store):
    clock = Clock(store, failure_factor=2, wait_increment_seconds=60, max_failure_wait_seconds=150)
    waits = []
    for _ in range(6):
        waits.append(clock.fail().wait_seconds)
        clock.wait(minutes=5)  # past every wait, so each failure is a fresh attempt
    assert waits == [0, 60, 60, 120, 120, 150]


def test_a_new_lock_is_reported_once(store):
    clock = Clock(store, failure_factor=2, wait_increment_seconds=60)
    clock.fail()
    assert clock.fail().lock_started
    assert not clock.fail().lock_started  # a failure while still locked extends, it does not start


def test_failures_older_than_max_delta_time_are_forgotten(store):
    clock = Clock(store, failure_factor=3, max_delta_time_seconds=600)
    clock.fail(times=2)
    clock.wait(seconds=601)
    assert clock.fail().wait_seconds == 0
    assert clock.locked() is None


def test_two_failures_within_the_quick_login_check_wait_the_minimum(store):
    clock = Clock(store, failure_factor=30, quick_login_check_milli_seconds=1000, minimum_quick_login_wait_seconds=45)
    clock.fail()
    failure = clock.fail(every=timedelta(milliseconds=400))
    assert (failure.wait_seconds, failure.lock_started) == (45, True)
    assert clock.locked() == 45


def test_a_slow_second_failure_is_not_a_quick_login(store):
    clock = Clock(store, failure_factor=30, quick_login_check_milli_seconds=1000)
    clock.fail()
    assert clock.fail(every=timedelta(milliseconds=1500)).wait_seconds == 0


def test_a_success_clears_the_members_failures(store):
    clock = Clock(store, failure_factor=3)
    clock.fail(times=2)
    clock.guard().succeeded(MEMBER)
    assert clock.fail().wait_seconds == 0


def test_permanent_lockout_locks_until_unlocked(store):
    clock = Clock(store, failure_factor=3, permanent_lockout=True)
    assert not clock.fail(times=2).permanent
    failure = clock.fail()
    assert (failure.permanent, failure.lock_started) == (True, True)
    clock.wait(days=365)
    assert clock.locked() is not None
    assert clock.guard().permanently_locked(MEMBER)

    assert clock.guard().unlock(MEMBER) is True
    assert clock.locked() is None
    assert clock.guard().unlock(MEMBER) is False


def test_unlock_lifts_a_temporary_lock(store):
    clock = Clock(store, failure_factor=2)
    clock.fail(times=2)
    assert clock.guard().unlock(MEMBER) is False
    assert clock.locked() is None


def test_an_address_failing_across_many_user_ids_is_slowed(store):
    clock = Clock(store, failure_factor=2, wait_increment_seconds=60)
    for n in range(2 * IP_FACTOR - 1):
        clock.fail(user_id=f"guess-{n}")
    assert clock.locked(user_id="a-new-guess") is None
    clock.fail(user_id="one-more-guess")
    assert clock.locked(user_id="a-new-guess") == 60
    assert clock.locked(user_id="a-new-guess", ip=OFFICE) is None


def test_user_ids_are_counted_without_regard_to_case(store):
    clock = Clock(store, failure_factor=2)
    clock.fail(user_id="Hanako-01")
    clock.fail(user_id="hanako-01")
    assert clock.locked(user_id="HANAKO-01") is not None


def test_nothing_is_counted_when_detection_is_off(store):
    guard = BruteForce(store, "realm-1", BruteForceSettings(enabled=False, failure_factor=1), START)
    assert guard.failed(MEMBER, HOME).wait_seconds == 0
    assert guard.locked(MEMBER, HOME) is None


def test_status_reads_as_keycloaks_attack_detection_for_a_member_never_failed(store):
    clock = Clock(store)
    assert clock.guard().status(MEMBER) == {"numFailures": 0, "disabled": False, "lastIPFailure": "n/a",
                                            "lastFailure": 0}


def test_status_counts_failures_and_names_the_last_address_and_time(store):
    clock = Clock(store, failure_factor=3, wait_increment_seconds=60)
    clock.fail(times=2)
    clock.fail(ip=OFFICE)
    last_failure_ms = int(clock.now.timestamp() * 1000)

    assert clock.guard().status(MEMBER) == {"numFailures": 3, "disabled": True, "lastIPFailure": OFFICE,
                                            "lastFailure": last_failure_ms}
    clock.wait(seconds=60)
    assert clock.guard().status(MEMBER)["disabled"] is False
    assert clock.guard().status(OTHER)["numFailures"] == 0


def test_status_is_cleared_by_unlock_and_empty_when_detection_is_off(store):
    clock = Clock(store, failure_factor=3, permanent_lockout=True)
    clock.fail(times=3)
    assert clock.guard().status(MEMBER)["disabled"] is True
    off = BruteForce(store, "realm-1", BruteForceSettings(enabled=False), clock.now)
    assert off.status(MEMBER)["numFailures"] == 0

    clock.guard().unlock(MEMBER)
    assert clock.guard().status(MEMBER) == {"numFailures": 0, "disabled": False, "lastIPFailure": "n/a",
                                            "lastFailure": 0}


def test_an_unknown_user_id_counts_as_typed_whatever_its_case_and_spaces():
    assert whose("c0ffee-member-id", "Hanako-01") == "c0ffee-member-id"
    assert whose(None, " Nobody-Here ") == whose(None, "nobody-here") == "login:nobody-here"


def test_a_temporary_lock_is_reported_with_keycloaks_reason_and_when_it_ends():
    failure = Failure(wait_seconds=60, lock_started=True, failures=10)
    assert lock_events(failure, "otp", START.timestamp(), member_known=True) == [
        ("USER_LOCKED", {"reason": "brute_force_attack detected", "num_failures": 10, "factor": "otp",
                         "not_before": "2025-04-01T00:01:00+00:00"})]


def test_a_permanent_lockout_disables_a_member_but_an_unknown_id_has_no_one_to_disable():
    failure = Failure(wait_seconds=PERMANENT_SECONDS, lock_started=True, permanent=True, failures=3)
    details = {"reason": "brute_force_attack detected", "num_failures": 3, "factor": "password"}
    assert lock_events(failure, "password", START.timestamp(), member_known=True) == [
        ("USER_LOCKED", {**details, "permanent": True}), ("USER_DISABLED_BY_PERMANENT_LOCKOUT", details)]
    assert [type for type, _ in lock_events(failure, "password", START.timestamp(), member_known=False)] == [
        "USER_LOCKED"]


def test_a_member_disabled_by_a_permanent_lockout_is_unlocked_even_when_the_store_forgot(store):
    member = SimpleNamespace(id=MEMBER, enabled=True, attributes={"email_code_enabled": True})
    disable_for_lockout(member)
    guard = Clock(store).guard()

    assert member.attributes["disabledReason"] == ["permanentLockout"]  # as Keycloak marks it
    assert guard.lockout_error(MEMBER, HOME, member) == "user_disabled"
    assert guard.unlock_member(member) is True
    assert (member.enabled, member.attributes) == (True, {"email_code_enabled": True})
    assert guard.lockout_error(MEMBER, HOME, member) is None


def test_a_member_an_operator_disabled_is_neither_locked_nor_enabled_by_unlock(store):
    member = SimpleNamespace(id=MEMBER, enabled=False, attributes={})
    guard = Clock(store).guard()

    assert guard.lockout_error(MEMBER, HOME, member) is None
    assert guard.unlock_member(member) is False and member.enabled is False


def test_the_lockout_error_names_a_temporary_lock_as_keycloak_does(store):
    clock = Clock(store, failure_factor=2)
    clock.fail(times=2)
    assert clock.guard().lockout_error(MEMBER, HOME) == "user_temporarily_disabled"
    assert clock.guard().lockout_error(OTHER, OFFICE) is None
