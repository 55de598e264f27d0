"""The refresh token grant (RFC 6749 §6) with rotation: each refresh token is used once (RFC 9700 §4.14)."""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant

from idp.db import db_session
from idp.db.models import RefreshTokenFamily, User
from idp.oidc import sessions, tokens
from idp.oidc.grants.base import KeycloakTokensMixin
from idp.request_context import realm_request


class RefreshGrant(KeycloakTokensMixin, RefreshTokenGrant):
    """RFC 6749 §6 with rotation: reusing a rotated refresh token revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    EVENT = "REFRESH_TOKEN"

    def authenticate_refresh_token(self, refresh_token):
        session = db_session()
        try:
            here = realm_request()
            claims = tokens.decode(session, here.realm, refresh_token, issuer=here.issuer, typ="Refresh")
        except tokens.InvalidToken:
            raise InvalidGrantError("Invalid refresh token") from None
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked:
            raise InvalidGrantError("Token is not active")
        if family.current_jti != claims["jti"]:
            family.revoked = True
            session.commit()
            raise InvalidGrantError("Maximum allowed refresh token reuse exceeded")
        user_session = sessions.find_session(session, realm_request().realm, family.user_session_id)
        if user_session is None:
            session.commit()
            raise InvalidGrantError("Session not active")
        sessions.touch(user_session)
        self.request.user_session = user_session
        self.request.token_family = family
        return RefreshTokenRecord(claims, family)

    def authenticate_user(self, refresh_token):
        user = db_session().get(User, refresh_token.family.user_id)
        if user is None:
            raise InvalidGrantError("Invalid refresh token")
        if not user.enabled:
            raise InvalidGrantError("User disabled")  # Keycloak's words
        return user

    def revoke_old_credential(self, refresh_token):
        """Rotation already replaced the family's current token id in `issue_tokens`."""


class RefreshTokenRecord:
    """A presented refresh token's claims and family, as Authlib's refresh grant reads them."""

    def __init__(self, claims: dict, family: RefreshTokenFamily):
        self.claims = claims
        self.family = family

    def check_client(self, client):
        return self.claims.get("azp") == client.client_id

    def get_scope(self):
        return self.claims.get("scope", "")
