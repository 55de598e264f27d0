"""The one boundary where errors become pages: expected ones get a Japanese page, an unreachable
database or Redis a 503 (a page for members, OAuth JSON for relying parties), the rest a plain 500."""
from __future__ import annotations

import logging

from flask import Flask, g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql_errors
from sqlalchemy import inspect as inspect_instance
from werkzeug.exceptions import HTTPException, InternalServerError

from idp.db import release_request_session
from idp.request_context import forget_realm_request, optional_realm_request

log = logging.getLogger("idp.errors")

# How long a client should wait before trying again while a dependency is down (RFC 9110 §10.2.3).
RETRY_AFTER_SECONDS = 10
UNAVAILABLE_DESCRIPTION = "The server is temporarily unavailable, try again later"
# The realm's pages and endpoints a browser opens; every other OpenID Connect endpoint answers JSON.
BROWSER_ENDPOINTS = {"realm.oidc.authorize", "realm.oidc.logout"}
JSON_ENDPOINTS = {"realm.oidc.realm_info", "realm.oidc.openid_configuration", "realm.login.step_status"}
DEPENDENCY_ERRORS = (sql_errors.OperationalError, sql_errors.InterfaceError, sql_errors.TimeoutError,
                     redis_errors.ConnectionError, redis_errors.TimeoutError)


def _page(message_key: str, status: int):
    if request.accept_mimetypes.best == "application/json":
        return make_response({"error": message_key.removeprefix("error.")}, status)
    return make_response(render_template("error.html", message_key=message_key), status)


def dependency_failure(error: BaseException | None) -> BaseException | None:
    """The database or Redis error behind `error` (itself, or what it was raised from), if any."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DEPENDENCY_ERRORS):
            return error
        if isinstance(error, sql_errors.DBAPIError) and error.connection_invalidated:
            return error
        error = error.__cause__ or error.__context__
    return None


def one_line(error: BaseException) -> str:
    """An error for the log in one line, not a traceback per request during an outage.

    SQLAlchemy's first line names the failure; the lines after it carry the statement and its
    parameters (members' data)."""
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"


def _relying_party_endpoint() -> bool:
    """The OpenID Connect endpoints relying parties call from their servers (token, userinfo, ...)."""
    return "/protocol/openid-connect/" in request.path and request.endpoint not in BROWSER_ENDPOINTS


def _answers_json() -> bool:
    """Relying parties and the admin API get JSON; members' pages get HTML."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        return True
    if request.endpoint == "realm.oidc.logout":
        return request.method == "POST" and "refresh_token" in request.form
    if _relying_party_endpoint():
        return True
    return request.endpoint in JSON_ENDPOINTS or request.accept_mimetypes.best == "application/json"


def _drop_request_session() -> None:
    """Roll back what the request had not committed; nothing touches the database again while
    this request is answered."""
    release_request_session()
    entered = optional_realm_request()
    if entered is not None and {"name", "display_name"} & inspect_instance(entered.realm).unloaded:
        forget_realm_request()  # reading it now would load it again; the page names no realm then


def unavailable(cause: BaseException):
    """503 while the database or Redis cannot be reached; the same request works once it is back."""
    log.warning("dependency unavailable on %s %s (request %s): %s", request.method, request.path,
                g.get("request_id"), one_line(cause))
    _drop_request_session()
    if _answers_json():
        response = make_response({"error": "temporarily_unavailable", "error_description": UNAVAILABLE_DESCRIPTION},
                                 503)
    else:
        response = _page("error.unavailable", 503)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return _page("error.csrf", 400)

    @app.errorhandler(404)
    def not_found(error):
        return _page("error.not_found", 404)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if isinstance(error, InternalServerError) and error.original_exception is not None:
            # Flask comes here, having logged it, for what failed after the view answered (an
            # after_request hook), which may well be the database or Redis going away.
            cause = dependency_failure(error.original_exception)
            return unavailable(cause) if cause is not None else _page("error.server", 500)
        if _relying_party_endpoint():
            # RFC 6749 §5.2's error for a malformed request, in the JSON relying parties read.
            return make_response({"error": "invalid_request"}, error.code or 400)
        return _page("error.invalid_request", error.code or 400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        cause = dependency_failure(error)
        if cause is not None:
            return unavailable(cause)
        log.exception("unexpected error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
        return _page("error.server", 500)
