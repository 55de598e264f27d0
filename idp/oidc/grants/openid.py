"""OpenID Connect on top of the grants: the ID token in the token response (OIDC Core §3.1.3.3, §12.2)
as Keycloak shapes it."""
from __future__ import annotations

from authlib.oidc.core import OpenIDCode, OpenIDToken

from idp.db import db_session
from idp.oidc import tokens
from idp.request_context import realm_request


class KeycloakIdToken:
    """ID tokens (OIDC Core §2, `at_hash` §3.1.3.6) shaped as Keycloak's (`typ: ID`, `sid`, ...)."""

    def encode_id_token(self, token, req):
        session = db_session()
        user_session = getattr(req, "offline_session", None) or getattr(req, "user_session", None)
        here = realm_request()
        ctx = tokens.TokenContext(here.issuer, here.realm, req.client.model, req.user, token["scope"], user_session)
        nonce = req.authorization_code.get_nonce() if req.authorization_code else None
        algorithm = tokens.signing_algorithm(session, realm_request().realm)
        claims = tokens.id_token_claims(ctx, token["expires_in"], req.issued_at, nonce=nonce,
                                        access_token=token["access_token"], algorithm=algorithm)
        return tokens.sign(session, realm_request().realm, claims)

    def generate_user_info(self, user, scope):
        return tokens.profile_claims(user, scope, realm_request().realm)


class OpenIDForCode(KeycloakIdToken, OpenIDCode):
    """The authorization code flow's ID token (OIDC Core §3.1.3.3)."""

    def exists_nonce(self, nonce, req):
        # The nonce protects the relying party, which compares it with the ID token's; like
        # Keycloak we pass it through. (The request is validated twice: before and after sign-in.)
        return False


class OpenIDForOtherGrants(KeycloakIdToken, OpenIDToken):
    """ID tokens for the refresh (OIDC Core §12.2) and password grants, as Keycloak issues them."""
