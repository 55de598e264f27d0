"""Reading single values of a Keycloak export (JSON types, JSON inside JSON, base64, times), and the one error
an import raises: `KeycloakImportError`, whose message names the file and the entry at fault."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone


class KeycloakImportError(ValueError):
    """The export cannot be imported; the message names the entry at fault."""


def json_field(entry: dict, name: str, where: str) -> dict:
    """`secretData` or `credentialData`: Keycloak exports these as JSON text inside the document."""
    value = entry.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise KeycloakImportError(f"{where}: {name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise KeycloakImportError(f"{where}: {name} is missing")
    return value


def from_millis(millis, where: str, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise KeycloakImportError(f"{where}: {name} {millis!r} is not a time in milliseconds") from None


def check_base64(value, where: str, name: str) -> bytes:
    """Standard base64, as Keycloak writes hashes and salts."""
    try:
        if not isinstance(value, str) or not value:
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise KeycloakImportError(f"{where}: {name} is not base64") from None


def check_base32(value: str, where: str) -> None:
    try:
        base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    except (ValueError, binascii.Error):
        raise KeycloakImportError(f"{where}: OTP secret is marked BASE32 but is not base32") from None


def positive(value, where: str, name: str, minimum: int = 1) -> int:
    try:
        if isinstance(value, bool) or int(value) < minimum:
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise KeycloakImportError(f"{where}: {name} must be {kind} whole number, not {value!r}") from None


def shaped(value, kind: type, where: str):
    """`value`, or an empty one when absent; refused by name when it is not of the JSON type Keycloak writes."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise KeycloakImportError(f"{where} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
