"""Authlib's authorization server wired to our realms, clients, sessions and Keycloak tokens.

Authlib validates requests and runs the grants (RFC 6749 §4.1, §4.3, §4.4, §6; RFC 7636;
RFC 7009; RFC 7662; OIDC Core §3.1); this module supplies storage and token shapes. The realm
of the current request is in `flask.g` (set by the OIDC blueprint).
"""
from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceOwnerPasswordCredentialsGrant,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode, OpenIDToken
from flask import g, request
from sqlalchemy import select

from idp import events
from idp.db import db_session
from idp.db.users import check_password, find_user
from idp.db.models import Client, RefreshTokenFamily, User, UserSession, utcnow
from idp.ephemeral import ephemeral
from idp.oidc import sessions, tokens
from idp.realms import client_secret_matches, find_client, realm_config
from idp.security.brute_force import SignInAttempt, StepGuard
from idp.security.passwords import dummy_verify

ACCESS_TOKEN_DENYLIST = "revoked-access-token:"


class RelyingParty(ClientMixin):
    """A registered client as Authlib sees it; redirect URIs are matched exactly."""

    def __init__(self, model: Client):
        self.model = model
        self.client_id = model.client_id

    def get_client_id(self):
        return self.model.client_id

    def get_default_redirect_uri(self):
        return None  # Keycloak requires redirect_uri in every authorization request

    def get_allowed_scope(self, scope):
        requested = (scope or "").split()
        if any(not tokens.is_known_scope(item) for item in requested):
            return None
        return tokens.granted_scope(scope)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.model.redirect_uris

    def check_client_secret(self, client_secret):
        return client_secret_matches(self.model, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
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


class StoredAuthorizationRequest(OAuth2Request):
    """An authorization request saved in an auth session, replayed after the member signs in."""

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
    """A code's stored request, as Authlib's code mixins read it."""

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


def _lifespans(user_session: UserSession | None) -> tuple[int, int]:
    """(access token lifespan, refresh token lifespan) as Keycloak computes them."""
    config = g.realm_config.tokens
    if user_session is None:
        return config.access_token_lifespan, 0
    idle, longest = sessions.lifetimes(g.realm, user_session.remember_me)
    left = longest - int((utcnow() - user_session.started_at).total_seconds())
    return min(config.access_token_lifespan, max(left, 1)), max(min(idle, left), 1)


def issue_tokens(grant_request, user: User, scope: str, include_refresh_token: bool) -> dict:
    """The token response: Keycloak's fields, a signed access token, a rotated refresh token."""
    session, realm = db_session(), g.realm
    user_session: UserSession | None = getattr(grant_request, "user_session", None)
    ctx = tokens.TokenContext(g.issuer, realm, grant_request.client.model, user, scope, user_session)
    now = int(time.time())
    access_lifespan, refresh_lifespan = _lifespans(user_session)
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


def _rotate_family(grant_request, ctx: tokens.TokenContext, lifespan: int, now: int) -> RefreshTokenFamily:
    family: RefreshTokenFamily | None = getattr(grant_request, "token_family", None)
    if family is None:
        family = RefreshTokenFamily(
            realm_id=ctx.realm.id, user_id=ctx.user.id, client_id=ctx.client.id,
            user_session_id=ctx.user_session.id, scope=ctx.scope, current_jti="",
            expires_at=utcnow() + timedelta(seconds=lifespan),
        )
        db_session().add(family)
        db_session().flush()
    family.current_jti = secrets.token_urlsafe(24)
    family.expires_at = utcnow() + timedelta(seconds=lifespan)
    return family


class KeycloakTokensMixin:
    """Every grant issues Keycloak-shaped tokens and saves its changes, with its audit event, in one commit."""

    EVENT = ""  # Keycloak's event type for a granted token

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        token = issue_tokens(self.request, user, tokens.granted_scope(scope), include_refresh_token)
        self.record_event(token)  # committed with the token's changes by `save_token`
        return token

    def save_token(self, token):
        db_session().commit()

    def record_event(self, token: dict) -> None:
        req = self.request
        user_session: UserSession | None = getattr(req, "user_session", None)
        family: RefreshTokenFamily | None = getattr(req, "token_family", None)
        events.record(
            db_session(), g.realm.id, self.EVENT, user_id=req.user.id if req.user else None,
            client_id=req.client.client_id, session_id=user_session.id if user_session else None,
            ip_address=request.remote_addr or "", grant_type=self.GRANT_TYPE, scope=token.get("scope"),
            client_auth_method=getattr(req, "auth_method", None),
            refresh_token_family=family.id if family else None, **self.event_details(),
        )

    def event_details(self) -> dict:
        return {}


class CodeGrant(KeycloakTokensMixin, AuthorizationCodeGrant):
    """RFC 6749 §4.1 with PKCE (RFC 7636); codes live in the ephemeral store and are single use."""

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
        ttl = g.realm_config.tokens.access_code_lifespan
        ephemeral().put(f"code:{g.realm.id}:{code}", stored, ttl)

    def query_authorization_code(self, code, client):
        stored = ephemeral().take(f"code:{g.realm.id}:{code}")
        if stored is None:
            _revoke_what_the_code_issued(code)
            raise InvalidGrantError("Code not valid")
        # Marked before anything is issued, so a replay racing this exchange is refused too.
        _remember_code_use(code, {}, g.realm_config.tokens.access_code_lifespan)
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
        db_session().commit()

    def delete_authorization_code(self, authorization_code):
        """Already gone: `query_authorization_code` took it out of the store."""

    def authenticate_user(self, authorization_code):
        session = db_session()
        user_session = sessions.find_session(session, g.realm, authorization_code["session_id"])
        if user_session is None:
            raise InvalidGrantError("Session not active")
        self.request.user_session = user_session
        sessions.attach_client(session, user_session, self.request.client.model)
        return session.get(User, authorization_code["user_id"])

    def create_authorization_response(self, redirect_uri, grant_user):
        status, body, headers = super().create_authorization_response(redirect_uri, grant_user)
        location = dict(headers)["Location"]
        from authlib.common.urls import add_params_to_uri

        extra = [("session_state", self.request.user_session.id), ("iss", g.issuer),
                 *getattr(self.request, "extra_params", {}).items()]
        return status, body, [("Location", add_params_to_uri(location, extra))]


def _remember_code_use(code: str, issued: dict, ttl: int) -> None:
    ephemeral().put(f"code-used:{g.realm.id}:{code}", issued, max(ttl, 1))


def _revoke_what_the_code_issued(code: str) -> None:
    """RFC 6749 §4.1.2: a code used twice revokes the tokens its first use issued.

    The refresh token family is revoked; the first access token goes on the denylist that
    userinfo, introspection and revocation consult. (Access tokens refreshed from the family
    later stay valid until they expire, minutes at most.)
    """
    issued = ephemeral().get(f"code-used:{g.realm.id}:{code}")
    if not issued:
        return
    family = db_session().get(RefreshTokenFamily, issued.get("family_id") or "")
    if family is not None:
        family.revoked = True
        db_session().commit()
    if issued.get("access_token_jti"):
        ephemeral().put(ACCESS_TOKEN_DENYLIST + issued["access_token_jti"], {},
                        max(int(issued.get("access_token_expires_in", 0)), 1))


class PkceForClient(CodeChallenge):
    """PKCE as the client requires it: always for public clients, per client otherwise."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        client: RelyingParty = grant.request.client
        if client.model.pkce_required and not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing parameter: code_challenge_method", redirect_uri=redirect_uri)
        return super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.get("code_challenge")

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.get("code_challenge_method")


class KeycloakIdToken:
    """ID tokens shaped as Keycloak's (`typ: ID`, `sid`, `at_hash`, ...)."""

    def encode_id_token(self, token, req):
        session = db_session()
        user_session = getattr(req, "user_session", None)
        ctx = tokens.TokenContext(g.issuer, g.realm, req.client.model, req.user, token["scope"], user_session)
        nonce = req.authorization_code.get_nonce() if req.authorization_code else None
        algorithm = tokens.signing_algorithm(session, g.realm)
        claims = tokens.id_token_claims(ctx, token["expires_in"], req.issued_at, nonce=nonce,
                                        access_token=token["access_token"], algorithm=algorithm)
        return tokens.sign(session, g.realm, claims)

    def generate_user_info(self, user, scope):
        return tokens.profile_claims(user, scope)


class OpenIDForCode(KeycloakIdToken, OpenIDCode):
    def exists_nonce(self, nonce, req):
        # The nonce protects the relying party, which compares it with the ID token's; like
        # Keycloak we pass it through. (The request is validated twice: before and after sign-in.)
        return False


class OpenIDForOtherGrants(KeycloakIdToken, OpenIDToken):
    """ID tokens for the refresh and password grants, as Keycloak issues them."""


class RefreshGrant(KeycloakTokensMixin, RefreshTokenGrant):
    """RFC 6749 §6 with rotation: reusing a rotated refresh token revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    EVENT = "REFRESH_TOKEN"

    def authenticate_refresh_token(self, refresh_token):
        session = db_session()
        try:
            claims = tokens.decode(session, g.realm, refresh_token, issuer=g.issuer, typ="Refresh")
        except tokens.InvalidToken:
            raise InvalidGrantError("Invalid refresh token") from None
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked:
            raise InvalidGrantError("Token is not active")
        if family.current_jti != claims["jti"]:
            family.revoked = True
            session.commit()
            raise InvalidGrantError("Maximum allowed refresh token reuse exceeded")
        user_session = sessions.find_session(session, g.realm, family.user_session_id)
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
    def __init__(self, claims: dict, family: RefreshTokenFamily):
        self.claims = claims
        self.family = family

    def check_client(self, client):
        return self.claims.get("azp") == client.client_id

    def get_scope(self):
        return self.claims.get("scope", "")


class InvalidUserCredentials(InvalidGrantError):
    """Keycloak answers a wrong user ID or password with 401, not RFC 6749's 400; clients written
    for Keycloak (python-keycloak's KeycloakAuthenticationError) depend on it."""

    status_code = 401

    def __init__(self):
        super().__init__("Invalid user credentials")


class PasswordGrant(KeycloakTokensMixin, ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 §4.3, only for clients with direct access grants on (Keycloak's errors)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    EVENT = "LOGIN"

    def event_details(self) -> dict:
        return {"auth_method": "openid-connect", "username": self.request.user.username}

    def authenticate_token_endpoint_client(self):
        # Known before the user is checked, so a refused sign-in's event names its client.
        self.request.client = super().authenticate_token_endpoint_client()
        return self.request.client

    def authenticate_user(self, username, password):
        session, settings = db_session(), g.settings
        user = find_user(session, g.realm, username)
        # The sign-in page's guard: its counts, so a locked user ID, known or not, is not checked.
        member = user if user is not None and not user.service_account_client_id else None
        guard = StepGuard(self._attempt(member), "password", member=member, login=username)
        locked = guard.lockout_error()
        if locked:
            dummy_verify(password, settings)
            self._refuse(user, locked, username)
            raise InvalidUserCredentials()
        if user is None:
            dummy_verify(password, settings)
            self._refuse(None, "user_not_found", username)
            self._count_failure(guard, username)
            raise InvalidUserCredentials()
        if not check_password(session, user, password, settings):
            self._refuse(user, "invalid_user_credentials", username)
            self._count_failure(guard, username)
            raise InvalidUserCredentials()
        guard.succeeded()
        if not user.enabled:
            self._refuse(user, "user_disabled", username)
            raise InvalidGrantError("Account disabled")
        if user.required_actions or any(c.temporary for c in user.credentials if c.type == "password"):
            self._refuse(user, "resolve_required_actions", username)
            raise InvalidGrantError("Account is not fully set up")
        return user

    def _attempt(self, member: User | None) -> SignInAttempt:
        """This request as the guard sees it; its events name the member, the client and the address."""
        ip_address, client_id = request.remote_addr or "", self.request.client.client_id

        def record_event(type: str, user_id: str | None = None, **details) -> None:
            events.record(db_session(), g.realm.id, type, user_id=user_id or (member.id if member else None),
                          client_id=client_id, ip_address=ip_address, **details)

        return SignInAttempt(realm=g.realm, config=g.realm_config, store=ephemeral(), user=member,
                             ip_address=ip_address, now=utcnow(), record_event=record_event)

    @staticmethod
    def _count_failure(guard: StepGuard, username: str) -> None:
        """Count the failure; a lock it starts is reported (and a permanent one disables the member)."""
        if guard.failed(username=username[:255]).lock_started:
            db_session().commit()

    def _refuse(self, user: User | None, error: str, username: str) -> None:
        """Keep a LOGIN_ERROR (Keycloak's error names) while nothing else of the refused request is kept."""
        session = db_session()
        session.rollback()
        events.record(session, g.realm.id, "LOGIN_ERROR", user_id=user.id if user else None,
                      client_id=self.request.client.client_id, ip_address=request.remote_addr or "", error=error,
                      grant_type=self.GRANT_TYPE, auth_method="openid-connect", username=username[:255])
        session.commit()

    def create_token_response(self):
        # Only now is the client known to Authlib's request and the requested scope checked.
        session = db_session()
        self.request.user_session = sessions.start_session(
            session, g.realm, self.request.user, remember_me=False, ip_address=request.remote_addr or ""
        )
        sessions.attach_client(session, self.request.user_session, self.request.client.model)
        return super().create_token_response()

    def validate_requested_scope(self):
        if self.request.payload.scope and self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError()


class ServiceAccountGrant(KeycloakTokensMixin, ClientCredentialsGrant):
    """RFC 6749 §4.4: the token speaks for the client's `service-account-<client>` user."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    EVENT = "CLIENT_LOGIN"

    def event_details(self) -> dict:
        return {"username": self.request.user.username}

    def create_token_response(self):
        model = self.request.client.model
        username = f"service-account-{model.client_id}".lower()
        user = db_session().scalar(select(User).where(User.realm_id == g.realm.id, User.username == username))
        if user is None:
            raise InvalidGrantError("Client has no service account")
        self.request.user = user
        scope = tokens.granted_scope(self.request.payload.scope)
        token = self.generate_token(user, scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def validate_requested_scope(self):
        if self.request.payload.scope and self.request.client.get_allowed_scope(self.request.payload.scope) is None:
            raise InvalidScopeError()


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
        claims = tokens.decode(session, g.realm, token, issuer=g.issuer, typ=("Bearer", "Refresh", "ID"))
    except tokens.InvalidToken:
        return None
    if claims["typ"] == "Refresh":
        family = session.get(RefreshTokenFamily, claims.get("fam", ""))
        if family is None or family.revoked or family.current_jti != claims["jti"]:
            return None
    elif ephemeral().get(ACCESS_TOKEN_DENYLIST + claims["jti"]) is not None:
        return None
    if claims.get("sid") and sessions.find_session(session, g.realm, claims["sid"]) is None:
        return None
    user = session.get(User, claims.get("sub", ""))
    if user is None or not user.enabled:
        return None  # as Keycloak's introspection: a disabled member's tokens are inactive
    return LiveToken(claims)


class Revocation(RevocationEndpoint):
    """RFC 7009: a refresh token revokes its family; an access token is denied until it expires."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return lookup_token(token_string)

    def revoke_token(self, token, req):
        session = db_session()
        if token["typ"] == "Refresh":
            session.get(RefreshTokenFamily, token["fam"]).revoked = True
        else:
            ephemeral().put(ACCESS_TOKEN_DENYLIST + token["jti"], {}, max(int(token["exp"] - time.time()), 1))
        session.commit()


class Introspection(IntrospectionEndpoint):
    """RFC 7662, answering with the token's claims as Keycloak does."""

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


class KeycloakAuthorizationServer(AuthorizationServer):
    """One server for every realm; `g.realm` says which one a request is for."""

    def query_client(self, client_id):
        model = find_client(db_session(), g.realm, client_id)
        return RelyingParty(model) if model is not None else None

    def save_token(self, token, req):
        db_session().commit()

    def create_oauth2_request(self, req):
        if isinstance(req, OAuth2Request):
            return req
        return super().create_oauth2_request(req)

    def handle_response(self, status_code, payload, headers):
        response = super().handle_response(status_code, payload, headers)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        if isinstance(payload, dict) and "Content-Type" not in response.headers:
            response.headers["Content-Type"] = "application/json"
        return response


def _client_secret_basic(query_client, req):
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


def create_server(app) -> KeycloakAuthorizationServer:
    server = KeycloakAuthorizationServer()
    server.init_app(app)
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    server.register_grant(CodeGrant, [PkceForClient(required=True), OpenIDForCode(require_nonce=False)])
    server.register_grant(RefreshGrant, [OpenIDForOtherGrants()])
    server.register_grant(PasswordGrant, [OpenIDForOtherGrants()])
    server.register_grant(ServiceAccountGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    return server
