"""One-time passwords of authenticator apps (RFC 6238 TOTP, RFC 4226 HOTP) checked as Keycloak
checks them: digits, period, algorithm per device, and a look-around window of steps either side;
new keys and the `otpauth://` URI authenticator apps read from a QR code.

The codes are pyotp's. Its TOTP class refuses periods over 120 seconds and keys under 112 bits,
both of which Keycloak accepts and a migrated member's app may hold, so the time step is counted
here and its code is pyotp's HOTP of that step, which is how RFC 6238 §4 defines TOTP.

The caller supplies the HMAC key (see `idp.db.users.otp_key`); `mark_used` records a used
time step in the ephemeral store, so a code accepted once cannot be replayed.
"""
from __future__ import annotations

import base64
import hashlib
import time
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, urlencode

import pyotp

from idp.ephemeral import EphemeralStore, keys

ALGORITHMS = {"HmacSHA1": hashlib.sha1, "HmacSHA256": hashlib.sha256, "HmacSHA512": hashlib.sha512}


class AnyLengthKey(pyotp.HOTP):
    """pyotp's HOTP without its 112-bit minimum key: Keycloak takes a key of any length."""

    min_secret_length_bits = 0


def hotp(key: bytes, *, digits: int = 6, algorithm: str = "HmacSHA1") -> pyotp.HOTP:
    """The codes of one key. pyotp reads keys as base32 text; encoding the bytes so loses nothing,
    whether they came base32-decoded or as a Keycloak plaintext's UTF-8 (`otp_key` decides)."""
    return AnyLengthKey(base64.b32encode(key).decode("ascii"), digits=digits, digest=ALGORITHMS[algorithm])


def code_at(key: bytes, step: int, *, digits: int = 6, algorithm: str = "HmacSHA1") -> str:
    """The code for one time step or counter (RFC 4226 §5.3 dynamic truncation)."""
    return hotp(key, digits=digits, algorithm=algorithm).at(step)


def matching_step(key: bytes, code: str, *, digits: int = 6, period: int = 30, algorithm: str = "HmacSHA1",
                  window: int = 1, now: float | None = None) -> int | None:
    """The time step `code` belongs to, within ±`window` steps of now; None when it matches none."""
    code = typed_digits(code)
    if not well_formed(code, digits, algorithm):
        return None
    current = int((time.time() if now is None else now) // period)
    return first_match(hotp(key, digits=digits, algorithm=algorithm), code,
                       range(current - window, current + window + 1))


def typed_digits(code: str) -> str:
    """The code as typed, with full-width digits (a Japanese keyboard) read as 0-9; anything else
    but ASCII digits is left for the caller to refuse."""
    code = unicodedata.normalize("NFKC", code).strip()
    return code if code.isascii() else ""


def well_formed(code: str, digits: int, algorithm: str) -> bool:
    return len(code) == digits and code.isdigit() and algorithm in ALGORITHMS


def first_match(codes: pyotp.HOTP, code: str, counters: Iterable[int]) -> int | None:
    """The first counter whose code is `code` (pyotp compares in constant time), or None."""
    return next((counter for counter in counters if codes.verify(code, counter)), None)


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
    if not well_formed(code, digits, algorithm):
        return None
    return first_match(hotp(key, digits=digits, algorithm=algorithm), code,
                       range(counter, counter + look_ahead + 1))


def new_secret() -> str:
    """A new 160-bit key as 32 base32 characters (RFC 4226 recommends 160 bits)."""
    return pyotp.random_base32()


def grouped(secret: str) -> str:
    """The key in groups of four, as members copy or type it into their app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def key_uri(secret: str, *, issuer: str, account: str, digits: int = 6, period: int = 30,
            algorithm: str = "HmacSHA1") -> str:
    """The `otpauth://totp/ISSUER:ACCOUNT?...` URI of Google's Key URI format, the QR code's text.

    Label parts and the issuer are percent-encoded (UTF-8), so a society's Japanese display name
    or a user ID with `@` survives; `algorithm` is written only when it is not the default SHA1,
    which some apps do not understand. Not pyotp's `provisioning_uri`: that one leaves digits and
    period out at their defaults and keeps `/` in the label unencoded."""
    label = f"{quote(issuer, safe='')}:{quote(account, safe='')}"
    params = {"secret": secret, "issuer": issuer, "digits": digits, "period": period}
    if algorithm != "HmacSHA1":
        params["algorithm"] = algorithm.removeprefix("Hmac")
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"


def mark_used(store: EphemeralStore, device_id: str, step: int, period: int, window: int = 1) -> bool:
    """Record that `device_id`'s code for `step` was accepted; False when it already was.

    The record outlives the time the code is valid (the step plus the window either side)."""
    return store.add(keys.used_otp_step(device_id, step), {}, period * (2 * window + 2))
