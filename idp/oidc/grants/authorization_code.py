"""The authorization code grant (RFC 6749 §4.1): codes kept single use in the ephemeral store,
and the authorization request replayed once the member has signed in."""
from __future__ import annotations

import hashlib

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from idp.db import db_session
from idp.db.models import RefreshTokenFamily, User, UserSession
from idp.db.revocations import revoke_access_token
from idp.ephemeral import ephemeral, keys
from idp.oidc import sessions
from idp.oidc.grants.base import GrantRequest, KeycloakTokensMixin
from idp.request_context import realm_request


class StoredAuthorizationRequest(GrantRequest):
    """An authorization request (RFC 6749 §4.1.1) saved in an auth session, replayed after the
    member signs in."""

    def __init__(self, args: dict, uri: str):
        super().__init__("GET", uri)
        self._args = args
        self.payload = BasicOAuth2Payload(args)

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return {}


class AuthorizationCode(dict):
    """A code's stored request (RFC 6749 §4.1.2), as Authlib's code mixins read it."""

    def get_redirect_uri(self):
        return self["redirect_uri"]

    def get_scope(self):
        return self["scope"]

    def get_nonce(self):
        return self.get("nonce")

    def get_auth_time(self):
        return self.get("auth_time")

    def get_acr(self):
        return "1"

    def get_amr(self):
        return None


class CodeGrant(KeycloakTokensMixin, AuthorizationCodeGrant):
    """RFC 6749 §4.1 with PKCE (RFC 7636, see `pkce`); codes live in the ephemeral store and are
    single use. The redirect back carries `iss` (RFC 9207 §2) and `session_state` (OpenID Connect
    Session Management §2), as Keycloak's does."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    EVENT = "CODE_TO_TOKEN"

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        # Authlib repeats an unregistered URI in its error description, which RFC 6749 §4.1.2.1
        # limits to printable ASCII, and raises ValueError for anything else: say it as Keycloak does.
        if request.payload.redirect_uri and not client.check_redirect_uri(request.payload.redirect_uri):
            raise InvalidRequestError("Invalid parameter: redirect_uri", state=request.payload.state)
        return AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    def event_details(self) -> dict:
        # A digest, never the code: it still ties the event to a replayed code's reports.
        code = self.request.payload.data.get("code") or ""
        return {"code_id": hashlib.sha256(code.encode()).hexdigest()[:16]}

    def save_authorization_code(self, code, req):
        user_session: UserSession = req.user_session
        data = req.payload.data
        stored = {
            "client_id": req.client.client_id, "redirect_uri": req.payload.redirect_uri, "scope": req.scope,
            "user_id": req.user.id, "session_id": user_session.id, "auth_time": user_session.auth_time,
            "nonce": data.get("nonce"), "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
        }
        ttl = realm_request().config.tokens.access_code_lifespan
        ephemeral().put(keys.authorization_code(realm_request().realm.id, code), stored, ttl)

    def query_authorization_code(self, code, client):
        stored = ephemeral().take(keys.authorization_code(realm_request().realm.id, code))
        if stored is None:
            _revoke_what_the_code_issued(code)
            raise InvalidGrantError("Code not valid")
        # Marked before anything is issued, so a replay racing this exchange is refused too.
        _remember_code_use(code, {}, realm_request().config.tokens.access_code_lifespan)
        self.request.code_presented = code
        if stored["client_id"] != client.client_id:
            raise InvalidGrantError("Code not valid")
        return AuthorizationCode(stored)

    def save_token(self, token):
        family: RefreshTokenFamily | None = getattr(self.request, "token_family", None)
        issued = {"family_id": family.id if family else None, "access_token_jti": self.request.access_token_jti,
                  "access_token_expires_in": token["expires_in"]}
        _remember_code_use(self.request.code_presented, issued,
                           max(token["refresh_expires_in"], token["expires_in"]))

    def delete_authorization_code(self, authorization_code):
        """Already gone: `query_authorization_code` took it out of the store."""

    def authenticate_user(self, authorization_code):
        session = db_session()
        user_session = sessions.find_session(session, realm_request().realm, authorization_code["session_id"])
        if user_session is None:
            raise InvalidGrantError("Session not active")
        self.request.user_session = user_session
        sessions.attach_client(session, user_session, self.request.client.model)
        return session.get(User, authorization_code["user_id"])

    def create_authorization_response(self, redirect_uri, grant_user):
        status, body, headers = super().create_authorization_response(redirect_uri, grant_user)
        location = dict(headers)["Location"]
        assert self.request.user_session is not None  # a code is granted only to a signed-in member
        extra = [("session_state", self.request.user_session.id), ("iss", realm_request().issuer),
                 *getattr(self.request, "extra_params", {}).items()]
        return status, body, [("Location", add_params_to_uri(location, extra))]


def _remember_code_use(code: str, issued: dict, ttl: int) -> None:
    """Keep what the code's first use issued, for `_revoke_what_the_code_issued` when it comes back."""
    ephemeral().put(keys.redeemed_code(realm_request().realm.id, code), issued, max(ttl, 1))


def _revoke_what_the_code_issued(code: str) -> None:
    """RFC 6749 §4.1.2: a code used twice revokes the tokens its first use issued.

    The refresh token family is revoked; the first access token is revoked too, which userinfo,
    introspection and revocation consult. (Access tokens refreshed from the family later stay
    valid until they expire, minutes at most.)
    """
    issued = ephemeral().get(keys.redeemed_code(realm_request().realm.id, code))
    if not issued:
        return
    session = db_session()
    family = session.get(RefreshTokenFamily, issued.get("family_id") or "")
    if family is not None:
        family.revoked = True
    if issued.get("access_token_jti"):
        revoke_access_token(session, issued["access_token_jti"], issued.get("access_token_expires_in", 0))
    session.commit()
