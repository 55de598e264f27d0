"""The relying-party side of passkeys (WebAuthn, fido2 2.x): ceremony options for the browser,
checking its answers, and the stored form of a passkey — shared by `webauthn-register` and `passkey`.

A passkey is a Credential of type "webauthn" whose credential_data uses Keycloak's
WebAuthnCredentialData names: credentialId (base64url), credentialPublicKey (the COSE key,
base64url), counter (the sign count), aaguid, transports, attestationStatementFormat; and ours:
userVerified, backupEligible. Values imported in standard base64 are read too.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fido2 import cbor
from fido2.cose import CoseKey
from fido2.server import Fido2Server
from fido2.webauthn import (
    Aaguid,
    AttestationConveyancePreference,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorData,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    RegistrationResponse,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.db.models import Credential, User
from idp.flows.api import StepContext

TYPE = "webauthn"
# Where the page's script puts the browser's answer, or the name of the error it got instead.
CREDENTIAL_FIELD = "credential"
ERROR_FIELD = "webauthn_error"
# Cross-device sign-in (a phone scanning the QR code shown on a PC) is always allowed.
CROSS_DEVICE = "hybrid"
KNOWN_TRANSPORTS = {"usb", "nfc", "ble", "smart-card", "hybrid", "internal"}


# What fido2 raises on answers of the wrong shape (e.g. an empty attestationObject: IndexError
# from its CBOR decoder); each is a refused ceremony, never a server error.
MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, binascii.Error)


class CeremonyRefused(Exception):
    """The browser's answer does not prove what it should (wrong challenge, origin, signature...)."""


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """base64url or standard base64, with or without padding (Keycloak exports use both)."""
    text = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object(answer: str) -> dict[str, Any]:
    """The browser's answer as a JSON object; fido2's from_dict turns `null` into None, which
    would only fail later, outside the checks."""
    answered = json.loads(answer)
    if not isinstance(answered, dict):
        raise TypeError("the answer is not a JSON object")
    return answered


def passkeys(user: User) -> list[Credential]:
    return [credential for credential in user.credentials if credential.type == TYPE]


def origin(base_url: str) -> str:
    """The browser origin of our pages: scheme, host and port of IDP_BASE_URL."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def rp_id(ctx: StepContext[Any]) -> str:
    """The relying-party id: the realm's setting, else the public host of IDP_BASE_URL."""
    host = ctx.config.webauthn.rp_id or urlsplit(ctx.settings.base_url).hostname
    if not host:
        raise ValueError(f"IDP_BASE_URL {ctx.settings.base_url!r} names no host for passkeys")
    return host


def server(ctx: StepContext[Any]) -> Fido2Server:
    """A fido2 server that accepts only answers from our own pages' origin (exactly, port included;
    fido2's default would accept any subdomain and port)."""
    name = ctx.config.webauthn.rp_name or ctx.config.display_name or ctx.realm.name
    expected = origin(ctx.settings.base_url)
    return Fido2Server(PublicKeyCredentialRpEntity(id=rp_id(ctx), name=name),
                       attestation=AttestationConveyancePreference.NONE,
                       verify_origin=lambda answered: answered.lower() == expected)


def descriptor(credential: Credential) -> PublicKeyCredentialDescriptor:
    """How the browser is told about a stored passkey; transports always include hybrid."""
    transports = list(credential.credential_data.get("transports") or [])
    if CROSS_DEVICE not in transports:
        transports.append(CROSS_DEVICE)
    return PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY,
                                         id=decode(credential.credential_data["credentialId"]),
                                         transports=transports)


def attested(credential: Credential) -> AttestedCredentialData:
    """The stored passkey as fido2 checks signatures against it."""
    data = credential.credential_data
    aaguid = Aaguid.parse(data["aaguid"]) if data.get("aaguid") else Aaguid.NONE
    cose_key = cbor.decode(decode(data["credentialPublicKey"]))
    if not isinstance(cose_key, Mapping):
        raise ValueError("the stored credentialPublicKey is not a COSE key")
    public_key = CoseKey.parse(cose_key)
    return AttestedCredentialData.create(aaguid, decode(data["credentialId"]), public_key)


