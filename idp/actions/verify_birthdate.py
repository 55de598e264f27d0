"""Step 4 of the first sign-in (生年月日の入力): the member confirms their date of birth; too many
wrong dates in a row lock the step for a while.

Two rules apply: the step's own (`max_attempts` wrong dates lock it for `lock_minutes`, the page
says until when), and the realm's brute-force detection, where a wrong date counts like a wrong
password; while that locks the member the page says so in the words every factor uses, and no
date is checked.

Events: VERIFY_BIRTHDATE on success, VERIFY_BIRTHDATE_ERROR (error "birthdate_mismatch") for
each wrong date or "user_temporarily_disabled" / "user_disabled" during the realm's lock, and
USER_LOCKED once when a lock starts (reason "verify-birthdate" for the step's own). Keycloak
has no date-of-birth check, so the first two are our own names in its <ACTION>/_ERROR style.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from idp.actions.birthdate_input import PARTS, InvalidBirthdate, half_width, read_birthdate
from idp.ephemeral import keys
from idp.flows.api import Action, Done, Page, StepContext
from idp.i18n import JAPAN_TIME, japan_time_parts, messages_for
from idp.security.brute_force import LOCKED_MESSAGE, StepGuard

log = logging.getLogger(__name__)

TEMPLATE = "actions/verify-birthdate.html"


class BirthdateOptions(BaseModel):
    """`with:` options: how many wrong dates are allowed, how long the step then locks, and
    whether to ask members who passed it before (`every_time`, e.g. in the recovery flow)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(5, ge=1, le=100)
    lock_minutes: int = Field(30, ge=1, le=24 * 60)
    every_time: bool = False


class VerifyBirthdate(Action[BirthdateOptions]):
    name = "verify-birthdate"
    Options = BirthdateOptions

    def needed(self, ctx: StepContext[BirthdateOptions]) -> bool:
        if ctx.member.birthdate is None:
            log.warning("verify-birthdate skipped: no date of birth on file for user %s in realm %s",
                        ctx.member.id, ctx.realm.name)
            return False
        return ctx.options.every_time or ctx.member.birthdate_verified_at is None

    def challenge(self, ctx: StepContext[BirthdateOptions]) -> Page:
        return _page(ctx, {})

    def process(self, ctx: StepContext[BirthdateOptions], form: Mapping[str, str]) -> Page | Done:
        entered = {part: half_width(form.get(part, "")) for part in PARTS}
        lock, guard = Lock(ctx), _realm_guard(ctx)
        if lock.until() or guard.refuses():
            return _page(ctx, entered)
        try:
            birthdate = read_birthdate(entered, today=ctx.now.astimezone(JAPAN_TIME).date())
        except InvalidBirthdate as problem:
            return _page(ctx, entered, errors={"birthdate": [problem.key]})
        if birthdate != ctx.member.birthdate:
            guard.failed()
            return _wrong_date(ctx, lock, entered)
        lock.forget_attempts()
        ctx.member.birthdate_verified_at = ctx.now
        ctx.record_event("VERIFY_BIRTHDATE")
        return Done()


def _wrong_date(ctx: StepContext[BirthdateOptions], lock: Lock, entered: dict) -> Page:
    attempts = lock.count_wrong_attempt()
    ctx.record_event("VERIFY_BIRTHDATE_ERROR", error="birthdate_mismatch", attempt=attempts)
    if attempts >= ctx.options.max_attempts:
        until = lock.start()
        if until is not None:
            ctx.record_event("USER_LOCKED", reason="verify-birthdate", until=until.isoformat())
        return _page(ctx, entered)
    values = {**entered, "attempts_left": ctx.options.max_attempts - attempts}
    return _page(ctx, values, errors={"birthdate": ["verify_birthdate.mismatch"]})


def _realm_guard(ctx: StepContext[BirthdateOptions]) -> StepGuard:
    return StepGuard(ctx, "birthdate", error_event="VERIFY_BIRTHDATE_ERROR")


def _page(ctx: StepContext[BirthdateOptions], values: dict, errors: dict | None = None) -> Page:
    """The form; while the step is locked, the lock notice with the time to come back; while the
    realm's detection locks the member, the form under the lockout message of every factor."""
    until = Lock(ctx).until()
    values = {**values, "locked": until is not None, "lock_minutes": ctx.options.lock_minutes}
    if until is not None:
        texts = messages_for(ctx.settings.themes_dir, ctx.config.theme)
        values["retry_at"] = texts["time.month_day_time"].format(**japan_time_parts(until))
        errors = {"": ["verify_birthdate.locked"]}
    elif _realm_guard(ctx).holds():
        errors = {"": [LOCKED_MESSAGE]}
    return Page(TEMPLATE, values=values, errors=errors or {})


class Lock:
    """Wrong tries of one member in one realm, counted in the ephemeral store, and the lock they
    lead to. The lock's end is compared with `ctx.now`, so tests can move time past it."""

    def __init__(self, ctx: StepContext[BirthdateOptions]):
        self.ctx = ctx
        self.attempts_key = keys.birthdate_attempts(ctx.realm.id, ctx.member.id)
        self.lock_key = keys.birthdate_lock(ctx.realm.id, ctx.member.id)
        self.seconds = ctx.options.lock_minutes * 60

    def until(self) -> datetime | None:
        """When the lock ends, or None when the step is open."""
        lock = self.ctx.store.get(self.lock_key)
        if lock is None:
            return None
        until = datetime.fromisoformat(lock["until"])
        if until <= self.ctx.now:
            self.ctx.store.delete(self.lock_key)
            return None
        return until

    def count_wrong_attempt(self) -> int:
        return self.ctx.store.incr(self.attempts_key, ttl=self.seconds)

    def start(self) -> datetime | None:
        """Lock the step until the time returned; None when a concurrent request already did (one
        USER_LOCKED event)."""
        until = self.ctx.now + timedelta(seconds=self.seconds)
        started = self.ctx.store.add(self.lock_key, {"until": until.isoformat()}, ttl=self.seconds)
        self.forget_attempts()
        return until if started else None

    def forget_attempts(self) -> None:
        self.ctx.store.delete(self.attempts_key)
