"""`authenticate: email-code` — ワンタイムパスワード (OTP) メール認証 (docs/member-screens.md §6): a 6-digit code mailed
to the member's verified address, typed back on the page within its lifespan, once.

The code lives only in the ephemeral store, as an HMAC-SHA256 keyed with a key derived from
IDP_SECRET_KEY: a copy of the store (a Redis dump, a database backup) without the secret reveals
no code and cannot be searched. A slow hash (argon2) would not add to that: the key already makes
guessing offline impossible, and a million possible codes would fall to a slow hash anyway.

Limits come from the realm's `email_code` settings: the lifespan, the wrong tries per code (then
the code is dead and only 再送信 helps), the wait between mails and the mails per clock hour.

Events: SEND_EMAIL_CODE (detail `email`) for each mail sent — Keycloak has no codes by mail, the
name follows its SEND_VERIFY_EMAIL; LOGIN_ERROR with error `invalid_email_code` (wrong code),
`expired_code` (Keycloak's name) or `email_code_attempts_exceeded` (a dead code was tried).
Wrong codes also count in the realm's brute-force detection; while it locks the member, neither
a code nor 再送信 is taken (LOGIN_ERROR `user_temporarily_disabled`).
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from idp.db.models import User
from idp.db.users import email_codes_on
from idp.ephemeral import keys
from idp.flows.api import Authenticator, Done, NoOptions, Page, StepContext
from idp.mail import MailError
from idp.mail.render import realm_mail
from idp.security.brute_force import LOCKED_MESSAGE, StepGuard

TEMPLATE = "email-code.html"
MAIL = "email-code"
DIGITS = 6
HOUR = 3600


def has_verified_address(user: User) -> bool:
    return bool(user.email) and bool(user.email_verified)


class EmailCodeStep(Authenticator[NoOptions]):
    """The code is mailed when the member reaches the step (once per sign-in: a reload shows the
    page again without a new mail); 再送信 mails a new one, which replaces the old."""

    name = "email-code"
    factor = "email"
    setup_action = None  # the verified address is the device: verify-email sets it up

    def is_set_up(self, ctx: StepContext[NoOptions]) -> bool:
        return email_codes_on(ctx.member)

    def challenge(self, ctx: StepContext[NoOptions]) -> Page:
        # Refused rather than skipped: skipping would let the member past a second factor.
        if not has_verified_address(ctx.member):
            return _page(ctx, errors=["email_code.error.no_address"], status=400)
        if StepGuard(ctx, "email-code").holds():
            return _page(ctx, errors=[LOCKED_MESSAGE])  # no mail while its code could not be used
        if "sent_at" not in ctx.data:
            return _send(ctx, notice="email_code.sent")
        return _page(ctx)

    def process(self, ctx: StepContext[NoOptions], form: Mapping[str, str]) -> Page | Done:
        if not has_verified_address(ctx.member):
            return _page(ctx, errors=["email_code.error.no_address"], status=400)
        guard = StepGuard(ctx, "email-code")
        if guard.refuses(credential_type="email-code"):
            return _page(ctx, errors=[LOCKED_MESSAGE], status=401)
        if form.get("action") == "resend":
            return _resend(ctx)
        return _check(ctx, guard, typed_code(form.get("code", "")))


def typed_code(raw: str) -> str:
    """What the member typed, with full-width digits (a Japanese keyboard) and spaces forgiven."""
    return "".join(unicodedata.normalize("NFKC", raw).split()).replace("-", "")


def _check(ctx: StepContext[NoOptions], guard: StepGuard, code: str) -> Page | Done:
    if not code:
        return _page(ctx, field_errors=["email_code.error.missing"], status=400)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return _page(ctx, field_errors=["email_code.error.format"], status=400)
    verdict = MailedCode(ctx).check(code)
    if verdict.outcome == "accepted":
        return Done(factor="email")
    ctx.record_event("LOGIN_ERROR", error=verdict.error)
    if verdict.error == "invalid_email_code":
        guard.failed(credential_type="email-code")  # a guess at a live code; expired or dead ones were not compared
    if verdict.outcome == "wrong":
        tries = {"key": "email_code.error.wrong", "params": {"tries_left": verdict.tries_left}}
        return _page(ctx, field_errors=[tries], status=401)
    if verdict.outcome == "dead":
        limit = {"key": "email_code.error.too_many_tries", "params": {"tries": ctx.config.email_code.max_attempts}}
        return _page(ctx, errors=[limit], status=401)
    # Without a mail in this sign-in nothing expired: the first mail failed or hit the hourly cap.
    reason = "email_code.error.expired" if "sent_at" in ctx.data else "email_code.error.not_sent"
    return _page(ctx, errors=[reason], status=400)


def _resend(ctx: StepContext[NoOptions]) -> Page:
    wait = _seconds_until_resend(ctx)
    if wait > 0:
        return _page(ctx, errors=[{"key": "email_code.error.cooldown", "params": {"seconds": wait}}], status=429)
    return _send(ctx, notice="email_code.resent")


def _seconds_until_resend(ctx: StepContext[NoOptions]) -> int:
    sent_at = ctx.data.get("sent_at")
    if sent_at is None:
        return 0
    elapsed = ctx.now.timestamp() - sent_at
    return max(0, math.ceil(ctx.config.email_code.resend_cooldown_seconds - elapsed))


def _send(ctx: StepContext[NoOptions], notice: str) -> Page:
    """Mail a new code, within the hourly cap; a mail that could not be delivered does not count."""
    address = ctx.member.email
    if address is None:  # removed by an administrator since the step began
        return _page(ctx, errors=["mail.delivery_failed"], status=503)
    slot = _take_send_slot(ctx)
    if slot is None:
        minutes = math.ceil((HOUR - ctx.now.timestamp() % HOUR) / 60)
        return _page(ctx, errors=[{"key": "email_code.error.hourly_cap", "params": {"minutes": minutes}}], status=429)
    code = new_code()
    minutes = math.ceil(ctx.config.email_code.lifespan_seconds / 60)
    subject, text, html = realm_mail(ctx.settings, ctx.config, MAIL, "email_code.mail.subject",
                                     code=code, minutes=minutes)
    try:
        ctx.send_mail(to=address, subject=subject, text=text, html=html)
    except MailError:
        ctx.store.delete(slot)
        return _page(ctx, errors=["mail.delivery_failed"], status=503)
    MailedCode(ctx).keep(code)
    ctx.data["sent_at"] = ctx.now.timestamp()
    ctx.record_event("SEND_EMAIL_CODE", email=address)
    return _page(ctx, notice=notice)


def _take_send_slot(ctx: StepContext[NoOptions]) -> str | None:
    """One of the member's `max_sends_per_hour` mails in this clock hour, or None when all are used.

    Slots taken with `add` rather than a counter: a counter cannot be taken back when the mail
    then fails, and a failed mail must not count."""
    hour = int(ctx.now.timestamp() // HOUR)
    for number in range(ctx.config.email_code.max_sends_per_hour):
        slot = keys.mailed_code_send_slot(ctx.realm.id, ctx.member.id, hour, number)
        if ctx.store.add(slot, {}, HOUR):
            return slot
    return None


def new_code() -> str:
    """Six digits, each of the million codes equally likely."""
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "accepted" | "wrong" | "dead" | "expired"
    error: str | None = None  # the LOGIN_ERROR event's error
    tries_left: int = 0


class MailedCode:
    """The member's current code in the ephemeral store: its keyed hash, a nonce, its expiry.

    One per member and realm, whichever sign-in mailed it last. Wrong tries are counted per
    code with the store's atomic counter, so parallel guesses cannot slip past the limit."""

    def __init__(self, ctx: StepContext[NoOptions]):
        self.ctx = ctx
        self.settings = ctx.config.email_code
        self.key = keys.mailed_code(ctx.realm.id, ctx.member.id)

    def keep(self, code: str) -> None:
        nonce = secrets.token_hex(16)
        record = {"nonce": nonce, "digest": self._digest(nonce, code),
                  "expires_at": self.ctx.now.timestamp() + self.settings.lifespan_seconds}
        self.ctx.store.put(self.key, record, self.settings.lifespan_seconds)

    def check(self, code: str) -> Verdict:
        record = self.ctx.store.get(self.key)
        if record is None or self.ctx.now.timestamp() >= record["expires_at"]:
            return Verdict("expired", "expired_code")
        tries = self.ctx.store.incr(keys.mailed_code_tries(self.ctx.realm.id, self.ctx.member.id, record["nonce"]),
                                   self.settings.lifespan_seconds)
        if tries > self.settings.max_attempts:
            return Verdict("dead", "email_code_attempts_exceeded")
        if hmac.compare_digest(record["digest"], self._digest(record["nonce"], code)):
            used = self.ctx.store.take(self.key)  # single use, even against a parallel request
            if used is not None and used["nonce"] == record["nonce"]:
                return Verdict("accepted")
            return Verdict("expired", "expired_code")
        if tries == self.settings.max_attempts:
            return Verdict("dead", "invalid_email_code")
        return Verdict("wrong", "invalid_email_code", self.settings.max_attempts - tries)

    def _digest(self, nonce: str, code: str) -> str:
        message = f"{self.ctx.realm.id}:{self.ctx.member.id}:{nonce}:{code}".encode()
        return hmac.new(_code_key(self.ctx.settings.secret_key), message, hashlib.sha256).hexdigest()


def _code_key(secret_key: str) -> bytes:
    """A key for email codes only, derived from IDP_SECRET_KEY (never the secret itself)."""
    return hmac.new(secret_key.encode(), b"kosmo-idp email-code v1", hashlib.sha256).digest()


def masked(address: str) -> str:
    """t***@example.jp: enough for the member to recognise, little for someone who has only the password."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _page(ctx: StepContext[NoOptions], *, notice: str | None = None, errors: list | None = None,
          field_errors: list | None = None, status: int = 200) -> Page:
    found = {key: value for key, value in (("", errors), ("code", field_errors)) if value}
    return Page(TEMPLATE, values={"address": masked(ctx.member.email or ""), "notice": notice},
                errors=found, status=status)
