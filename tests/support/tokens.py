"""What a relying party does after the sign-in: exchange the code, refresh, introspect, use the
password grant, read the claims, and end the session at the logout endpoint."""
from __future__ import annotations

from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet

from idp.realms import find_realm, realm_config, save_realm
from tests.support.sign_in import (
    CALLBACK,
    MEMBER_ID,
    MEMBER_PASSWORD,
    OIDC,
    PORTAL,
    PORTAL_SECRET,
    REALM,
    add_member,
    pkce_pair,
    sign_in_for_code,
)

APP = "kosmo-app"
APP_SECRET = "kosmo-app-secret"


def exchange(client, code: str, verifier: str, redirect_uri: str = CALLBACK, auth=(PORTAL, PORTAL_SECRET), **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, **extra}
    return client.post(f"{OIDC}/token", data={k: v for k, v in data.items() if v is not None}, auth=auth)


def signed_in_tokens(client, database, settings) -> dict:
    """A member signs in at the portal, which exchanges the code: the token response."""
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    response = exchange(client, code, verifier)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def refresh(client, refresh_token: str, auth=(PORTAL, PORTAL_SECRET)):
    return client.post(f"{OIDC}/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                       auth=auth)


def claims_of(client, token: str) -> dict:
    keys = KeySet.import_key_set(client.get(f"{OIDC}/certs").get_json())
    return dict(jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims)


def assert_oauth_error(response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description
    assert response.headers["Cache-Control"] == "no-store"


def add_direct_access_client(database) -> None:
    """A confidential client allowed the password grant (Keycloak's direct access grants)."""
    with database.session() as session:
        realm = find_realm(session, REALM)
        config = realm_config(realm)
        app = config.clients[0].model_copy(update={
            "client_id": APP, "direct_access_grants": True, "standard_flow": False, "redirect_uris": [],
            "post_logout_redirect_uris": [], "pkce_required": False,
            "secret": config.clients[0].secret.model_copy(update={"env": "KOSMO_APP_SECRET", "default": APP_SECRET}),
        })
        save_realm(session, config.model_copy(update={"clients": [*config.clients, app]}), environ={})
        session.commit()


def password_grant(client, username: str = MEMBER_ID, password: str = MEMBER_PASSWORD, auth=(APP, APP_SECRET), **extra):
    return client.post(f"{OIDC}/token", auth=auth,
                       data={"grant_type": "password", "username": username, "password": password, **extra})


def introspect(client, token: str, auth=(PORTAL, PORTAL_SECRET)):
    return client.post(f"{OIDC}/token/introspect", data={"token": token}, auth=auth)


def logout_url(**params) -> str:
    return f"{OIDC}/logout?" + urlencode(params)


def set_reuse_policy(database, revoke: bool, max_reuse: int = 0) -> None:
    """The demo realm's Keycloak refresh token settings (revokeRefreshToken, refreshTokenMaxReuse)."""
    with database.session() as session:
        config = realm_config(find_realm(session, REALM))
        tokens = config.tokens.model_copy(update={"revoke_refresh_token": revoke, "refresh_token_max_reuse": max_reuse})
        save_realm(session, config.model_copy(update={"tokens": tokens}), environ={})


def set_client_scopes(database, client_id: str, default: list[str], optional: list[str]) -> None:
    """A client's Keycloak default and optional client scopes."""
    with database.session() as session:
        config = realm_config(find_realm(session, REALM))
        clients = [c.model_copy(update={"default_client_scopes": default, "optional_client_scopes": optional})
                   if c.client_id == client_id else c for c in config.clients]
        save_realm(session, config.model_copy(update={"clients": clients}), environ={})
