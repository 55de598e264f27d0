"""The resource owner password credentials grant (RFC 6749 §4.3), Keycloak's direct access grants,
behind the sign-in page's brute-force guard (§4.3.2 asks for one)."""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import ResourceOwnerPasswordCredentialsGrant
from flask import request

from idp import events
from idp.db import db_session
from idp.db.models import User, utcnow
from idp.db.users import check_password, find_user
from idp.ephemeral import ephemeral
from idp.oidc import sessions
from idp.oidc.clients import RelyingParty
from idp.oidc.grants.base import KeycloakTokensMixin, KnownScopesOnly
from idp.request_context import realm_request
from idp.security.brute_force import SignInAttempt, StepGuard
from idp.security.passwords import dummy_verify


class InvalidUserCredentials(InvalidGrantError):
    """Keycloak answers a wrong user ID or password with 401, not RFC 6749's 400; clients written
    for Keycloak (python-keycloak's KeycloakAuthenticationError) depend on it."""

    status_code = 401

    def __init__(self):
        super().__init__("Invalid user credentials")


class PasswordGrant(KnownScopesOnly, KeycloakTokensMixin, ResourceOwnerPasswordCredentialsGrant):
    """RFC 6749 §4.3, only for clients with direct access grants on (Keycloak's errors); failures
    count and lock exactly as on the sign-in page, through its `StepGuard`."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    EVENT = "LOGIN"

    def event_details(self) -> dict:
        return {"auth_method": "openid-connect", "username": self.request.user.username}

    def authenticate_token_endpoint_client(self):
        # Known before the user is checked, so a refused sign-in's event names its client.
        client = super().authenticate_token_endpoint_client()
        assert isinstance(client, RelyingParty)  # the server's query_client made it
        self.request.client = client
        return client

    def authenticate_user(self, username, password):
        session, settings = db_session(), realm_request().settings
        user = find_user(session, realm_request().realm, username)
        # The sign-in page's guard and counts: a locked user ID, known or not, is not checked.
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
            events.record(db_session(), realm_request().realm.id, type,
                          user_id=user_id or (member.id if member else None), client_id=client_id,
                          ip_address=ip_address, **details)

        return SignInAttempt(realm=realm_request().realm, config=realm_request().config, store=ephemeral(), user=member,
                             ip_address=ip_address, now=utcnow(), record_event=record_event,
                             lock_out=lambda locked: sessions.lock_out(db_session(), locked))

    @staticmethod
    def _count_failure(guard: StepGuard, username: str) -> None:
        """Count the failure; a lock it starts is reported (and a permanent one disables the member)."""
        if guard.failed(username=username[:255]).lock_started:
            db_session().commit()

    def _refuse(self, user: User | None, error: str, username: str) -> None:
        """Keep a LOGIN_ERROR (Keycloak's error names) while nothing else of the refused request is kept."""
        session = db_session()
        session.rollback()
        events.record(session, realm_request().realm.id, "LOGIN_ERROR", user_id=user.id if user else None,
                      client_id=self.request.client.client_id, ip_address=request.remote_addr or "", error=error,
                      grant_type=self.GRANT_TYPE, auth_method="openid-connect", username=username[:255])
        session.commit()

    def create_token_response(self):
        # Only now is the client known to Authlib's request and the requested scope checked.
        session = db_session()
        self.request.user_session = sessions.start_session(
            session, realm_request().realm, self.request.user, remember_me=False, ip_address=request.remote_addr or ""
        )
        sessions.attach_client(session, self.request.user_session, self.request.client.model)
        return super().create_token_response()