def begin_registration(ctx: StepContext[Any], existing: Iterable[Credential],
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for navigator.credentials.create (JSON) and the state to keep in ctx.data."""
    user = ctx.member
    member = PublicKeyCredentialUserEntity(id=user.id.encode(), name=user.username,
                                           display_name=user.full_name or user.username)
    options, state = server(ctx).register_begin(
        member, [descriptor(credential) for credential in existing],
        resident_key_requirement=ResidentKeyRequirement.PREFERRED,
        user_verification=UserVerificationRequirement(ctx.config.webauthn.user_verification))
    return dict(options), _plain(state)


def finish_registration(ctx: StepContext[Any], state: dict[str, Any], answer: str) -> dict[str, Any]:
    """The new passkey's credential_data, once the browser's answer checks out."""
    try:
        answered = _json_object(answer)
        response = RegistrationResponse.from_dict(answered)
        auth_data = server(ctx).register_complete(state, response)
    except MALFORMED as problem:
        raise CeremonyRefused(str(problem)) from problem
    attested_data = auth_data.credential_data
    if attested_data is None:
        raise CeremonyRefused("the answer carries no credential")
    return {
        "credentialId": encode(attested_data.credential_id),
        "credentialPublicKey": encode(cbor.encode(attested_data.public_key)),
        "counter": auth_data.counter,
        "aaguid": str(attested_data.aaguid),
        "transports": _transports(answered),
        "attestationStatementFormat": response.response.attestation_object.fmt,
        "userVerified": auth_data.is_user_verified(),
        "backupEligible": bool(auth_data.flags & AuthenticatorData.FLAG.BE),
    }


def begin_authentication(ctx: StepContext[Any], allowed: Iterable[Credential] | None,
                         ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for navigator.credentials.get (JSON) and the state to keep in ctx.data.
    `allowed` None asks for any of the member's discoverable passkeys (passkey as first factor)."""
    descriptors = None if allowed is None else [descriptor(credential) for credential in allowed]
    options, state = server(ctx).authenticate_begin(descriptors,
                                                    user_verification=UserVerificationRequirement(
                                                        ctx.config.webauthn.user_verification))
    return dict(options), _plain(state)


@dataclass(frozen=True)
class Assertion:
    """A checked sign-in answer: which passkey signed, its new sign count, and the user handle."""

    credential: Credential
    sign_count: int
    user_handle: bytes | None


def parse_assertion(answer: str) -> AuthenticationResponse:
    try:
        return AuthenticationResponse.from_dict(_json_object(answer))
    except MALFORMED as problem:
        raise CeremonyRefused(str(problem)) from problem


def finish_authentication(ctx: StepContext[Any], state: dict[str, Any], response: AuthenticationResponse,
                          candidates: Iterable[Credential]) -> Assertion:
    """Check the signature against the candidate passkeys (challenge, origin and RP id included)."""
    by_id = {decode(credential.credential_data["credentialId"]): credential for credential in candidates}
    credential = by_id.get(response.raw_id)
    if credential is None:
        raise CeremonyRefused("unknown credential")
    try:
        server(ctx).authenticate_complete(state, [attested(credential)], response)
    except MALFORMED as problem:
        raise CeremonyRefused(str(problem)) from problem
    return Assertion(credential, response.response.authenticator_data.counter, response.response.user_handle)


def sign_count_went_backwards(credential: Credential, received: int) -> bool:
    """WebAuthn §7.2 step 21: once either count is non-zero, a count not above the stored one
    suggests a cloned authenticator. Authenticators that never count send 0 every time."""
    stored = int(credential.credential_data.get("counter") or 0)
    return (stored or received) != 0 and received <= stored


def record_use(credential: Credential, sign_count: int, when: datetime) -> None:
    credential.credential_data = dict(credential.credential_data, counter=sign_count)
    credential.last_used_at = when


def _transports(answered: dict[str, Any]) -> list[str]:
    """The transports the browser reported (getTransports()), kept as hints for later sign-ins."""
    reported = answered.get("response", {}).get("transports") or []
    return [name for name in reported if isinstance(name, str) and name in KNOWN_TRANSPORTS]


def _plain(state: Mapping[str, Any]) -> dict[str, Any]:
    """fido2's state with plain strings only, for ctx.data (JSON)."""
    verification = state.get("user_verification")
    return {"challenge": state["challenge"], "user_verification": str(verification) if verification else None}
