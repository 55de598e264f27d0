"""Password hashes stored in Keycloak's credential shape: new argon2id hashes, and verification
of the argon2 and PBKDF2 hashes that Keycloak realm exports carry.

A credential is two JSON objects, as Keycloak stores them: `secret_data`
{"value": base64 hash, "salt": base64 salt, "additionalParameters": {}} and `credential_data`
{"hashIterations": n, "algorithm": "argon2" | "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512",
"additionalParameters": {...}}. Keycloak exports hold each object as a JSON *string*; every
function here takes either the dict or that string (see `parse_keycloak_json`), so imported
credentials can be passed through untouched.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from idp.config import Settings

log = logging.getLogger(__name__)

ARGON2 = "argon2"
# Keycloak's PBKDF2 algorithm names and the HMAC digest each one uses.
PBKDF2_DIGESTS = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}
ALGORITHMS = (ARGON2, *PBKDF2_DIGESTS)

# Keycloak's Argon2Parameters defaults, used when an argon2 credential leaves a parameter out.
ARGON2_DEFAULTS = {"type": "id", "version": "1.3", "hashLength": "32", "memory": "7168", "parallelism": "1"}
ARGON2_DEFAULT_ITERATIONS = 5
ARGON2_TYPES = {"id": Type.ID, "i": Type.I, "d": Type.D}
ARGON2_VERSIONS = {"1.3": 0x13, "1.0": 0x10}
HASH_LENGTH = 32
SALT_LENGTH = 16  # Keycloak's Salt.generateSalt() length

# A salt fixed at import time: dummy_verify must cost a real hash, not look anything up.
_DUMMY_SALT = secrets.token_bytes(SALT_LENGTH)
_warned_algorithms: set[str] = set()


class MalformedCredential(ValueError):
    """A stored credential lacks a field or has one Keycloak could not have written."""


# What reading a damaged credential can raise; callers get False (or "rehash"), never these.
_UNREADABLE = (
    MalformedCredential, HashingError, ValueError, TypeError, KeyError, AttributeError, binascii.Error,
)


def parse_keycloak_json(value: Mapping | str | bytes | None) -> dict:
    """The credential object whether given as a dict or as the JSON string Keycloak exports.

    None and "" mean an empty object; anything that is not a JSON object is malformed.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise MalformedCredential("credential data is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise MalformedCredential("credential data is not a JSON object")
    return dict(value)


def keycloak_json(value: Mapping) -> str:
    """`secret_data` or `credential_data` as the compact JSON string a Keycloak export holds."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def hash_password(password: str, settings: Settings) -> tuple[dict, dict]:
    """(secret_data, credential_data) for a new argon2id hash with the configured cost."""
    salt = secrets.token_bytes(SALT_LENGTH)
    digest = _argon2(password, salt, _current_argon2(settings))
    secret_data = {"value": _b64(digest), "salt": _b64(salt), "additionalParameters": {}}
    credential_data = {
        "hashIterations": settings.argon2_time_cost,
        "algorithm": ARGON2,
        "additionalParameters": {
            "hashLength": [str(HASH_LENGTH)],
            "memory": [str(settings.argon2_memory_kib)],
            "type": ["id"],
            "version": ["1.3"],
            "parallelism": [str(settings.argon2_parallelism)],
        },
    }
    return secret_data, credential_data


def verify_password(password: str, secret_data: Mapping | str, credential_data: Mapping | str) -> bool:
    """Whether `password` matches the stored credential; False for anything unverifiable.

    Computes exactly what Keycloak computes, so hashes imported from Keycloak keep working.
    Never raises: an unknown algorithm or a damaged credential is logged and refused.
    """
    try:
        secret = parse_keycloak_json(secret_data)
        data = parse_keycloak_json(credential_data)
        algorithm = data.get("algorithm")
        if algorithm == ARGON2:
            return _verify_argon2(password, secret, data)
        if algorithm in PBKDF2_DIGESTS:
            return _verify_pbkdf2(password, secret, data, PBKDF2_DIGESTS[algorithm])
        _warn_unknown_algorithm(str(algorithm))
        return False
    except _UNREADABLE as problem:
        log.warning("refusing a password credential that cannot be read: %s", problem)
        return False


def needs_rehash(credential_data: Mapping | str, settings: Settings) -> bool:
    """True unless the credential is argon2id 1.3 with exactly the configured parameters.

    Imported PBKDF2 hashes and argon2 hashes made with older settings are therefore replaced
    by a fresh hash the next time the member signs in with the right password.
    """
    try:
        data = parse_keycloak_json(credential_data)
        if data.get("algorithm") != ARGON2:
            return True
        return _stored_argon2(data) != _current_argon2(settings)
    except _UNREADABLE:
        return True


def dummy_verify(password: str, settings: Settings) -> None:
    """Spend the time of a real verification, so an unknown user ID answers as slowly as a
    wrong password and cannot be told apart by timing."""
    _argon2(password, _DUMMY_SALT, _current_argon2(settings))


def _current_argon2(settings: Settings) -> dict:
    return {
        "type": "id",
        "version": "1.3",
        "hash_length": HASH_LENGTH,
        "memory": settings.argon2_memory_kib,
        "parallelism": settings.argon2_parallelism,
        "iterations": settings.argon2_time_cost,
    }


def _stored_argon2(data: Mapping) -> dict:
    extra = data.get("additionalParameters") or {}

    def first(name: str) -> str:
        values = extra.get(name) or [ARGON2_DEFAULTS[name]]
        return str(values[0] if isinstance(values, list) else values)

    return {
        "type": first("type"),
        "version": first("version"),
        "hash_length": int(first("hashLength")),
        "memory": int(first("memory")),
        "parallelism": int(first("parallelism")),
        "iterations": int(data.get("hashIterations") or ARGON2_DEFAULT_ITERATIONS),
    }


def _argon2(password: str, salt: bytes, parameters: Mapping) -> bytes:
    if parameters["type"] not in ARGON2_TYPES or parameters["version"] not in ARGON2_VERSIONS:
        raise MalformedCredential(f"argon2 type {parameters['type']!r} version {parameters['version']!r}")
    return hash_secret_raw(
        secret=password.encode("utf-8"),
        salt=salt,
        time_cost=parameters["iterations"],
        memory_cost=parameters["memory"],
        parallelism=parameters["parallelism"],
        hash_len=parameters["hash_length"],
        type=ARGON2_TYPES[parameters["type"]],
        version=ARGON2_VERSIONS[parameters["version"]],
    )


def _verify_argon2(password: str, secret: Mapping, data: Mapping) -> bool:
    expected = _unb64(secret["value"])
    actual = _argon2(password, _unb64(secret["salt"]), _stored_argon2(data))
    return hmac.compare_digest(actual, expected)


def _verify_pbkdf2(password: str, secret: Mapping, data: Mapping, digest: str) -> bool:
    # Keycloak derives as many bytes as the stored hash has (its keySize()), so exports made
    # with 256-bit and with the default 512-bit derived keys both verify.
    expected = _unb64(secret["value"])
    if not expected:
        raise MalformedCredential("empty pbkdf2 hash")
    iterations = int(data["hashIterations"])
    salt = _unb64(secret["salt"])
    actual = hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations, len(expected))
    return hmac.compare_digest(actual, expected)


def _warn_unknown_algorithm(algorithm: str) -> None:
    if algorithm not in _warned_algorithms:
        _warned_algorithms.add(algorithm)
        log.warning(
            "password hash algorithm %r is not supported (only %s); those members cannot sign "
            "in with a password until it is reset",
            algorithm,
            ", ".join(ALGORITHMS),
        )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedCredential("hash or salt is not a base64 string")
    return base64.b64decode(text, validate=True)
