"""Time-based one-time passwords (RFC 6238) checked as Keycloak checks them: digits, period,
algorithm per device, and a look-around window of one step either side; new keys and the
`otpauth://` URI authenticator apps read from a QR code.

The caller supplies the HMAC key (see `idp.db.users.otp_key`); `mark_used` records a used
time step in the ephemeral store, so a code accepted once cannot be replayed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
import unicodedata
from urllib.parse import quote, urlencode

from idp.ephemeral import EphemeralStore

ALGORITHMS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256, "HmacSHA512": hashlib.sha512}


def code_at(key: bytes, step: int, *, digits: int = 6, algorithm: str = "HmacSHA1") -> str:
    """The code for one time step (RFC 4226 §5.3 dynamic truncation)."""
    digest = hmac.new(key, struct.pack(">Q", step), ALGORITHMS[algorithm]).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def matching_step(key: bytes, code: str, *, digits: int = 6, period: int = 30, algorithm: str = "HmacSHA1",
                  window: int = 1, now: float | None = None) -> int | None:
    """The time step `code` belongs to, within ±`window` steps of now; None when it matches none."""
    code = typed_digits(code)
    if len(code) != digits or not code.isdigit() or algorithm not in ALGORITHMS:
        return None
    current = int((time.time() if now is None else now) // period)
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(code_at(key, step, digits=digits, algorithm=algorithm), code):
            return step
    return None


def typed_digits(code: str) -> str:
    """The code as typed, with full-width digits (a Japanese keyboard) read as 0-9; anything else
    but ASCII digits is left for the caller to refuse (compare_digest raises on non-ASCII text)."""
    code = unicodedata.normalize("NFKC", code).strip()
    return code if code.isascii() else ""


def device_parameters(credential_data: dict) -> dict:
    """A device's digits, period and algorithm, defaulting as Keycloak's OTP policy does."""
    return {
        "digits": int(credential_data.get("digits", 6)),
        "period": int(credential_data.get("period", 30)),
        "algorithm": credential_data.get("algorithm", "HmacSHA1"),
    }


def matching_counter(key: bytes, code: str, *, counter: int, digits: int = 6, algorithm: str = "HmacSHA1",
                     look_ahead: int = 1) -> int | None:
    """For counter-based devices (HOTP, RFC 4226): the counter `code` was made with, or None."""
    code = typed_digits(code)
    if len(code) != digits or not code.isdigit() or algorithm not in ALGORITHMS:
        return None
    for candidate in range(counter, counter + look_ahead + 1):
        if hmac.compare_digest(code_at(key, candidate, digits=digits, algorithm=algorithm), code):
            return candidate
    return None


def new_secret() -> str:
    """A new 160-bit key as 32 base32 characters (RFC 4226 recommends 160 bits)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


def grouped(secret: str) -> str:
    """The key in groups of four, as members copy or type it into their app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def key_uri(secret: str, *, issuer: str, account: str, digits: int = 6, period: int = 30,
            algorithm: str = "HmacSHA1") -> str:
    """The `otpauth://totp/ISSUER:ACCOUNT?...` URI of Google's Key URI format, the QR code's text.

    Label parts and the issuer are percent-encoded (UTF-8), so a society's Japanese display name
    or a user ID with `@` survives; `algorithm` is written only when it is not the default SHA1,
    which some apps do not understand."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    params = {"secret": secret, "issuer": issuer, "digits": digits, "period": period}
    if algorithm != "HmacSHA1":
        params["algorithm"] = algorithm.removeprefix("Hmac")
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


def mark_used(store: EphemeralStore, device_id: str, step: int, period: int, window: int = 1) -> bool:
    """Record that `device_id`'s code for `step` was accepted; False when it already was.

    The record outlives the time the code is valid (the step plus the window either side)."""
    return store.add(f"otp-used:{device_id}:{step}", {}, period * (2 * window + 2))
