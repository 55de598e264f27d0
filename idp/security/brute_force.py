"""Keycloak's brute-force detection: failed sign-ins counted per member and per client IP in the
ephemeral store, with temporary waits, the quick-login check and permanent lockout.

Any factor may use it (password, date of birth, one-time codes): ask `locked` before checking
what the member typed, report `failed` or `succeeded` after. Nothing here touches Flask or SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idp.ephemeral import EphemeralStore
from idp.realms.schema import BruteForceSettings

# One address failing across many user IDs is slowed too, but a whole office or a mobile
# carrier may share one address: it gets five times the member's allowance before it waits,
# the same growing wait, no quick-login check and never a permanent lockout.
IP_FACTOR = 5

# How long a permanent lockout is kept: until an operator runs `idp user unlock`.
PERMANENT_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class Failure:
    """What one failure did: `wait_seconds` of lock now (0 when none), whether the lock began
    with this failure (for USER_LOCKED) and whether it was permanent (the member is disabled)."""

    wait_seconds: int = 0
    lock_started: bool = False
    permanent: bool = False


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

    def locked(self, user_id: str, ip: str) -> int | None:
        """Seconds the member (or the address) must still wait, or None when they may try."""
        if not self.enabled:
            return None
        left = max(self._seconds_left(self._user_key(user_id)), self._seconds_left(self._ip_key(ip)))
        return left or None

    def permanently_locked(self, user_id: str) -> bool:
        record = self.store.get(self._user_key(user_id))
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
            self.store.delete(self._user_key(user_id))

    def unlock(self, user_id: str) -> bool:
        """Forget the member's failures and lock; True when they were permanently locked."""
        was_permanent = self.permanently_locked(user_id)
        self.store.delete(self._user_key(user_id))
        return was_permanent

    def status(self, user_id: str) -> dict:
        """The member's failures in Keycloak's attack-detection JSON (the Admin API's
        `GET attack-detection/brute-force/users/{id}`): `lastFailure` in epoch milliseconds,
        `disabled` while a lock (temporary or permanent) holds."""
        record = self.store.get(self._user_key(user_id)) if self.enabled else None
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
                self.store.put(key, record, PERMANENT_SECONDS)
                return Failure(wait_seconds=PERMANENT_SECONDS, lock_started=True, permanent=True)
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
        record = self.store.get(key) or {"failures": 0, "last_failure_ms": 0, "not_before": 0}
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
        self.store.put(key, record, keep)
        return Failure(wait_seconds=wait, lock_started=wait > 0 and not already_locked)

    def _seconds_left(self, key: str) -> int:
        record = self.store.get(key)
        if not record:
            return 0
        left = record["not_before"] - self.now
        return max(0, int(left + 0.999))

    def _user_key(self, user_id: str) -> str:
        return f"brute-force:{self.realm_id}:user:{user_id.lower()}"

    def _ip_key(self, ip: str) -> str:
        return f"brute-force:{self.realm_id}:ip:{ip}"
