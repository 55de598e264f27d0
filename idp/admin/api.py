"""The Admin API blueprint: realm lookup, the caller's authentication, Keycloak's error bodies,
and what every resource module shares (the JSON body, a user by id, admin events)."""
from __future__ import annotations

import logging
from typing import overload

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from idp import events
from idp.admin import errors
from idp.admin.auth import Caller, authenticate, bearer_token
from idp.admin.representations import ADMIN_PREFIX
from idp.db import db_session
from idp.db.models import User
from idp.errors import dependency_failure, unavailable
from idp.request_context import enter_realm, optional_realm_request, realm_request

log = logging.getLogger("idp.admin")
UNKNOWN_RESOURCE_METHODS = ["GET", "POST", "PUT", "DELETE"]


def admin_blueprint(*resources: Blueprint) -> Blueprint:
    """`/admin/realms/<realm>` with each resource module's blueprint under it. A new one for each
    app, since a blueprint cannot take children once an app has registered it."""
    api = Blueprint("admin", __name__, url_prefix="/admin/realms/<realm>")
    api.url_value_preprocessor(load_realm)
    api.before_request(authenticate_caller)
    api.register_error_handler(errors.AdminError, refused)
    api.register_error_handler(HTTPException, http_error)
    api.register_error_handler(Exception, unexpected)
    api.add_url_rule("/<path:_unknown>", view_func=unknown_resource, methods=UNKNOWN_RESOURCE_METHODS)
    for resource in resources:
        api.register_blueprint(resource)
    return api


def json_routing_errors():
    """An admin path or method no route takes (outside any realm's resources too, e.g. `/admin/x`
    or PATCH on a user) answers with Keycloak's JSON error, not the members' HTML page."""
    failure = request.routing_exception
    if isinstance(failure, HTTPException) and request.path.startswith("/admin/"):
        return http_error(failure)
    return None


def load_realm(_endpoint, values) -> None:
    """The target realm (enabled); an unknown one is answered in `authenticate_caller`, where the
    blueprint's error handlers apply."""
    enter_realm(values.pop("realm"))


def authenticate_caller() -> None:
    """A realm whose Admin API is off answers as one that does not exist (404, before the token is
    even read: it is not there to anyone); otherwise the caller must authenticate."""
    here = optional_realm_request()
    if here is None or not here.config.admin_api:
        raise errors.not_found("Realm not found.")
    token = bearer_token(request.headers.get("Authorization", ""))
    g.admin_caller = authenticate(db_session(), here.realm, token, here.settings.issuer)


def caller() -> Caller:
    """Who calls: authenticated before any resource's view runs."""
    return g.admin_caller


def refused(error: errors.AdminError):
    db_session().rollback()
    return jsonify(error.body), error.status


def http_error(error: HTTPException):
    db_session().rollback()
    answer = jsonify(error=f"HTTP {error.code} {error.name}")
    if error.code == 405 and isinstance(error, MethodNotAllowed) and error.valid_methods:
        answer.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return answer, error.code


def unexpected(error: Exception):
    """Scripts read JSON, not the members' error page: a dependency outage is the 503 every
    endpoint gives; anything else is logged once with the request id and answered as Keycloak does."""
    cause = dependency_failure(error)
    if cause is not None:
        return unavailable(cause)
    log.exception("unexpected error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
    db_session().rollback()
    return jsonify(error="unknown_error"), 500


def unknown_resource(_unknown: str):
    """Paths this server does not offer answer in JSON, as Keycloak's do, not with a page."""
    raise errors.not_found("HTTP 404 Not Found")


def json_body(kind: type = dict):
    """The request's JSON body, which must be a `kind` (an object, or a list for action names)."""
    body = request.get_json(silent=True)
    if not isinstance(body, kind):
        raise errors.bad_request("Invalid request body: expected a JSON " + ("array" if kind is list else "object"))
    return body


def string_lists(body: dict, name: str, refusal: str) -> dict[str, list[str]]:
    """Keycloak's attributes (`body[name]`): each value a list of strings, a lone value made one."""
    attributes = body.get(name) or {}
    if not isinstance(attributes, dict):
        raise errors.bad_request(refusal)
    return {key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in attributes.items()}


def member(user_id: str) -> User:
    """The realm's user with this id (service accounts included, as in Keycloak), else 404."""
    user = db_session().get(User, user_id)
    if user is None or user.realm_id != realm_request().realm.id:
        raise errors.not_found("User not found")
    return user


def no_content() -> Response:
    return Response(status=204)


@overload
def flag(name: str, default: bool) -> bool: ...


@overload
def flag(name: str, default: None = None) -> bool | None: ...


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


def record_admin_event(operation: str, user: User | None, resource_path: str, resource_type: str = "USER",
                       **details) -> None:
    """Keycloak's admin event (operationType CREATE/UPDATE/DELETE/ACTION on a resource path),
    kept with our events as type ADMIN_<operation> in the caller's transaction."""
    by = caller()
    events.record(db_session(), realm_request().realm.id, ADMIN_PREFIX + operation, user_id=user.id if user else None,
                  client_id=by.client_id, ip_address=request.remote_addr or "", resource_type=resource_type,
                  resource_path=resource_path, auth_realm=by.realm.name, auth_user_id=by.user.id,
                  auth_username=by.user.username, **details)
