"""A passkey authenticator in software, playing the member's phone in the passkey tests: it answers
the options our pages give navigator.credentials.create/get with what a browser would post back
(clientDataJSON, authenticatorData, a "none" attestation, an ES256 signature), built by hand from
the WebAuthn spec; and the member's browser on the passkey flow."""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from html import unescape

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from sqlalchemy import select

from idp.authenticators.webauthn_server import decode, encode
from idp.db.models import AuditEvent, Credential
from tests.support.sign_in import authorize, follow_step, pkce_pair, submit_sign_in
from tests.support.steps import Browser

AAGUID = bytes.fromhex("adce000235bcc60a648b0b25f1f05503")


class SoftAuthenticator:
    """One passkey (P-256) for one site; `sign_count` goes up by one per signature unless set."""

    def __init__(self, origin: str = "http://localhost", rp_id: str = "localhost", user_verified: bool = True):
        self.origin, self.rp_id, self.user_verified = origin, rp_id, user_verified
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.user_handle: bytes | None = None

    def create(self, options: dict, *, origin: str | None = None, challenge: str | None = None,
               ignore_exclusions: bool = False, transports=("internal", "hybrid")) -> str:
        """navigator.credentials.create: the RegistrationResponse JSON the page posts back."""
        public_key = options["publicKey"]
        excluded = {item["id"] for item in public_key.get("excludeCredentials") or []}
        if encode(self.credential_id) in excluded and not ignore_exclusions:
            raise InvalidStateError("this authenticator already holds a passkey of the member")
        self.user_handle = decode(public_key["user"]["id"])
        client_data = self._client_data("webauthn.create", challenge or public_key["challenge"], origin)
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id + cbor.encode(self._cose())
        auth_data = self._auth_data(ATTESTED) + attested
        attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({
            "id": encode(self.credential_id), "rawId": encode(self.credential_id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": encode(client_data), "attestationObject": encode(attestation),
                         "transports": list(transports)},
        })

    def get(self, options: dict, *, origin: str | None = None, challenge: str | None = None,
            sign_count: int | None = None) -> str:
        """navigator.credentials.get: the AuthenticationResponse JSON the page posts back."""
        public_key = options["publicKey"]
        allowed = public_key.get("allowCredentials")
        if allowed is not None and encode(self.credential_id) not in {item["id"] for item in allowed}:
            raise NotAllowedError("none of the allowed passkeys is on this authenticator")
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = self._client_data("webauthn.get", challenge or public_key["challenge"], origin)
        auth_data = self._auth_data(0)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": encode(self.credential_id), "rawId": encode(self.credential_id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": encode(client_data), "authenticatorData": encode(auth_data),
                         "signature": encode(signature),
                         "userHandle": encode(self.user_handle) if self.user_handle else None},
        })

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}).encode()

    def _auth_data(self, extra_flags: int) -> bytes:
        flags = USER_PRESENT | (USER_VERIFIED if self.user_verified else 0) | extra_flags
        rp_id_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", self.sign_count)

    def _cose(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}


class InvalidStateError(Exception):
    """What the browser reports when an excluded passkey is already on the authenticator."""


class NotAllowedError(Exception):
    """What the browser reports when the member cancels, or no allowed passkey is present."""


# The passkey is asked for once the member has one; until then they register one.
PASSKEY_FLOW = "  - authenticate: passkey\n  - action: webauthn-register\n    if: no-second-factor\n"


class PasskeyMember(Browser):
    """The member's browser; `press` posts the page's form and follows the engine to the next page."""

    def press(self, **fields):
        response = follow_step(self.client, self.submit(**fields))
        self.page = response.get_data(as_text=True)
        return response

    def options(self) -> dict:
        block = re.search(r'<script type="application/json" id="passkey-options"[^>]*>(.*?)</script>', self.page, re.S)
        assert block, self.page[:800]
        return json.loads(unescape(block[1]))

    def sign_in_again(self, password: str = "Initial-2025") -> None:
        """A new browser (no SSO cookie) signs in with the user ID and password."""
        self.client = self.client.application.test_client()
        page = authorize(self.client, pkce_pair()[1]).get_data(as_text=True)
        self.page = submit_sign_in(self.client, page, username="kosmo0001", password=password).get_data(as_text=True)

    def passkeys(self) -> list[Credential]:
        with self.database.session() as session:
            found = list(session.scalars(select(Credential).where(Credential.user_id == self.user_id,
                                                                  Credential.type == "webauthn")))
            session.expunge_all()
            return found

    def audit(self, type: str) -> list[dict]:
        """The member's audit events of `type`: their details, with the error."""
        with self.database.session() as session:
            rows = session.scalars(select(AuditEvent).where(AuditEvent.user_id == self.user_id,
                                                            AuditEvent.type == type))
            return [{**row.details, "error": row.error} for row in rows]


def first_sign_in(folder) -> PasskeyMember:
    """kosmo0001's browser at their first sign-in on the passkey flow, no passkey registered yet."""
    return PasskeyMember(folder, PASSKEY_FLOW, "kosmo0001", "Initial-2025")


def register(member: PasskeyMember, phone: SoftAuthenticator, label: str = "わたしのiPhone", **fields):
    member.press(credential=phone.create(member.options()), **fields)
    assert 'value="パスキー"' in member.page
    return member.press(label=label)


USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40
