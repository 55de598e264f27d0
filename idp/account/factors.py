"""A member's second factors as the account pages show them: list, rename, remove, prefer.

Passkeys ("webauthn") and authenticator apps ("otp") are credentials. Codes by email have no
credential: they are a factor while the member's address is verified and either they chose
email as their factor at first sign-in (`User.second_factor == "email"`) or switched email
codes on here (`User.attributes["email_code_enabled"] is True`). Switching them off removes
that attribute and, if email was the preferred factor, moves the preference to another one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idp.db.models import Credential, User
from idp.db.users import EMAIL_CODES, email_codes_on

EMAIL_FACTOR_ID = "email"
# User.second_factor's value for each credential type, in the guide's order.
KIND_OF_TYPE = {"webauthn": "passkey", "otp": "totp"}
KINDS = ("passkey", "totp", "email")
LABEL_MAX = 255


class RenameRefused(ValueError):
    """The new name breaks a rule; `key` is the message to show."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class LastFactor(Exception):
    """The realm requires a second factor and this is the member's only one."""


@dataclass(frozen=True)
class Factor:
    """One way the member confirms a sign-in; `credential` is None for codes by email."""

    id: str
    kind: str  # passkey | totp | email
    label: str
    created_at: datetime | None
    last_used_at: datetime | None
    credential: Credential | None = None

    @property
    def renamable(self) -> bool:
        return self.credential is not None


def factors(user: User) -> list[Factor]:
    """Every factor the member can sign in with now: passkeys, then apps, then email codes."""
    found = [
        Factor(c.id, KIND_OF_TYPE[c.type], c.user_label, c.created_at, c.last_used_at, c)
        for c in user.credentials if c.type in KIND_OF_TYPE
    ]
    found.sort(key=lambda factor: (KINDS.index(factor.kind), factor.created_at))
    if email_codes_on(user):
        found.append(Factor(EMAIL_FACTOR_ID, "email", user.email or "", None, None))
    return found


def find_factor(user: User, factor_id: str) -> Factor | None:
    return next((factor for factor in factors(user) if factor.id == factor_id), None)


def kinds_set_up(user: User) -> list[str]:
    """The kinds the member has, in the guide's order (what they may prefer)."""
    present = {factor.kind for factor in factors(user)}
    return [kind for kind in KINDS if kind in present]


def clean_label(typed: str) -> str:
    """The label as stored (spaces around it dropped), or RenameRefused."""
    label = typed.strip()
    if not label:
        raise RenameRefused("account.rename.error.empty")
    if len(label) > LABEL_MAX:
        raise RenameRefused("account.rename.error.too_long")
    return label


def rename(user: User, factor: Factor, typed: str) -> str:
    """Give a passkey or app its new name; returns the name stored. At sign-in the member picks
    an app by its name, so two of the same kind may not share one (as at setup)."""
    label = clean_label(typed)
    mine = factor.credential
    assert mine is not None  # codes by email have no name to change; only passkeys and apps are renamed
    if any(c is not mine and c.type == mine.type and c.user_label == label for c in user.credentials):
        raise RenameRefused("account.rename.error.taken")
    mine.user_label = label
    return label


def may_remove(user: User, required: bool) -> bool:
    """A required second factor is never taken away: the last one stays."""
    return not required or len(factors(user)) > 1


def remove(user: User, factor: Factor, required: bool) -> None:
    """Remove the factor (LastFactor if it is the last one the realm requires); the preferred
    factor moves to the first remaining kind when it was this one's and no other of its kind is left."""
    if not may_remove(user, required):
        raise LastFactor()
    if factor.credential is not None:
        user.credentials.remove(factor.credential)
    else:
        user.attributes = {key: value for key, value in (user.attributes or {}).items() if key != EMAIL_CODES}
        if user.second_factor == "email":
            user.second_factor = None
    remaining = kinds_set_up(user)
    if user.second_factor not in remaining:
        user.second_factor = remaining[0] if remaining else None


def switch_email_codes_on(user: User) -> bool:
    """Codes by email become a factor; False when the address is not verified yet."""
    if not (user.email and user.email_verified):
        return False
    user.attributes = {**(user.attributes or {}), EMAIL_CODES: True}
    if user.second_factor is None or user.second_factor not in kinds_set_up(user):
        user.second_factor = "email"
    return True


def prefer(user: User, kind: str) -> bool:
    """Ask for `kind` first at sign-in; False when the member has no factor of that kind."""
    if kind not in kinds_set_up(user):
        return False
    user.second_factor = kind
    return True
