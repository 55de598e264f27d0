"""Requests no browser or relying party sends in good faith, refused at the edge (400) before
any route looks anything up; the one place a request's JSON body is parsed."""
from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from flask import Flask, abort, request

# Keycloak's representations nest a few levels. Far deeper is no document a client means to send,
# and the JSON parser and every later walk over the document (events, representations) recurse
# once per level: past Python's recursion limit that was a 500 on any endpoint, unauthenticated.
MAX_JSON_DEPTH = 32


def init_app(app: Flask) -> None:
    # An app-wide URL value preprocessor runs before the blueprints' own (the realm lookup).
    app.url_value_preprocessor(refuse_malformed)


def refuse_malformed(_endpoint: str | None, path_values: dict[str, Any] | None) -> None:
    """NUL names no realm, client, member, session or token, and PostgreSQL cannot even compare
    text with it: a request carrying one in its path, query, form, cookies or JSON body is
    malformed (400), not a database error (500); so is a JSON body nested too deep."""
    _refuse_chunked_body_over_the_limit()
    texts = chain((path_values or {}).values(), request.cookies.values(), *request.args.listvalues(),
                  *request.form.listvalues(), _json_strings(_json_body()))
    if any(isinstance(text, str) and "\x00" in text for text in texts):
        abort(400)


def _refuse_chunked_body_over_the_limit() -> None:
    """A chunked body's size is known only once it is read, and Werkzeug stops reading it at
    MAX_CONTENT_LENGTH without a word: the form or JSON would be cut there. So it is read here
    up to the limit (and kept for every later reader), and one byte more means it is too large."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return  # Werkzeug refuses an over-long Content-Length itself; no body without either
    request.get_data(cache=True)
    if request.environ["wsgi.input"].read(1):
        abort(413)


def _json_body() -> Any:
    """The JSON body, or None. Parsed here first, Flask keeps it for every later `get_json`, so
    none of them meets a body the parser cannot read."""
    if not request.is_json:
        return None
    try:
        return request.get_json(silent=True)
    except RecursionError:
        abort(400)


def _json_strings(document: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included; one nested deeper than MAX_JSON_DEPTH is
    malformed. Walked with a list, not recursion, for the reason above."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            abort(400)
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from value.keys()
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
