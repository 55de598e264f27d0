"""The token revocation (RFC 7009) and introspection (RFC 7662) endpoints, as Keycloak answers them."""
from __future__ import annotations

import time

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.db import db_session
from idp.db.models import RefreshTokenFamily
from idp.db.revocations import revoke_access_token
from idp.oidc import offline
from idp.oidc.live_tokens import lookup_token


class Revocation(RevocationEndpoint):
    """RFC 7009 §2: a refresh token revokes its family, an offline token its offline session (as
    Keycloak's); an access token is refused until it expires."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return lookup_token(token_string)

    def revoke_token(self, token, req):
        session = db_session()
        if token["typ"] in ("Refresh", "Offline"):
            family = session.get(RefreshTokenFamily, token["fam"])
            if family is not None and family.offline_session_id:
                offline.end(session, [family.offline_session_id])
            elif family is not None:  # a family gone already leaves nothing to revoke
                family.revoked = True
        else:
            revoke_access_token(session, token["jti"], token["exp"] - time.time())
        session.commit()


class Introspection(IntrospectionEndpoint):
    """RFC 7662 §2, answering with the token's claims as Keycloak does."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return lookup_token(token_string)

    def check_permission(self, token, client, req):
        return True

    def introspect_token(self, token):
        answer = dict(token)
        answer.update(active=True, client_id=token.get("azp"), token_type=token.get("typ"))
        if "preferred_username" in token:
            answer["username"] = token["preferred_username"]
        return answer
