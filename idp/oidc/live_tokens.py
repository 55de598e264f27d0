"""Which presented tokens are still live: refresh families not revoked, access tokens not revoked,
sessions active, members enabled. Userinfo (OIDC Core §5.3), introspection and revocation ask here.
"""
from __future__ import annotations

import time

from idp.db import db_session
from idp.db.models import RefreshTokenFamily, User
from idp.db.revocations import access_token_revoked
from idp.oidc import refresh_reuse, sessions, tokens
from idp.request_context import realm_request


class LiveToken(dict):
    """A token's claims, with the checks Authlib's revocation and introspection ask for."""

    def check_client(self, client):
        return self.get("azp") == client.client_id

    def is_expired(self):
        return int(self.get("exp", 0)) <= time.time()

    def is_revoked(self):
        return False  # lookup_token only returns live tokens


def lookup_token(token: str) -> LiveToken | None:
    """The claims of a live access, ID or refresh token of this realm, else None."""
    session = db_session()
    try:
        here = realm_request()
        claims = tokens.decode(session, here.realm, token, issuer=here.issuer, typ=("Bearer", "Refresh", "ID"))
    except tokens.InvalidToken:
        return None
    if claims["typ"] == "Refresh":
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked or refresh_reuse.refusal(family, claims["jti"], here.config.tokens):
            return None
    elif access_token_revoked(session, claims["jti"]):
        return None
    if claims.get("sid") and sessions.find_session(session, realm_request().realm, claims["sid"]) is None:
        return None
    user = session.get(User, claims.get("sub", ""))
    if user is None or not user.enabled:
        return None  # as Keycloak's introspection: a disabled member's tokens are inactive
    return LiveToken(claims)
