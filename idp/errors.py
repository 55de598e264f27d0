"""The one boundary where errors become pages: expected ones get a Japanese page, the rest a plain 500."""
from __future__ import annotations

import logging

from flask import Flask, g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("idp.errors")


def _page(message_key: str, status: int):
    if request.accept_mimetypes.best == "application/json":
        return make_response({"error": message_key.removeprefix("error.")}, status)
    return make_response(render_template("error.html", message_key=message_key), status)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return _page("error.csrf", 400)

    @app.errorhandler(404)
    def not_found(error):
        return _page("error.not_found", 404)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _page("error.invalid_request", error.code or 400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
        return _page("error.server", 500)
