"""Small secrets encrypted at rest (authenticator-app keys): AES-256-GCM under a key derived from
IDP_SECRET_KEY, stored as a versioned text token `v1:<base64url(nonce || ciphertext)>`.

The key is derived from `Settings.secret_key`, so changing IDP_SECRET_KEY makes every stored
OTP secret unreadable: members would have to set up their authenticator app again. Operators
must keep the key (and back it up with the database).

A value without the `v1:` prefix is taken as plaintext written before encryption existed and
is returned unchanged, so older rows keep working. Keycloak never writes a colon into an OTP
secret, so a stored Keycloak secret cannot be mistaken for a token.
"""
from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
NONCE_BYTES = 12
# Naming the purpose keeps this key apart from every other key derived from IDP_SECRET_KEY.
KEY_INFO = b"kosmo-idp otp secrets v1"


class SecretBoxError(ValueError):
    """A token that cannot be opened: damaged, or sealed under another IDP_SECRET_KEY."""


@lru_cache(maxsize=8)
def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(secret_key.encode("utf-8"))
    return AESGCM(key)


def encrypt(plaintext: str, secret_key: str) -> str:
    """`plaintext` sealed under `secret_key` (a fresh random nonce each time)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(secret_key).encrypt(nonce, plaintext.encode("utf-8"), None)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def decrypt(token: str, secret_key: str) -> str:
    """The plaintext of a token from `encrypt`; a value without the prefix is returned as it is."""
    if not is_encrypted(token):
        return token
    body = token[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return _cipher(secret_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error):
        raise SecretBoxError("the secret cannot be decrypted: damaged, or IDP_SECRET_KEY has changed") from None


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)
