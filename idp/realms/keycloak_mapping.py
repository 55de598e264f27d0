"""Which Keycloak user attributes say how far a member got through the first sign-in (docs/member-screens.md §2), and
turning them into our columns, so that members who finished setup in Keycloak are not asked again.

The default suits a society that ran Keycloak with the KOSMO extension and Keycloak's built-in
TERMS_AND_CONDITIONS; `idp realm import --mapping FILE` (YAML, these keys) changes it. A state
attribute holds "true" (done, dated at the import), "false" or nothing (not done), a time in
seconds or milliseconds since 1970, or an ISO 8601 date or time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import Field

from idp.realms.keycloak_models import KeycloakImportError
from idp.realms.schema import Strict

# Our factor names (User.second_factor), and what a KOSMO Keycloak extension may have written.
SECOND_FACTORS = {
    "passkey": "passkey", "webauthn": "passkey", "webauthn-passwordless": "passkey",
    "totp": "totp", "otp": "totp", "otp-app": "totp",
    "email": "email", "email-otp": "email", "email-code": "email",
}
# Above this a number is a time in milliseconds (Keycloak's createdTimestamp), below it seconds
# (Keycloak's terms_and_conditions attribute): 10^11 seconds is the year 5138.
MILLISECONDS_FROM = 10**11


class AttributeMapping(Strict):
    """Keycloak user attribute names; null leaves that state to the member's next sign-in."""

    birthdate: str | None = Field(default="birthdate", description="date of birth, YYYY-MM-DD → User.birthdate")
    birthdate_verified: str | None = Field(default="kosmo_birthdate_verified",
                                           description="state → birthdate_verified_at (生年月日の確認)")
    user_id_chosen: str | None = Field(default="user_id_set",
                                       description="state → user_id_chosen_at (ユーザーIDの変更)")
    second_factor: str | None = Field(
        default="second_factor", description="passkey | totp | email (or webauthn, otp, email-otp) → second_factor")
    terms_version: str | None = Field(default="terms_accepted_version",
                                      description="the version of the terms the member accepted → TermsAcceptance")
    keycloak_terms: str | None = Field(default="terms_and_conditions",
                                       description="Keycloak's TERMS_AND_CONDITIONS: when the member accepted")
    keycloak_terms_version: str | None = Field(
        default=None, max_length=100,
        description="the version of our terms an acceptance in Keycloak counts as (`--terms-version`)")
    first_login_completed: str | None = Field(
        default="kosmo_first_login_completed",
        description="state → first_login_completed_at; without it, set when every other step is done")


@dataclass
class FirstSignIn:
    """A member's first-sign-in progress as our columns, and their terms acceptances."""

    fields: dict = field(default_factory=dict)
    terms: list[tuple[str, datetime]] = field(default_factory=list)
    unversioned_terms: bool = False  # accepted Keycloak's terms, but no version to count it as


def first_sign_in(attributes: dict[str, list[str]], factors: set[str], mapping: AttributeMapping,
                  where: str, now: datetime) -> FirstSignIn:
    """Read (and remove from `attributes`) the mapped attributes; `factors` are the member's
    credential types ("otp", "webauthn"), which stand for a chosen factor when none is named."""
    def take(name: str | None) -> str | None:
        values = attributes.pop(name, None) if name else None
        return values[0].strip() if values and values[0] is not None else None

    def state(name: str | None) -> datetime | None:
        return _state(take(name), where, name, now)

    progress = FirstSignIn()
    fields = progress.fields
    fields["birthdate"] = _birthdate(take(mapping.birthdate), where, mapping.birthdate)
    verified = state(mapping.birthdate_verified)
    fields["birthdate_verified_at"] = verified if fields["birthdate"] else None
    fields["user_id_chosen_at"] = state(mapping.user_id_chosen)
    fields["second_factor"] = _second_factor(take(mapping.second_factor), factors, where, mapping.second_factor)
    _terms(progress, attributes, mapping, where, now)
    completed = state(mapping.first_login_completed)
    fields["first_login_completed_at"] = completed or _all_steps_done(fields)
    return progress


def _terms(progress: FirstSignIn, attributes: dict, mapping: AttributeMapping, where: str, now: datetime) -> None:
    version_values = attributes.pop(mapping.terms_version, None) if mapping.terms_version else None
    version = (version_values or [""])[0].strip()
    accepted_values = attributes.get(mapping.keycloak_terms) if mapping.keycloak_terms else None
    accepted_at = _state((accepted_values or [""])[0], where, mapping.keycloak_terms, now) if accepted_values else None
    if version:
        if len(version) > 100:
            raise KeycloakImportError(f"{where}: attribute {mapping.terms_version} is longer than 100 characters")
        progress.terms.append((version, accepted_at or now))
    elif accepted_at and mapping.keycloak_terms_version:
        progress.terms.append((mapping.keycloak_terms_version, accepted_at))
    elif accepted_at:
        progress.unversioned_terms = True
        return  # kept as an attribute: nothing else records it
    if accepted_values is not None:
        attributes.pop(mapping.keycloak_terms)


def _all_steps_done(fields: dict) -> datetime | None:
    """Every first-sign-in step done: the latest of their times (a member with no birthdate on
    file has nothing to confirm)."""
    steps = [fields["user_id_chosen_at"]] + ([fields["birthdate_verified_at"]] if fields["birthdate"] else [])
    if fields["second_factor"] is None or None in steps:
        return None
    return max(steps)


def _state(value: str | None, where: str, name: str | None, now: datetime) -> datetime | None:
    if value is None or value.lower() in ("", "false", "no", "0"):
        return None
    if value.lower() in ("true", "yes"):
        return now
    try:
        if re.fullmatch(r"\d{1,15}", value):
            number = int(value)
            return datetime.fromtimestamp(number / 1000 if number >= MILLISECONDS_FROM else number, tz=UTC)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):  # not a time, or one past the year 9999
        raise KeycloakImportError(
            f"{where}: attribute {name} {value!r} is neither true/false, a time in seconds or milliseconds, "
            "nor an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _birthdate(value: str | None, where: str, name: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KeycloakImportError(f"{where}: attribute {name} {value!r} is not a date (YYYY-MM-DD)") from None


def _second_factor(value: str | None, factors: set[str], where: str, name: str | None) -> str | None:
    if value:
        if value.lower() not in SECOND_FACTORS:
            raise KeycloakImportError(
                f"{where}: attribute {name} {value!r} is not a second factor ({', '.join(sorted(SECOND_FACTORS))})")
        return SECOND_FACTORS[value.lower()]
    # Nothing named: the factor the member holds stands for their choice, a passkey first.
    if "webauthn" in factors:
        return "passkey"
    return "totp" if "otp" in factors else None
