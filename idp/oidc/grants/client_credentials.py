"""The client credentials grant (RFC 6749 §4.4) for a client's service account."""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from sqlalchemy import select

from idp.db import db_session
from idp.db.models import User
from idp.oidc.grants.base import KeycloakTokensMixin, KnownScopesOnly
from idp.request_context import realm_request


class ServiceAccountGrant(KnownScopesOnly, KeycloakTokensMixin, ClientCredentialsGrant):
    """RFC 6749 §4.4 (no refresh token, §4.4.3): the token speaks for the client's `service-account-<client>` user."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    EVENT = "CLIENT_LOGIN"

    def event_details(self) -> dict:
        return {"username": self.request.user.username}

    def create_token_response(self):
        model = self.request.client.model
        username = f"service-account-{model.client_id}".lower()
        realm = realm_request().realm
        user = db_session().scalar(select(User).where(User.realm_id == realm.id, User.username == username))
        if user is None:
            raise InvalidGrantError("Client has no service account")
        self.request.user = user
        return super().create_token_response()
