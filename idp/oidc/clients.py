"""Registered clients as Authlib's server sees them, and how they prove who they are (RFC 6749 §2)."""
from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin

# The function Authlib itself registers for client_secret_basic; its module's __all__ leaves it out.
from authlib.oauth2.rfc6749.authenticate_client import (  # type: ignore[attr-defined]
    authenticate_client_secret_basic,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from idp.db.models import Client
from idp.oidc import tokens
from idp.realms import client_secret_matches
from idp.realms.redirect_patterns import origin_of, redirect_uri_matches, web_origin_allowed
from idp.request_context import realm_request


class RelyingParty(ClientMixin):
    """A registered client as Authlib sees it (RFC 6749 §2); redirect URIs are matched with
    Keycloak's patterns (`idp.realms.redirect_patterns`), and its switches say which grants (§4)
    it may use, as Keycloak's do."""

    def __init__(self, model: Client):
        self.model = model
        self.client_id = model.client_id

    def get_client_id(self):
        return self.model.client_id

    def get_default_redirect_uri(self):
        return None  # Keycloak requires redirect_uri in every authorization request

    def get_allowed_scope(self, scope):
        # Keycloak refuses a scope the client has neither as default nor as optional scope.
        if not set((scope or "").split()) <= tokens.allowed_scopes(self.model):
            return None
        return tokens.granted_scope(scope, self.model)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri_allowed(self.model, redirect_uri)

    def check_client_secret(self, client_secret):
        return client_secret_matches(self.model, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint == "token" and self.model.attributes.get("bearer_only"):
            return False  # Keycloak: invalid_client, "Bearer-only not allowed"; it may still introspect
        if self.model.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code" and self.model.standard_flow

    def check_grant_type(self, grant_type):
        allowed = {
            "authorization_code": self.model.standard_flow,
            "refresh_token": self.model.standard_flow or self.model.direct_access_grants,
            "password": self.model.direct_access_grants,
            "client_credentials": self.model.service_account,
        }
        return allowed.get(grant_type, False)


def server_origin() -> str:
    """The origin this realm is served on, against which path patterns (`/app/*`) are resolved."""
    return origin_of(realm_request().issuer)


def redirect_uri_allowed(client: Client, uri: str) -> bool:
    """Whether `uri` is one of the client's redirect URIs (authorization requests)."""
    return redirect_uri_matches(client.redirect_uris, uri, server_origin())


def post_logout_redirect_uri_allowed(client: Client, uri: str) -> bool:
    """Whether `uri` is one of the client's post-logout redirect URIs (RP-initiated logout)."""
    return redirect_uri_matches(client.post_logout_redirect_uris, uri, server_origin())


def origin_allowed(client: Client, origin: str) -> bool:
    """Whether a cross-origin request from `origin` may be answered for the client, as Keycloak's
    web origins decide (exact origins, `*`, and `+` for the origins of its redirect URIs)."""
    return web_origin_allowed(client.web_origins, client.redirect_uris, origin, server_origin())


def client_secret_basic(query_client, req):
    """RFC 6749 §2.3.1 as Authlib checks it, except that credentials which are not UTF-8 (Authlib
    lets their UnicodeDecodeError escape) or hold a NUL (no client has one, and PostgreSQL cannot
    compare text with it) name no client."""
    try:
        client_id, _secret = extract_basic_authorization(req.headers)
    except UnicodeDecodeError:
        return None
    if client_id and "\x00" in client_id:
        return None
    return authenticate_client_secret_basic(query_client, req)
