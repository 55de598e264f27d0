"""Authenticator-app keys are encrypted at rest under IDP_SECRET_KEY; rows written before that
still read, and a member imported from Keycloak keeps their app without the key ever stored in clear."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from idp.authenticators.totp import code_at, matching_step
from idp.db.models import Credential
from idp.db.users import find_user, otp_key
from idp.realms.keycloak import import_file
from idp.security.secret_box import SecretBoxError, decrypt, encrypt

KEY = "a-secret-key-of-the-deployment-0001"
OTHER_KEY = "another-deployment-secret-key-0002"
EXPORT = Path(__file__).resolve().parent.parent / "fixtures" / "keycloak" / "kosmo-kc-realm.json"


def test_a_secret_comes_back_as_it_went_in():
    token = encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", KEY)
    assert token.startswith("v1:")
    assert "JBSWY3DP" not in token
    assert decrypt(token, KEY) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_the_same_secret_sealed_twice_looks_different():
    assert encrypt("gbNkR1c8Ch3eFzYTCBrn", KEY) != encrypt("gbNkR1c8Ch3eFzYTCBrn", KEY)


def test_a_plaintext_secret_from_before_encryption_is_read_as_it_is():
    assert decrypt("kcSecretValue12345678", KEY) == "kcSecretValue12345678"


def test_another_secret_key_cannot_open_a_secret():
    with pytest.raises(SecretBoxError, match="IDP_SECRET_KEY"):
        decrypt(encrypt("JBSWY3DPEHPK3PXP", KEY), OTHER_KEY)


def flip(token: str, at: int) -> str:
    return token[:at] + ("B" if token[at] == "A" else "A") + token[at + 1:]


@pytest.mark.parametrize("damage", [lambda t: flip(t, 20), lambda t: flip(t, len(t) - 3), lambda t: t[:12]])
def test_a_damaged_token_is_refused_rather_than_misread(damage):
    with pytest.raises(SecretBoxError):
        decrypt(damage(encrypt("JBSWY3DPEHPK3PXP", KEY)), KEY)


def test_an_encrypted_otp_credential_gives_keycloaks_key_only_with_the_secret_key(settings):
    typed = Credential(type="otp", secret_data={"value": encrypt("gbNkR1c8Ch3eFzYTCBrn", settings.secret_key)},
                       credential_data={"secretEncoding": None})
    base32 = Credential(type="otp", secret_data={"value": encrypt("jbswy3dpehpk3pxp", settings.secret_key)},
                        credential_data={"secretEncoding": "BASE32"})
    assert otp_key(typed, settings) == b"gbNkR1c8Ch3eFzYTCBrn"
    assert otp_key(base32, settings) == b"Hello!\xde\xad\xbe\xef"
    with pytest.raises(SecretBoxError):
        otp_key(typed)


def test_a_member_imported_from_keycloak_keeps_their_app_and_the_database_never_holds_the_key(
        settings, migrated_database):
    member = next(u for u in json.loads(EXPORT.read_text(encoding="utf-8"))["users"] if u["username"] == "tanaka01")
    plaintext = json.loads(next(c for c in member["credentials"] if c["type"] == "otp")["secretData"])["value"]
    with migrated_database.session() as session:
        realm, _ = import_file(session, EXPORT, settings)
    with migrated_database.session() as session:
        rows = [row[0] for row in session.execute(text("SELECT secret_data FROM credentials WHERE type = 'otp'"))]
        assert rows and all(plaintext not in str(row) for row in rows)
        device = next(c for c in find_user(session, realm, "tanaka01").credentials if c.type == "otp")
        now = time.time()
        phone = code_at(plaintext.encode("utf-8"), int(now // 30))  # the member's app, unchanged since Keycloak
        assert matching_step(otp_key(device, settings), phone, now=now) == int(now // 30)
