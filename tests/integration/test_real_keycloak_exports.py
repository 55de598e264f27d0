"""Real realm exports from Keycloak's own repositories import as they are, and their members sign in
with their old passwords on the sign-in page, at a redirect URI the client registered as a pattern."""
from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idp.db.models import Client
from idp.db.users import check_password, find_user
from idp.oidc.keys import ensure_signing_key
from idp.realms.keycloak import ExportFiles, parse_export, read_exports, write_import
from idp.realms.redirect_patterns import resolve
from tests.support.keycloak_exports import real_exports
from tests.support.sign_in import pkce_pair, redirect_params, submit_sign_in

SERVER = "http://localhost"  # the test app's base URL: path patterns resolve against it


def members_with_passwords(realm: dict) -> list[tuple[str, str]]:
    """(username, password) of each member the file seeds with a plain password."""
    return [(user["username"], credential["value"]) for user in realm.get("users") or []
            for credential in user.get("credentials") or []
            if credential.get("type") == "password" and "value" in credential]


def a_uri_matching(pattern: str) -> str:
    """A redirect URI the pattern allows (`https://app/*` -> `https://app/callback`)."""
    uri = resolve(pattern, SERVER)
    return uri[:-1] + ("callback" if uri.endswith("/*") else "/callback") if uri.endswith("*") else uri


@pytest.mark.parametrize("path", real_exports(), ids=lambda path: path.stem if path else "absent")
def test_a_real_export_imports_as_it_is_and_its_members_sign_in_with_their_old_passwords(
        path, client, database, settings):
    for files in read_exports(path):
        with database.session() as session:
            realm = write_import(session, parse_export(files, settings))
            session.commit()
            realm_name = realm.name
        members = members_with_passwords(files.realm)
        with database.session() as session:
            realm = session.merge(realm)
            for username, password in members:
                assert check_password(session, find_user(session, realm, username), password, settings), username
            portal = next((c for c in session.scalars(select(Client).where(Client.realm_id == realm.id))
                           if c.standard_flow and not c.attributes.get("builtin")), None)
            portal_id, patterns = (portal.client_id, list(portal.redirect_uris)) if portal else (None, [])
        if members:
            assert portal_id, f"{path.name}: no client of realm {realm_name!r} to sign in to"
            signs_in_on_the_page(client, realm_name, portal_id, a_uri_matching(patterns[0]), *members[0])


def signs_in_on_the_page(client, realm: str, client_id: str, redirect_uri: str, username: str, password: str):
    verifier, challenge = pkce_pair()
    page = client.get(f"/realms/{realm}/protocol/openid-connect/auth", query_string={
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
        "state": "s-1", "code_challenge": challenge, "code_challenge_method": "S256"})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    answer = submit_sign_in(client, page.get_data(as_text=True), username=username, password=password)
    assert answer.headers.get("Location", "").startswith(redirect_uri + "?"), answer.get_data(as_text=True)[:300]
    assert redirect_params(answer)["code"]


def test_a_realm_named_in_upper_case_keeps_its_name_in_urls_and_the_issuer(client, database, settings):
    export = {"realm": "KosmoKC", "enabled": True,
              "clients": [{"clientId": "kosmo-cli", "publicClient": True, "standardFlowEnabled": False,
                           "directAccessGrantsEnabled": True}],
              "users": [{"username": "tanaka01", "realmRoles": ["default-roles-kosmokc"],
                         "credentials": [{"type": "password", "value": "Sakura-2024"}]}]}
    with database.session() as session:
        ensure_signing_key(session, write_import(session, parse_export(ExportFiles(export), settings)))
        session.commit()

    discovery = client.get("/realms/KosmoKC/.well-known/openid-configuration").get_json()
    assert discovery["issuer"] == "http://localhost/realms/KosmoKC"
    assert client.get("/realms/kosmokc/.well-known/openid-configuration").status_code == 404
    answer = client.post("/realms/KosmoKC/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "kosmo-cli", "username": "tanaka01", "password": "Sakura-2024"})
    token = jwt.decode(answer.get_json()["access_token"], KeySet.import_key_set(
        client.get("/realms/KosmoKC/protocol/openid-connect/certs").get_json()))
    assert token.claims["iss"] == "http://localhost/realms/KosmoKC"
    # Keycloak names the default-roles composite with the realm's name lower-cased.
    assert "default-roles-kosmokc" in token.claims["realm_access"]["roles"]
