"""Which presented tokens are still live: refresh families not revoked, access tokens not revoked,
sessions active, members enabled. Userinfo (OIDC Core §5.3), introspection and revocation ask here.
"""
from __future__ import annotations

import time

from idp.db import db_session
from idp.db.models import RefreshTokenFamily, User
from idp.db.revocations import access_token_revoked
from idp.oidc import offline, refresh_reuse, sessions, tokens
from idp.request_context import realm_request


class LiveToken(dict):
    """A token's claims, with the checks Authlib's revocation and introspection ask for."""

    def check_client(self, client):
        return self.get("azp") == client.client_id

    def is_expired(self):
        return "exp" in self and int(self["exp"]) <= time.time()  # an offline token has no `exp`

    def is_revoked(self):
        return False  # lookup_token only returns live tokens


def _session_alive(session_id: str) -> bool:
    """The token's SSO session, or the offline session an offline token's tokens belong to, is live."""
    session, realm = db_session(), realm_request().realm
    return (sessions.find_session(session, realm, session_id) or offline.find(session, realm, session_id)) is not None


def lookup_token(token: str) -> LiveToken | None:
    """The claims of a live access, ID or refresh token of this realm, else None."""
    session = db_session()
    try:
        here = realm_request()
        claims = tokens.decode(session, here.realm, token, issuer=here.issuer,
                               typ=("Bearer", "Refresh", "Offline", "ID"))
    except tokens.InvalidToken:
        return None
    if claims["typ"] in ("Refresh", "Offline"):
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked or refresh_reuse.refusal(family, claims["jti"], here.config.tokens):
            return None
    elif access_token_revoked(session, claims["jti"]):
        return None
    if claims.get("sid") and not _session_alive(claims["sid"]):
        return None
    user = session.get(User, claims.get("sub", ""))
    if user is None or not user.enabled:
        return None  # as Keycloak's introspection: a disabled member's tokens are inactive
    return LiveToken(claims)
