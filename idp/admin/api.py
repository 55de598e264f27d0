"""The Admin API blueprint: realm lookup, the caller's authentication, Keycloak's error bodies,
and what every resource module shares (the JSON body, a user by id, admin events)."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from idp import events
from idp.admin import errors
from idp.admin.auth import authenticate, bearer_token
from idp.admin.representations import ADMIN_PREFIX
from idp.db import db_session
from idp.db.models import User
from idp.errors import dependency_failure, unavailable
from idp.realms import RealmNotFound, find_realm, realm_config

log = logging.getLogger("idp.admin")
bp = Blueprint("admin", __name__, url_prefix="/admin/realms/<realm>")


@bp.url_value_preprocessor
def load_realm(_endpoint, values) -> None:
    """The target realm (enabled), its settings and issuer."""
    g.settings = current_app.config["IDP_SETTINGS"]
    try:
        g.realm = find_realm(db_session(), values.pop("realm"))
    except RealmNotFound:
        return  # answered in `authenticate_caller`, where the blueprint's error handlers apply
    g.realm_config = realm_config(g.realm)
    g.issuer = g.settings.issuer(g.realm.name)


@bp.before_request
def authenticate_caller() -> None:
    """A realm whose Admin API is off answers as one that does not exist (404, before the token is
    even read: it is not there to anyone); otherwise the caller must authenticate."""
    if "realm" not in g or not g.realm_config.admin_api:
        raise errors.not_found("Realm not found.")
    token = bearer_token(request.headers.get("Authorization", ""))
    g.caller = authenticate(db_session(), g.realm, token, g.settings.issuer)


@bp.errorhandler(errors.AdminError)
def refused(error: errors.AdminError):
    db_session().rollback()
    return jsonify(error.body), error.status


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    db_session().rollback()
    return jsonify(error=f"HTTP {error.code} {error.name}"), error.code


@bp.errorhandler(Exception)
def unexpected(error: Exception):
    """Scripts read JSON, not the members' error page: a dependency outage is the 503 every
    endpoint gives; anything else is logged once with the request id and answered as Keycloak does."""
    cause = dependency_failure(error)
    if cause is not None:
        return unavailable(cause)
    log.exception("unexpected error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
    db_session().rollback()
    return jsonify(error="unknown_error"), 500


@bp.route("/<path:_unknown>", methods=["GET", "POST", "PUT", "DELETE"])
def unknown_resource(_unknown: str):
    """Paths this server does not offer answer in JSON, as Keycloak's do, not with a page."""
    raise errors.not_found("HTTP 404 Not Found")


def json_body(kind: type = dict):
    """The request's JSON body, which must be a `kind` (an object, or a list for action names)."""
    body = request.get_json(silent=True)
    if not isinstance(body, kind):
        raise errors.bad_request("Invalid request body: expected a JSON " + ("array" if kind is list else "object"))
    return body


def member(user_id: str) -> User:
    """The realm's user with this id (service accounts included, as in Keycloak), else 404."""
    user = db_session().get(User, user_id)
    if user is None or user.realm_id != g.realm.id:
        raise errors.not_found("User not found")
    return user


def no_content() -> Response:
    return Response(status=204)


def flag(name: str, default: bool | None = None) -> bool | None:
    """A true/false query parameter (absent: `default`)."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    return value.lower() == "true"


def whole_number(name: str, default: int) -> int:
    """A paging parameter (`first`, `max`): negatives count as 0, huge values as the largest a
    database takes, anything else is a 400."""
    value = request.args.get(name, "")
    if not value:
        return default
    try:
        return min(max(int(value), 0), 2**31 - 1)
    except ValueError:
        raise errors.bad_request(f"Invalid value for query parameter {name}") from None


def changed(operation: str, user: User, resource_path: str, **details) -> Response:
    """Keep the change with its admin event in one commit, and answer 204."""
    record_admin_event(operation, user, resource_path, **details)
    db_session().commit()
    return no_content()


def record_admin_event(operation: str, user: User | None, resource_path: str, **details) -> None:
    """Keycloak's admin event (operationType CREATE/UPDATE/DELETE/ACTION on a resource path),
    kept with our events as type ADMIN_<operation> in the caller's transaction."""
    caller = g.caller
    events.record(db_session(), g.realm.id, ADMIN_PREFIX + operation, user_id=user.id if user else None,
                  client_id=caller.client_id, ip_address=request.remote_addr or "", resource_type="USER",
                  resource_path=resource_path, auth_realm=caller.realm.name, auth_user_id=caller.user.id,
                  auth_username=caller.user.username, **details)
