"""Keycloak's brute-force detection: failed sign-ins counted per member and per client IP in the
ephemeral store, with temporary waits, the quick-login check and permanent lockout.

Every sign-in step uses it through `StepGuard` (password, date of birth, app and mailed codes,
passkeys): ask `refuses` before checking what the member typed, report `failed` after a wrong
answer; a completed sign-in clears the member's failures. The token endpoint's password grant
uses the same guard, so its counts, locks and events are the sign-in page's. `status` answers
the Admin API. Nothing here touches Flask or SQL.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from idp.ephemeral import EphemeralStore, keys
from idp.realms.schema import BruteForceSettings, RealmConfig

if TYPE_CHECKING:
    from idp.db.models import Realm, User
    from idp.flows.api import StepContext

# Keycloak's REASON detail on its lockout events.
REASON = "brute_force_attack detected"
# What every factor's page says while locked: the same for known and unknown user IDs.
LOCKED_MESSAGE = "brute_force.locked"

# One address failing across many user IDs is slowed too, but a whole office or a mobile
# carrier may share one address: it gets five times the member's allowance before it waits,
# the same growing wait, no quick-login check and never a permanent lockout.
IP_FACTOR = 5

# How long a permanent lockout is kept: until an operator runs `idp user unlock`.
PERMANENT_SECONDS = 10 * 365 * 24 * 3600
# Keycloak's mark on a member disabled by a permanent lockout: it outlives the ephemeral store.
DISABLED_REASON, PERMANENT_LOCKOUT = "disabledReason", "permanentLockout"


@dataclass(frozen=True)
class Failure:
    """What one failure did: `wait_seconds` of lock now (0 when none), whether the lock began
    with this failure (for USER_LOCKED) and whether it was permanent (the member is disabled)."""

    wait_seconds: int = 0
    lock_started: bool = False
    permanent: bool = False
    failures: int = 0  # the member's failures so far, this one included


class BruteForce:
    """The realm's brute-force detection at the moment `now` (aware UTC, so tests can move time).

    `user_id` is the member's id, or for a user ID nobody has, the lower-cased text typed, so
    an unknown ID locks after as many failures as a real one and the answer gives nothing away.
    """

    def __init__(self, store: EphemeralStore | None, realm_id: str, settings: BruteForceSettings, now: datetime):
        self.store = store
        self.realm_id = realm_id
        self.settings = settings
        self.now = now.timestamp()

    @property
    def enabled(self) -> bool:
        # A context built without an ephemeral store (some step unit tests) has nowhere to count.
        return self.settings.enabled and self.store is not None

    @property
    def _records(self) -> EphemeralStore:
        """Where the counts are kept; only asked for once `enabled` said there is a store."""
        if self.store is None:
            raise RuntimeError("brute-force detection was asked for counts it has no store for")
        return self.store

    def locked(self, user_id: str, ip: str) -> int | None:
        """Seconds the member (or the address) must still wait, or None when they may try."""
        if not self.enabled:
            return None
        return self._wait(self._records.get(self._user_key(user_id)), ip)

    def _wait(self, member_record: dict | None, ip: str) -> int | None:
        """`locked`, given the member's record already read."""
        left = max(self._seconds_left(member_record), self._seconds_left(self._records.get(self._ip_key(ip))))
        return left or None

    def lockout_error(self, who: str, ip: str, member: User | None = None) -> str | None:
        """Keycloak's error for an attempt refused by a lock: `user_disabled` after a permanent
        lockout (in the store, or marked on the member if the store has lost it), otherwise
        `user_temporarily_disabled`; None when the attempt may be checked."""
        if member is not None and permanently_locked_out(member):
            return "user_disabled"
        if not self.enabled:
            return None
        record = self._records.get(self._user_key(who))  # read once: it tells the lock and its kind
        if not self._wait(record, ip):
            return None
        return "user_disabled" if record and record.get("permanent") else "user_temporarily_disabled"

    def permanently_locked(self, user_id: str) -> bool:
        record = self._records.get(self._user_key(user_id))
        return bool(record and record.get("permanent"))

    def failed(self, user_id: str, ip: str) -> Failure:
        """Count a failure against the member and the address; returns what it started."""
        if not self.enabled:
            return Failure()
        self._fail_address(ip)
        return self._fail_member(user_id, ip)

    def succeeded(self, user_id: str) -> None:
        """A correct answer clears the member's failures (the address keeps its count, so one
        account the attacker knows cannot wash away their guesses at others)."""
        if self.enabled:
            self._records.delete(self._user_key(user_id))

    def unlock(self, user_id: str) -> bool:
        """Forget the member's failures and lock; True when they were permanently locked."""
        was_permanent = self.permanently_locked(user_id)
        self._records.delete(self._user_key(user_id))
        return was_permanent

    def unlock_member(self, member: User) -> bool:
        """`unlock`, and enable the member again after a permanent lockout; True when it was one."""
        was_permanent = self.unlock(member.id) or permanently_locked_out(member)
        if was_permanent:
            member.enabled = True
            member.attributes = {k: v for k, v in (member.attributes or {}).items() if k != DISABLED_REASON}
        return was_permanent

    def status(self, user_id: str) -> dict:
        """The member's failures in Keycloak's attack-detection JSON (the Admin API's
        `GET attack-detection/brute-force/users/{id}`): `lastFailure` in epoch milliseconds,
        `disabled` while a lock (temporary or permanent) holds."""
        record = self._records.get(self._user_key(user_id)) if self.enabled else None
        if not record:
            return {"numFailures": 0, "disabled": False, "lastIPFailure": "n/a", "lastFailure": 0}
        return {"numFailures": record["failures"], "disabled": record["not_before"] > self.now,
                "lastIPFailure": record.get("last_ip_failure", "n/a"), "lastFailure": record["last_failure_ms"]}

    def _fail_member(self, user_id: str, ip: str) -> Failure:
        settings, key = self.settings, self._user_key(user_id)
        record, delta_ms = self._next_failure(key, reset=not settings.permanent_lockout)
        record["last_ip_failure"] = ip
        if settings.permanent_lockout:
            wait = self._quick_login_wait(record, delta_ms)
            if record["failures"] >= settings.failure_factor:
                record.update(not_before=self.now + PERMANENT_SECONDS, permanent=True)
                self._records.put(key, record, PERMANENT_SECONDS)
                return Failure(PERMANENT_SECONDS, lock_started=True, permanent=True, failures=record["failures"])
        else:
            wait = settings.wait_increment_seconds * (record["failures"] // settings.failure_factor)
            wait = wait or self._quick_login_wait(record, delta_ms)
            wait = min(settings.max_failure_wait_seconds, wait)
        return self._save(key, record, wait)

    def _fail_address(self, ip: str) -> None:
        settings, key = self.settings, self._ip_key(ip)
        record, _ = self._next_failure(key, reset=True)
        wait = settings.wait_increment_seconds * (record["failures"] // (settings.failure_factor * IP_FACTOR))
        self._save(key, record, min(settings.max_failure_wait_seconds, wait))

    def _next_failure(self, key: str, *, reset: bool) -> tuple[dict, int]:
        """The record with this failure counted, and the milliseconds since the previous one
        (0 for the first); failures older than max_delta_time are forgotten first."""
        record = self._records.get(key) or {"failures": 0, "last_failure_ms": 0, "not_before": 0}
        now_ms = int(self.now * 1000)
        last = record["last_failure_ms"]
        delta_ms = now_ms - last if last else 0
        if reset and delta_ms > self.settings.max_delta_time_seconds * 1000:
            record["failures"] = 0
        record["failures"] += 1
        record["last_failure_ms"] = now_ms
        return record, delta_ms

    def _quick_login_wait(self, record: dict, delta_ms: int) -> int:
        """Two failures closer than quick_login_check_milli_seconds: a machine, so it waits."""
        quick = record["failures"] > 1 and delta_ms < self.settings.quick_login_check_milli_seconds
        return self.settings.minimum_quick_login_wait_seconds if quick else 0

    def _save(self, key: str, record: dict, wait: int) -> Failure:
        already_locked = record["not_before"] > self.now
        if wait > 0:
            record["not_before"] = self.now + wait
        keep = max(self.settings.max_delta_time_seconds, wait, 1)
        self._records.put(key, record, keep)
        return Failure(wait, lock_started=wait > 0 and not already_locked, failures=record["failures"])

    def _seconds_left(self, record: dict | None) -> int:
        if not record:
            return 0
        left = record["not_before"] - self.now
        return max(0, int(left + 0.999))

    def _user_key(self, user_id: str) -> str:
        return keys.brute_force_member(self.realm_id, user_id)

    def _ip_key(self, ip: str) -> str:
        return keys.brute_force_ip(self.realm_id, ip)


def disable_for_lockout(member: User) -> None:
    """A permanent lockout disables the member, marked as Keycloak marks it."""
    member.enabled = False
    member.attributes = {**(member.attributes or {}), DISABLED_REASON: [PERMANENT_LOCKOUT]}


def permanently_locked_out(member: User) -> bool:
    return not member.enabled and (member.attributes or {}).get(DISABLED_REASON) == [PERMANENT_LOCKOUT]


def whose(member_id: str | None, login: str) -> str:
    """Whom failures count against: the member, or for a user ID nobody has, the text typed (so
    an unknown ID locks exactly like a real one and the answer gives nothing away)."""
    return member_id or "login:" + login.strip().lower()[:255]


def lock_events(failure: Failure, factor: str, now: float, member_known: bool) -> list[tuple[str, dict]]:
    """The events reporting the lock `failure` started, with Keycloak's details: USER_LOCKED, and
    for a permanent lockout of a member USER_DISABLED_BY_PERMANENT_LOCKOUT (they are disabled)."""
    common = dict(reason=REASON, num_failures=failure.failures, factor=factor)
    if not failure.permanent:
        not_before = datetime.fromtimestamp(now + failure.wait_seconds, UTC)
        return [("USER_LOCKED", {**common, "not_before": not_before.isoformat()})]
    disabled = [("USER_DISABLED_BY_PERMANENT_LOCKOUT", common)] if member_known else []
    return [("USER_LOCKED", {**common, "permanent": True}), *disabled]


@dataclass(frozen=True)
class SignInAttempt:
    """A sign-in outside a flow (the token endpoint's password grant) as a guard reads it: the
    parts of a flow step's `StepContext` it needs. `record_event` adds the attempt's member,
    client and address."""

    realm: Realm
    config: RealmConfig
    store: EphemeralStore
    user: User | None
    ip_address: str
    now: datetime
    record_event: Callable[..., None]
    lock_out: Callable[[User], None] = disable_for_lockout


class StepGuard:
    """The realm's detection as a sign-in attempt uses it for one factor ("password", "birthdate",
    "otp", "email-code"), reporting as Keycloak does: a flow step's, or the password grant's.

    `member` is whom the answer is about (the step's member unless the step names one, as the
    password step does); with no member, the failures count against the `login` typed.
    `error_event` is the event that a refusal during a lock is recorded as."""

    def __init__(self, ctx: StepContext | SignInAttempt, factor: str, *, member: User | None = None, login: str = "",
                 error_event: str = "LOGIN_ERROR"):
        self.ctx, self.factor, self.error_event = ctx, factor, error_event
        self.member = member if member is not None or login else ctx.user
        self.who = whose(self.member.id if self.member is not None else None, login)
        self.detection = BruteForce(ctx.store, ctx.realm.id, ctx.config.brute_force, ctx.now)

    def holds(self) -> bool:
        """Whether the member (or the address) is locked now; records nothing (for showing a page)."""
        return self.lockout_error() is not None

    def refuses(self, **details: object) -> bool:
        """True while the member (or the address) is locked: the answer must then not even be
        checked. Records the refusal with Keycloak's error (see BruteForce.lockout_error)."""
        error = self.lockout_error()
        if error is None:
            return False
        self.ctx.record_event(self.error_event, error=error, **self._whom(), **details)
        return True

    def lockout_error(self) -> str | None:
        """Keycloak's error while the member (or the address) is locked, else None; records
        nothing, for a caller that reports the refusal in its own words (the password grant)."""
        return self.detection.lockout_error(self.who, self.ctx.ip_address, self.member)

    def failed(self, **details: object) -> Failure:
        """Count a wrong answer. When it starts a lock: USER_LOCKED with Keycloak's details; when
        the lock is permanent the member is disabled as well (USER_DISABLED_BY_PERMANENT_LOCKOUT)."""
        failure = self.detection.failed(self.who, self.ctx.ip_address)
        if failure.lock_started:
            self._report(failure, details)
        return failure

    def succeeded(self) -> None:
        """A right answer that completes the sign-in by itself (the password grant) clears the
        member's failures; a flow clears them only when it completes."""
        self.detection.succeeded(self.who)

    def _report(self, failure: Failure, details: dict) -> None:
        for type, lock_details in lock_events(failure, self.factor, self.detection.now, self.member is not None):
            self.ctx.record_event(type, **lock_details, **self._whom(), **details)
        if failure.permanent and self.member is not None:
            self.ctx.lock_out(self.member)

    def _whom(self) -> dict:
        """Whom the events are about, when the step has not signed the member in yet."""
        if self.member is None or self.member is self.ctx.user:
            return {}
        return {"user_id": self.member.id}
