"""Members of a realm imported from Keycloak sign in as Keycloak had them: their own password
(Keycloak's hash), their authenticator app, their passkey (same credential, same user handle, the
sign count carried over), then their pending actions; members who finished the first sign-in in
Keycloak go straight back to the portal; relying parties see the same `sub` and roles."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from dataclasses import replace
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from idp.authenticators.totp import code_at
from idp.authenticators.webauthn_server import decode
from idp.db.models import AuditEvent, Credential, PendingRequiredAction, User
from idp.realms import save_realm
from idp.realms.keycloak import import_file
from idp.realms.keycloak_mapping import AttributeMapping
from idp.realms.schema import TermsOfUse
from idp.setup import prepare
from tests.support.keycloak_exports import EXPORT, PORTAL_SECRET, export_with_passkey, write_export
from tests.support.passkeys import SoftAuthenticator
from tests.support.sign_in import follow_step, form_action, hidden_value

REALM = "/realms/kosmo-kc"
TERMS = TermsOfUse(version="2024-10",
                   text="第1条（目的）\n本規約は、KOSMO 健康保険組合のサービスの利用条件を定めます。")
CALLBACK = "https://kenpo.portal.example.jp/callback"
VERIFIER = "imported-member-verifier-0123456789-abcdefghijklmnop"


def make_app(settings, database, export_path: Path, mapping: AttributeMapping | None = None,
             terms: TermsOfUse | None = None):
    """The identity provider after `idp realm import` of the export; `terms`: the 利用規約 the
    operator then adds to the realm's YAML."""
    from idp.app import create_app

    with database.session() as session:
        realm, imported = import_file(session, export_path, settings, mapping)
        if terms is not None:
            save_realm(session, imported.config.model_copy(update={"terms": terms}))
    prepare(settings, database)
    app = create_app(settings, database)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def app(settings, migrated_database):
    return make_app(settings, migrated_database, EXPORT)


@pytest.fixture
def ito_passkey() -> SoftAuthenticator:
    """伊藤さんの iPhone: the passkey Keycloak registered for ito05 (its count at 41)."""
    return SoftAuthenticator()


@pytest.fixture
def member_flow_app(settings, migrated_database, tmp_path, ito_passkey):
    """The same export, its realm running the guide's kosmo-member flow (a custom flow in Keycloak),
    imported with `--terms-version 2024-10`, the version of the terms the realm then publishes."""
    export = export_with_passkey(ito_passkey, "ito05", browser_flow="kosmo-member")
    return make_app(settings, migrated_database, write_export(tmp_path, export),
                    AttributeMapping(keycloak_terms_version=TERMS.version), terms=TERMS)


def otp_secret(username: str) -> bytes:
    user = next(u for u in json.loads(EXPORT.read_text())["users"] if u["username"] == username)
    otp = next(c for c in user["credentials"] if c["type"] == "otp")
    return json.loads(otp["secretData"])["value"].encode()  # Keycloak: the UTF-8 bytes of the value


def sign_in(client, username: str, password: str):
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": "kosmo-portal", "response_type": "code", "scope": "openid", "state": "st",
                       "redirect_uri": CALLBACK, "code_challenge": challenge, "code_challenge_method": "S256"})
    page = client.get(f"{REALM}/protocol/openid-connect/auth?{query}").get_data(as_text=True)
    return submit(client, page, username=username, password=password)


def submit(client, page: str, **fields):
    data = {name: hidden_value(page, name) for name in ("csrf_token", "tab_id", "step")}
    return follow_step(client, client.post(form_action(page), data={**data, **fields}))


