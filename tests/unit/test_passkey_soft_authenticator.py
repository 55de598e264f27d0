"""The software passkey authenticator of tests/support/passkeys.py, checked against fido2's own
parsers: what it posts back is what fido2 reads from a browser.
"""
from __future__ import annotations

import json

from fido2.webauthn import AttestationObject, AuthenticationResponse, CollectedClientData, RegistrationResponse

from idp.authenticators.webauthn_server import encode
from tests.support.passkeys import SoftAuthenticator

OPTIONS = {"publicKey": {"challenge": encode(b"c" * 32), "user": {"id": encode(b"member-1")},
                         "excludeCredentials": [], "allowCredentials": None}}


def test_its_registration_is_what_fido2_reads_from_a_browser():
    phone = SoftAuthenticator()
    response = RegistrationResponse.from_dict(json.loads(phone.create(OPTIONS)))

    attestation: AttestationObject = response.response.attestation_object
    assert attestation.fmt == "none"
    assert attestation.auth_data.credential_data.credential_id == phone.credential_id
    assert str(attestation.auth_data.credential_data.aaguid) == "adce0002-35bc-c60a-648b-0b25f1f05503"
    assert response.response.client_data.type == CollectedClientData.TYPE.CREATE
    assert response.response.client_data.challenge == b"c" * 32


def test_its_signature_verifies_with_the_public_key_it_registered():
    phone = SoftAuthenticator()
    registered = RegistrationResponse.from_dict(json.loads(phone.create(OPTIONS)))
    public_key = registered.response.attestation_object.auth_data.credential_data.public_key

    signed = AuthenticationResponse.from_dict(json.loads(phone.get(OPTIONS, sign_count=7))).response
    public_key.verify(signed.authenticator_data + signed.client_data.hash, signed.signature)
    assert signed.authenticator_data.counter == 7
    assert signed.user_handle == b"member-1"
