"""Rules both recovery steps keep (パスワード・ユーザIDを忘れた方): hourly mail limits per typed
address and per client IP, and one answer, in content and in time, whatever was found."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

from idp.ephemeral import keys
from idp.flows.api import StepContext

HOUR = 3600


def within_limits(ctx: StepContext, kind: str, typed: str) -> bool:
    """Count this request against the realm's limits for `kind` ("reset-credentials",
    "forgot-user-id"); False when the address or the client IP asked too often this hour.
    Unknown addresses count exactly as known ones, so the limit reveals nothing either."""
    limits = ctx.config.recovery
    # Hashed: the store needs no copy of what members type.
    address = hashlib.sha256(typed.strip().lower().encode()).hexdigest()
    per_address = ctx.store.incr(keys.recovery_mails_to_address(kind, ctx.realm.id, address), ttl=HOUR)
    per_ip = ctx.store.incr(keys.recovery_mails_from_ip(kind, ctx.realm.id, ctx.ip_address), ttl=HOUR)
    return per_address <= limits.max_mails_per_address_per_hour and per_ip <= limits.max_mails_per_ip_per_hour


@contextmanager
def same_answer_time(ctx: StepContext) -> Iterator[None]:
    """Let the work inside take at least the realm's `recovery.answer_seconds`: a found member
    costs a mail delivery (an SMTP round trip) that an unknown address does not."""
    started = time.monotonic()
    yield
    time.sleep(max(0.0, ctx.config.recovery.answer_seconds - (time.monotonic() - started)))
