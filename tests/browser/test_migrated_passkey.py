"""A member whose passkey was registered in Keycloak keeps using it after the society moves here, in
Chromium with its virtual authenticator: the test makes the passkey's EC P-256 key, writes its public
key into the Keycloak export as Keycloak stores it, imports the export with `idp realm import`, and
puts the private key on the member's device with the same credential id, relying-party id and user
handle (Keycloak's: the UTF-8 bytes of the member's user id). The sign count carries over: the device
continues from Keycloak's count, and a copy of the key counting from lower down is refused.
"""
from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from idp.db import Database
from idp.db.models import Credential, User
from tests.support.browser import DESKTOP, PASSKEY_HEADING, VirtualAuthenticator
from tests.support.keycloak_exports import EXPORT, keycloak_passkey
from tests.support.servers import PORTAL_SECRET, IdpServer, PortalServer

pytestmark = pytest.mark.browser

REALM = "kosmo-kc"
USER_ID, PASSWORD = "ito05", "Fuji-2022!"
KEYCLOAK_USER_ID = "00000000-0000-0000-0000-0000000000ce"  # ito05's id in the export
KEYCLOAK_COUNT = 41  # the passkey's sign count when Keycloak exported it


class MigratedPasskey:
    """The passkey 伊藤さん registered in Keycloak: its key pair and credential id."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)

    def put_on(self, device: VirtualAuthenticator, sign_count: int) -> None:
        """WebAuthn.addCredential: the key as Keycloak's relying party and user handle know it."""
        pkcs8 = self.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        device.cdp.send("WebAuthn.addCredential", {"authenticatorId": device.id, "credential": {
            "credentialId": base64.b64encode(self.credential_id).decode(), "isResidentCredential": True,
            "rpId": "localhost", "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": base64.b64encode(KEYCLOAK_USER_ID.encode()).decode(), "signCount": sign_count}})


def keycloak_export(passkey: MigratedPasskey, portal_url: str) -> dict:
    """The fixture export: ito05's passkey is the test's, the realm runs the kosmo-member flow (a
    custom flow in Keycloak) and its portal client redirects to the demo portal."""
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    export["browserFlow"] = "kosmo-member"
    ito = next(user for user in export["users"] if user["username"] == USER_ID)
    credential = next(c for c in ito["credentials"] if c["type"] == "webauthn-passwordless")
    credential["credentialData"] = keycloak_passkey(passkey.key.public_key(), passkey.credential_id, KEYCLOAK_COUNT)
    portal = next(client for client in export["clients"] if client["clientId"] == "kosmo-portal")
    portal.update(rootUrl=portal_url, baseUrl=f"{portal_url}/", redirectUris=[f"{portal_url}/callback"],
                  secret=PORTAL_SECRET)
    portal["attributes"]["post.logout.redirect.uris"] = f"{portal_url}/"
    return export


@pytest.fixture(scope="module")
def passkey() -> MigratedPasskey:
    return MigratedPasskey()


@pytest.fixture(scope="module")
def migrated_idp(tmp_path_factory, passkey):
    """The identity provider, the Keycloak export imported before it starts."""
    server = IdpServer(tmp_path_factory.mktemp("migrated"))
    export_file = server.folder / f"{REALM}-realm.json"
    export_file.write_text(json.dumps(keycloak_export(passkey, server.portal_url), ensure_ascii=False),
                           encoding="utf-8")
    imported = server.idp("realm", "import", str(export_file))
    assert f"realm {REALM}: imported from Keycloak export" in imported.stdout
    with server:
        yield server


@pytest.fixture(scope="module")
def migrated_portal(migrated_idp):
    with PortalServer(migrated_idp.url, migrated_idp.portal_port, migrated_idp.outbox_dir,
                      log_dir=migrated_idp.folder, env={"PORTAL_REALM": REALM}) as portal:
        yield portal


def sign_in_with_password(page, portal_url: str) -> None:
    page.goto(portal_url + "/")
    page.get_by_role("banner").get_by_role("link", name="ログイン", exact=True).click()
    page.get_by_label("ユーザID").fill(USER_ID)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()


def stored_count(server: IdpServer) -> int:
    database = Database(server.env["IDP_DATABASE_URL"])
    try:
        with database.session() as session:
            passkey = session.scalar(select(Credential).join(User).where(User.username == USER_ID,
                                                                        Credential.type == "webauthn"))
            return passkey.credential_data["counter"]
    finally:
        database.dispose()


def test_a_member_signs_in_with_the_passkey_keycloak_registered_and_a_copy_counting_lower_is_refused(
        browser, migrated_idp, migrated_portal, passkey):
    from playwright.sync_api import expect

    context = browser.new_context(locale="ja-JP", **DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    phone = VirtualAuthenticator(page)
    passkey.put_on(phone, sign_count=KEYCLOAK_COUNT)

    # Setup was finished in Keycloak: from the password straight to 生体認証, then the portal.
    sign_in_with_password(page, migrated_portal.url)
    expect(page.get_by_role("heading", name=PASSKEY_HEADING, level=1)).to_be_visible()
    page.get_by_role("button", name="生体認証でログイン").click()
    expect(page).to_have_url(migrated_portal.url + "/")
    assert phone.passkeys()[0]["signCount"] == KEYCLOAK_COUNT + 1
    assert stored_count(migrated_idp) == KEYCLOAK_COUNT + 1
    context.close()

    # A copy of the key whose count started lower (a cloned authenticator) is refused.
    context = browser.new_context(locale="ja-JP", **DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    passkey.put_on(VirtualAuthenticator(page), sign_count=5)
    sign_in_with_password(page, migrated_portal.url)
    page.get_by_role("button", name="生体認証でログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("このパスキーではログインできません")
    assert stored_count(migrated_idp) == KEYCLOAK_COUNT + 1
    context.close()
