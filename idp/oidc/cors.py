"""Cross-origin calls from relying parties' pages, as Keycloak allows them: a client's web origins
(idp.oidc.web_origins) may call the token, userinfo, certs, logout, introspection, revocation and
account endpoints, with credentials."""
from __future__ import annotations

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Blueprint, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from idp.db import db_session
from idp.oidc.live_tokens import lookup_token
from idp.oidc.web_origins import client_web_origins, origin_allowed
from idp.realms import find_client
from idp.request_context import optional_realm_request

# Keycloak's DEFAULT_ALLOW_HEADERS with Authorization (its `auth()` calls) and a max age of an hour.
ALLOW_HEADERS = ("Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, "
                 "Access-Control-Request-Headers, Authorization")
PREFLIGHT_MAX_AGE = "3600"


# Keycloak's protocol endpoints that answer pages on other origins.
PROTOCOL_ENDPOINTS = ("certs", "token", "introspect", "revoke", "userinfo", "logout")


def init_blueprint(bp: Blueprint, views: tuple[str, ...]) -> None:
    """Answer cross-origin calls (and their preflights) to the `views` of `bp`."""

    @bp.after_request
    def answer_cross_origin(response: Response) -> Response:
        view = (request.endpoint or "").rsplit(".", 1)[-1]
        if view not in views:
            return response
        response.vary.add("Origin")
        # Only a page's call carries Origin; and an outage answer (no realm, or no database) goes
        # out as it is rather than failing again here.
        if not request.headers.get("Origin") or optional_realm_request() is None:
            return response
        try:
            if request.method == "OPTIONS" or view == "certs":
                methods = sorted((request.url_rule.methods or set()) - {"HEAD"}) if request.url_rule else []
                return allow_for_realm(response, methods)
            return allow_for_client(response, calling_client_id())
        except SQLAlchemyError:
            return response


def calling_client_id() -> str | None:
    """The client a call is made for: its credentials (Basic or form) or its bearer token's `azp`,
    as Keycloak asks the authenticated client or the token's."""
    try:
        basic_id, _secret = extract_basic_authorization(dict(request.headers))
    except (UnicodeDecodeError, ValueError):
        basic_id = None
    if basic_id or request.form.get("client_id"):
        return basic_id or request.form.get("client_id")
    header = request.headers.get("Authorization", "")
    raw = header[7:].strip() if header.lower().startswith("bearer ") else request.form.get("access_token")
    claims = lookup_token(raw) if raw else None
    return claims.get("azp") if claims else None


def allow_for_client(response: Response, client_id: str | None) -> Response:
    """An actual (non-preflight) answer readable by the page that called it, when the client's web
    origins include the caller's origin; nothing is added for any other origin."""
    origin = request.headers.get("Origin")
    response.vary.add("Origin")
    entered = optional_realm_request()
    if not origin or entered is None or not client_id:
        return response
    client = find_client(db_session(), entered.realm, client_id)
    if client is not None and origin_allowed(origin, client_web_origins(client)):
        _allow(response, origin)
    return response


def allow_for_realm(response: Response, methods: list[str]) -> Response:
    """A preflight, or an answer that names no client (certs): for an origin one of the realm's
    clients allows. A preflight carries no credentials, so no client can be asked yet; Keycloak
    answers every origin here, we only those the realm knows."""
    origin = request.headers.get("Origin")
    response.vary.add("Origin")
    if not origin or not origin_allowed(origin, realm_web_origins()):
        return response
    _allow(response, origin)
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def realm_web_origins() -> set[str]:
    """Every origin some client of the request's realm allows."""
    entered = optional_realm_request()
    if entered is None:
        return set()
    try:
        clients = list(entered.realm.clients)
    except SQLAlchemyError:
        return set()
    allowed: set[str] = set()
    for client in clients:
        if client.enabled:
            allowed |= client_web_origins(client)
    return allowed


def _allow(response: Response, origin: str) -> None:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