def code_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    assert response.headers["Location"].startswith(CALLBACK)
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def passkey_options(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="passkey-options"[^>]*>(.*?)</script>', page, re.S)
    assert block, page[:800]
    return json.loads(unescape(block[1]))


def tokens_for(client, code: str) -> dict:
    response = client.post(f"{REALM}/protocol/openid-connect/token", auth=("kosmo-portal", PORTAL_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def claims(token: str) -> dict:
    """A JWT's claims (the signature is the token tests' business)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def stored_passkey(database, username: str) -> Credential:
    with database.session() as session:
        return session.scalar(select(Credential).join(User).where(User.username == username,
                                                                  Credential.type == "webauthn"))


# Keycloak's browser flow


def test_a_member_with_a_keycloak_pbkdf2_password_and_an_app_signs_in_with_both(client, database):
    otp_page = sign_in(client, "tanaka01", "Sakura-2024")
    assert otp_page.status_code == 200
    page = otp_page.get_data(as_text=True)
    assert re.search(r'autocomplete="one-time-code"', page)

    code = code_at(otp_secret("tanaka01"), int(time.time() // 30))
    assert code_from(submit(client, page, device=hidden_value(page, "device"), otp=code))

    with database.session() as session:
        password = session.scalar(select(Credential).join(User).where(
            User.username == "tanaka01", Credential.type == "password"))
        assert password.credential_data["algorithm"] == "argon2"  # rehashed at this first sign-in


def test_a_member_whose_app_secret_keycloak_kept_in_base32_signs_in_with_its_codes(client, database):
    page = sign_in(client, "suzuki02", "Momiji-2023").get_data(as_text=True)
    code = code_at(base64.b32decode(otp_secret("suzuki02")), int(time.time() // 30))

    assert code_from(submit(client, page, device=hidden_value(page, "device"), otp=code))


def test_relying_parties_see_the_same_sub_and_roles_as_keycloak_gave_them(client):
    page = sign_in(client, "tanaka01", "Sakura-2024").get_data(as_text=True)
    code = code_from(submit(client, page, device=hidden_value(page, "device"),
                            otp=code_at(otp_secret("tanaka01"), int(time.time() // 30))))

    tokens = tokens_for(client, code)
    access, identity = claims(tokens["access_token"]), claims(tokens["id_token"])
    assert access["sub"] == identity["sub"] == "00000000-0000-0000-0000-0000000000c9"  # Keycloak's user id
    assert "insured" in access["realm_access"]["roles"]  # from the group /組合員
    assert access["resource_access"]["kosmo-portal"] == {"roles": ["member"]}


def test_a_member_with_a_pending_update_password_is_asked_for_a_new_one_first(client, database):
    page = sign_in(client, "sato03", "Kaede-2025").get_data(as_text=True)
    assert 'name="password_confirm"' in page

    done = submit(client, page, password="Momiji-2026x", password_confirm="Momiji-2026x")

    assert code_from(done)
    with database.session() as session:
        sato = session.scalar(select(User).where(User.username == "sato03"))
        assert session.scalar(select(PendingRequiredAction).where(PendingRequiredAction.user_id == sato.id)) is None


# The guide's kosmo-member flow: setup done in Keycloak is not asked again


def test_a_member_who_finished_setup_in_keycloak_goes_from_password_and_app_straight_to_the_portal(member_flow_app):
    client = member_flow_app.test_client()
    page = sign_in(client, "tanaka01", "Sakura-2024").get_data(as_text=True)

    # No 生年月日, 利用規約 (2024-10 accepted in Keycloak), メールアドレス or ユーザーID page: the app is next.
    assert 'autocomplete="one-time-code"' in page and "生年月日" not in page and "利用規約" not in page
    code = code_at(otp_secret("tanaka01"), int(time.time() // 30))
    assert code_from(submit(client, page, device=hidden_value(page, "device"), otp=code))


def test_a_member_signs_in_with_the_passkey_keycloak_registered_and_its_count_carries_on(member_flow_app, database,
                                                                                        ito_passkey):
    client = member_flow_app.test_client()
    page = sign_in(client, "ito05", "Fuji-2022!").get_data(as_text=True)
    assert "<h1>生体認証</h1>" in page
    ito_passkey.user_handle = b"00000000-0000-0000-0000-0000000000ce"  # Keycloak's: the user id's UTF-8 bytes

    answer = ito_passkey.get(passkey_options(page), sign_count=42)

    assert code_from(submit(client, page, credential=answer))
    passkey = stored_passkey(database, "ito05")
    assert passkey.credential_data["counter"] == 42 and passkey.last_used_at is not None


def test_a_copy_of_the_passkey_counting_below_keycloaks_count_is_refused(member_flow_app, database, ito_passkey):
    client = member_flow_app.test_client()
    page = sign_in(client, "ito05", "Fuji-2022!").get_data(as_text=True)

    refused = submit(client, page, credential=ito_passkey.get(passkey_options(page), sign_count=7))

    assert refused.status_code == 401 and "このパスキーではログインできません" in refused.get_data(as_text=True)
    assert stored_passkey(database, "ito05").credential_data["counter"] == 41
    with database.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.error == "webauthn_sign_count"))
        assert (event.details["stored_sign_count"], event.details["received_sign_count"]) == (41, 7)


PASSKEY_FLOW = "flow: passkeys\nsteps:\n  - authenticate: passkey-login\n  - pending-required-actions\n"


def test_with_keycloaks_passkeys_option_a_member_signs_in_with_the_passkey_alone(settings, migrated_database, tmp_path,
                                                                                ito_passkey):
    flows = tmp_path / "passkey-flows"
    flows.mkdir()
    (flows / "passkeys.yaml").write_text(PASSKEY_FLOW, encoding="utf-8")
    settings = replace(settings, flows_dir=flows)
    export = export_with_passkey(ito_passkey, "ito05", browser_flow="passkeys")
    export["webAuthnPolicyPasswordlessPasskeysEnabled"] = True
    client = make_app(settings, migrated_database, write_export(tmp_path, export)).test_client()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": "kosmo-portal", "response_type": "code", "scope": "openid", "state": "st",
                       "redirect_uri": CALLBACK, "code_challenge": challenge, "code_challenge_method": "S256"})
    page = client.get(f"{REALM}/protocol/openid-connect/auth?{query}").get_data(as_text=True)
    ito_passkey.user_handle = b"00000000-0000-0000-0000-0000000000ce"

    code = code_from(submit(client, page, credential=ito_passkey.get(passkey_options(page), sign_count=50)))

    assert claims(tokens_for(client, code)["id_token"])["sub"] == "00000000-0000-0000-0000-0000000000ce"
    stored = stored_passkey(migrated_database, "ito05")
    assert decode(stored.credential_data["credentialId"]) == ito_passkey.credential_id
