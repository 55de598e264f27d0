"""Authlib's authorization server put together: one server for every realm, with our client
lookup, grants (idp.oidc.grants) and endpoints. The realm of a request is
`idp.request_context.realm_request()`."""
from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from flask import Request, request

from idp.db import db_session
from idp.oidc.clients import RelyingParty, client_secret_basic
from idp.oidc.endpoints import Introspection, Revocation
from idp.oidc.grants.authorization_code import CodeGrant
from idp.oidc.grants.base import TokenRequest
from idp.oidc.grants.client_credentials import ServiceAccountGrant
from idp.oidc.grants.openid import OpenIDForCode, OpenIDForOtherGrants
from idp.oidc.grants.password import PasswordGrant
from idp.oidc.grants.pkce import PkceForClient
from idp.oidc.grants.refresh_token import RefreshGrant
from idp.realms import find_client
from idp.request_context import realm_request


class AddressedByBaseUrl(TokenRequest):
    """Authlib's request at its address under IDP_BASE_URL, not under the Host header the client
    sent. The issuer comes from that setting, and so does whether the transport is secure (RFC 6749
    §3.2 asks for TLS): a Host naming another server over plain HTTP (Authlib refused it as
    insecure, a 500) or TLS ended at a proxy in front says nothing either way."""

    def __init__(self, flask_request: Request, base_url: str):
        # FlaskOAuth2Request's own __init__ takes the address from the request; the rest is the same.
        address = base_url.rstrip("/") + flask_request.full_path.rstrip("?")
        headers = cast(Mapping[str, str], flask_request.headers)  # Werkzeug's Headers, as Authlib's own passes
        OAuth2Request.__init__(self, flask_request.method, address, headers=headers)
        self._request = flask_request
        self.payload = FlaskOAuth2Payload(flask_request)


class KeycloakAuthorizationServer(AuthorizationServer):
    """One server for every realm; `realm_request().realm` says which one a request is for."""

    def query_client(self, client_id):
        model = find_client(db_session(), realm_request().realm, client_id)
        return RelyingParty(model) if model is not None else None

    def save_token(self, token, req):
        db_session().commit()

    def create_oauth2_request(self, req):
        # An authorization request replayed after sign-in (a StoredAuthorizationRequest) is one already.
        if isinstance(req, OAuth2Request):
            return req
        return AddressedByBaseUrl(request, realm_request().settings.base_url)

    def handle_response(self, status_code, payload, headers):
        """Every answer is JSON that no cache keeps (RFC 6749 §5.1)."""
        response = super().handle_response(status_code, payload, headers)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        if isinstance(payload, dict) and "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        return response


def create_server(app) -> KeycloakAuthorizationServer:
    """The server with Keycloak's client authentication, grants and endpoints registered."""
    server = KeycloakAuthorizationServer()
    server.init_app(app)
    server.register_client_auth_method("client_secret_basic", client_secret_basic)
    server.register_grant(CodeGrant, [PkceForClient(required=True), OpenIDForCode(require_nonce=False)])
    server.register_grant(RefreshGrant, [OpenIDForOtherGrants()])
    server.register_grant(PasswordGrant, [OpenIDForOtherGrants()])
    server.register_grant(ServiceAccountGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
