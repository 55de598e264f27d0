"""What every grant shares: Keycloak-shaped token responses (RFC 6749 §5.1), issued and saved
with their audit event in one commit, and the lifespans Keycloak gives them."""
from __future__ import annotations

import secrets
import time
from datetime import timedelta

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from flask import request

from idp import events
from idp.db import db_session
from idp.db.models import OfflineSession, RefreshTokenFamily, User, UserSession, utcnow
from idp.oidc import offline, sessions, tokens
from idp.oidc.clients import RelyingParty
from idp.request_context import realm_request


class GrantRequest(OAuth2Request):
    """Authlib's request as our grants see it: the client and member Authlib has authenticated before
    any grant hook runs, and what one hook hands the next (the SSO session, the refresh token family,
    the code presented, the access token's id)."""

    client: RelyingParty
    user: User
    payload: OAuth2Payload  # Authlib sets it when it builds the request
    user_session: UserSession | None = None
    offline_session: OfflineSession | None = None  # an offline token's (idp.oidc.offline)
    token_family: RefreshTokenFamily | None = None
    code_presented = ""
    access_token_jti = ""
    issued_at = 0


class TokenRequest(FlaskOAuth2Request, GrantRequest):
    """A token endpoint request (RFC 6749 §3.2)."""

    payload: FlaskOAuth2Payload


def _lifespans(user_session: UserSession | None) -> tuple[int, int]:
    """(access token lifespan, refresh token lifespan) as Keycloak computes them."""
    config = realm_request().config.tokens
    if user_session is None:
        return config.access_token_lifespan, 0
    idle, longest = sessions.lifetimes(realm_request().realm, user_session.remember_me)
    left = longest - int((utcnow() - user_session.started_at).total_seconds())
    return min(config.access_token_lifespan, max(left, 1)), max(min(idle, left), 1)


def _offline_session(grant_request: GrantRequest, scope: str) -> OfflineSession | None:
    """The offline session the tokens belong to: the one refreshed, or a new one when
    `offline_access` is granted (the client has the scope: `RelyingParty.get_allowed_scope`)."""
    found = grant_request.offline_session
    if found is None and grant_request.user_session is not None and offline.OFFLINE_ACCESS in scope.split():
        found = offline.start(db_session(), grant_request.user_session, grant_request.client.model)
        grant_request.offline_session = found
    return found


def issue_tokens(grant_request: GrantRequest, user: User, scope: str, include_refresh_token: bool) -> dict:
    """The token response (RFC 6749 §5.1) with Keycloak's fields (`refresh_expires_in`,
    `not-before-policy`, `session_state`), a signed access token, a rotated refresh token
    (an offline token, with `refresh_expires_in` 0 as Keycloak's, for `offline_access`)."""
    session, realm = db_session(), realm_request().realm
    online = grant_request.user_session
    offline_session = _offline_session(grant_request, scope)
    user_session: UserSession | OfflineSession | None = offline_session or online
    ctx = tokens.TokenContext(realm_request().issuer, realm, grant_request.client.model, user, scope, user_session)
    now = int(time.time())
    if offline_session is None:
        access_lifespan, refresh_lifespan = _lifespans(online)
    else:
        access_lifespan, refresh_lifespan = realm_request().config.tokens.access_token_lifespan, 0
    access_claims = tokens.access_token_claims(ctx, access_lifespan, now)
    grant_request.access_token_jti = access_claims["jti"]
    token = {
        "access_token": tokens.sign(session, realm, access_claims),
        "expires_in": access_lifespan,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": realm.not_before,
        "scope": scope,
    }
    if include_refresh_token and user_session is not None:
        family = _rotate_family(grant_request, ctx, refresh_lifespan, now)
        grant_request.token_family = family
        claims = tokens.refresh_token_claims(ctx, refresh_lifespan, now, family_id=family.id, jti=family.current_jti)
        token["refresh_token"] = tokens.sign(session, realm, claims)
        token["refresh_expires_in"] = refresh_lifespan
    if user_session is not None:
        token["session_state"] = user_session.id
    grant_request.issued_at = now
    return token


def _rotate_family(grant_request: GrantRequest, ctx: tokens.TokenContext, lifespan: int, now: int
                   ) -> RefreshTokenFamily:
    """The request's refresh token family (a new one for a new grant) with a fresh current token id."""
    family = grant_request.token_family
    offline_session = ctx.user_session if isinstance(ctx.user_session, OfflineSession) else None
    if offline_session is not None:
        lifespan = realm_request().config.tokens.offline_session_idle_timeout
    if family is None:
        assert ctx.user_session is not None  # issue_tokens rotates a family only within an SSO session
        family = RefreshTokenFamily(
            realm_id=ctx.realm.id, user_id=ctx.user.id, client_id=ctx.client.id,
            user_session_id=None if offline_session else ctx.user_session.id,
            offline_session_id=offline_session.id if offline_session else None, scope=ctx.scope, current_jti="",
            expires_at=utcnow() + timedelta(seconds=lifespan),
        )
        db_session().add(family)
        db_session().flush()
    family.current_jti = secrets.token_urlsafe(24)
    family.expires_at = utcnow() + timedelta(seconds=lifespan)
    return family


class KeycloakTokensMixin(BaseGrant, TokenEndpointMixin):
    """Every grant issues Keycloak-shaped tokens and saves its changes, with its audit event, in one
    commit made once the whole answer is: a request answered with an error changed nothing, and
    nothing after the commit can fail the answer (so a client's retry is never taken for reuse)."""

    EVENT = ""  # Keycloak's event type for a granted token
    request: GrantRequest

    def create_token_response(self):
        answer = super().create_token_response()  # Authlib's steps, then its hooks: the ID token
        db_session().commit()
        return answer

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        # Authlib names no user for client credentials (RFC 6749 §4.4): the grant put the service
        # account in the request.
        user = user or self.request.user
        token = issue_tokens(self.request, user, tokens.granted_scope(scope, self.request.client.model),
                             include_refresh_token)
        self.record_event(token)
        return token

    def save_token(self, token):
        """Kept in the session, committed by `create_token_response`: Authlib adds the ID token
        (OIDC Core §3.1.3.3) only after this, and it reads the signing keys again."""

    def record_event(self, token: dict) -> None:
        req = self.request
        user_session, family = req.offline_session or req.user_session, req.token_family
        events.record(
            db_session(), realm_request().realm.id, self.EVENT, user_id=getattr(req.user, "id", None),
            client_id=req.client.client_id, session_id=user_session.id if user_session else None,
            ip_address=request.remote_addr or "", grant_type=self.GRANT_TYPE, scope=token.get("scope"),
            client_auth_method=getattr(req, "auth_method", None),
            refresh_token_family=family.id if family else None, **self.event_details(),
        )

    def event_details(self) -> dict:
        return {}


class KnownScopesOnly(BaseGrant):
    """A token request that names a scope Keycloak does not know is refused (RFC 6749 §5.2
    `invalid_scope`), for grants whose scope no authorization request has checked before."""

    request: GrantRequest

    def validate_requested_scope(self):
        if self.request.payload.scope and self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError()
