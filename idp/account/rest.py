"""Keycloak's account REST representation at /realms/{realm}/account, as keycloak-js's
`loadUserProfile()` reads it: a bearer token with the account client's `view-profile` or
`manage-account` role gets the member's `id`, `username`, names, email and attributes."""
from __future__ import annotations

from flask import jsonify, request
from werkzeug.wrappers import Response

from idp.db import db_session
from idp.db.models import User
from idp.oidc.live_tokens import lookup_token
from idp.request_context import realm_request

ACCOUNT_CLIENT = "account"
PROFILE_ROLES = {"view-profile", "manage-account"}


def asked_for() -> bool:
    """A relying party's call, not a browser's page request: Keycloak answers the REST API to a
    bearer token or a request that prefers JSON, and the account pages to one that prefers HTML."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def profile() -> Response:
    """The account REST representation (Keycloak's UserRepresentation for the account API)."""
    header = request.headers.get("Authorization", "")
    claims = lookup_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
    if claims is None or claims.get("typ") != "Bearer":
        return _refused(401, "invalid_token", "Token verification failed")
    audience = claims.get("aud")
    roles = set(claims.get("resource_access", {}).get(ACCOUNT_CLIENT, {}).get("roles", []))
    if ACCOUNT_CLIENT not in (audience if isinstance(audience, list) else [audience]) or not roles & PROFILE_ROLES:
        return _refused(403, "insufficient_scope", "The token does not allow reading the account")
    user = db_session().get(User, claims["sub"])
    if user is None:
        return _refused(401, "invalid_token", "User not found")
    response = jsonify({
        "id": user.id, "username": user.username, "firstName": user.first_name, "lastName": user.last_name,
        "email": user.email, "emailVerified": bool(user.email_verified), "attributes": _attributes(user),
    })
    response.headers["Cache-Control"] = "no-store"
    return response


def _attributes(user: User) -> dict[str, list[str]]:
    """Keycloak's attributes: every value a list of strings."""
    return {name: [str(item) for item in value] if isinstance(value, list) else [str(value)]
            for name, value in (user.attributes or {}).items()}


def _refused(status: int, error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="{realm_request().realm.name}", error="{error}", error_description="{description}"'
    )
    return response
