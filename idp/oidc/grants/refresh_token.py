"""The refresh token grant (RFC 6749 §6) with rotation, and reuse as the realm allows it
(`idp.oidc.refresh_reuse`; RFC 9700 §4.14)."""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from sqlalchemy import delete, update

from idp.db import db_session
from idp.db.models import ClientSession, RefreshTokenFamily, User
from idp.oidc import offline, refresh_reuse, sessions, tokens
from idp.oidc.grants.base import KeycloakTokensMixin
from idp.request_context import realm_request


class RefreshGrant(KeycloakTokensMixin, RefreshTokenGrant):
    """RFC 6749 §6 with rotation: a reuse the realm refuses ends the client's share of the SSO session."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    EVENT = "REFRESH_TOKEN"

    def authenticate_refresh_token(self, refresh_token):
        session = db_session()
        try:
            here = realm_request()
            claims = tokens.decode(session, here.realm, refresh_token, issuer=here.issuer, typ=("Refresh", "Offline"))
        except tokens.InvalidToken:
            raise InvalidGrantError("Invalid refresh token") from None
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked:
            raise InvalidGrantError("Token is not active")
        policy = realm_request().config.tokens
        refused = refresh_reuse.refusal(family, claims["jti"], policy)
        if refused:
            _end_client_session(family)
            session.commit()
            raise InvalidGrantError(refused)
        if family.offline_session_id is not None:
            self._find_offline_session(family)
        else:
            user_session = sessions.find_session(session, realm_request().realm, family.user_session_id)
            if user_session is None:
                session.commit()
                raise InvalidGrantError("Session not active")
            sessions.touch(user_session)
            self.request.user_session = user_session
        refresh_reuse.accept(family, claims["jti"], policy)
        self.request.token_family = family
        return RefreshTokenRecord(claims, family)

    def _find_offline_session(self, family: RefreshTokenFamily) -> None:
        """An offline token's session, alive whatever became of the SSO session it started from."""
        offline_session = offline.find(db_session(), realm_request().realm, family.offline_session_id)
        if offline_session is None:
            db_session().commit()
            raise InvalidGrantError("Offline session not active")  # Keycloak's words
        offline.touch(offline_session)
        self.request.offline_session = offline_session

    def authenticate_user(self, refresh_token):
        user = db_session().get(User, refresh_token.family.user_id)
        if user is None:
            raise InvalidGrantError("Invalid refresh token")
        if not user.enabled:
            raise InvalidGrantError("User disabled")  # Keycloak's words
        return user

    def revoke_old_credential(self, refresh_token):
        """Rotation already replaced the family's current token id in `issue_tokens`."""


def _end_client_session(family: RefreshTokenFamily) -> None:
    """Keycloak detaches the client's session from the SSO session on a refused reuse: every
    refresh token of that client in that session stops working; the member stays signed in.
    For an offline token, its offline session ends."""
    session = db_session()
    if family.offline_session_id is not None:
        offline.end(session, [family.offline_session_id])
        session.expunge(family)
        return
    same_client = (RefreshTokenFamily.user_session_id == family.user_session_id,
                   RefreshTokenFamily.client_id == family.client_id)
    session.execute(update(RefreshTokenFamily).where(*same_client).values(revoked=True))
    family.revoked = True
    session.execute(delete(ClientSession).where(ClientSession.user_session_id == family.user_session_id,
                                                ClientSession.client_id == family.client_id))


class RefreshTokenRecord:
    """A presented refresh token's claims and family, as Authlib's refresh grant reads them."""

    def __init__(self, claims: dict, family: RefreshTokenFamily):
        self.claims = claims
        self.family = family

    def check_client(self, client):
        return self.claims.get("azp") == client.client_id

    def get_scope(self):
        return self.claims.get("scope", "")
