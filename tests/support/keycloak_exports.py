"""The Keycloak 26 export in tests/fixtures/keycloak, adapted per test: a member's passkey replaced by
one whose private key the test holds (a software authenticator, or Chromium's virtual one), the
realm's browser flow, the portal client's redirect URIs; and the real exports from Keycloak's own
repositories, read where they are."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak"
EXPORT = FIXTURES / "kosmo-kc-realm.json"
PORTAL_SECRET = "portal-secret-0123456789abcdef"  # kosmo-portal's secret in the export
WEBAUTHN_TYPES = ("webauthn", "webauthn-passwordless")
# Real exports from Keycloak's repositories, read where they are (../shared beside the checkout; a
# git worktree elsewhere names the folder with IDP_TEST_KEYCLOAK_EXPORTS).
REAL_EXPORTS = Path(os.environ.get("IDP_TEST_KEYCLOAK_EXPORTS")
                    or Path(__file__).resolve().parents[2].parent / "shared" / "keycloak-exports")


def real_exports() -> list:
    """The real export files as test parameters, or one skipped parameter saying why there are none."""
    if not REAL_EXPORTS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{REAL_EXPORTS} is absent (a clone outside the "
                                                                 "workplace): the real Keycloak exports live there"))]
    return sorted(REAL_EXPORTS.glob("*.json"), key=lambda path: path.name)


def keycloak_passkey(public_key: ec.EllipticCurvePublicKey, credential_id: bytes, counter: int = 41) -> str:
    """credentialData as Keycloak's WebAuthnCredentialProvider stores it: the credential id in
    standard base64, the COSE key (ES256) in base64url without padding."""
    numbers = public_key.public_numbers()
    cose = cbor.encode({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    return json.dumps({
        "aaguid": "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "credentialId": base64.b64encode(credential_id).decode(),
        "counter": counter, "attestationStatementFormat": "none",
        "credentialPublicKey": base64.urlsafe_b64encode(cose).rstrip(b"=").decode(), "transports": ["internal"],
    }, separators=(",", ":"))


def export_with_passkey(authenticator, username: str, *, browser_flow: str | None = None) -> dict:
    """The export, `username`'s passkey being `authenticator`'s (its `key` and `credential_id`)."""
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    member = next(user for user in export["users"] if user["username"] == username)
    passkey = next(c for c in member["credentials"] if c["type"] in WEBAUTHN_TYPES)
    passkey["credentialData"] = keycloak_passkey(authenticator.key.public_key(), authenticator.credential_id)
    if browser_flow:
        export["browserFlow"] = browser_flow
    return export


def write_export(folder: Path, export: dict) -> Path:
    path = folder / f"{export['realm']}-realm.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return path
