"""Requests no browser or relying party sends in good faith, refused at the edge (400) before
any route looks anything up."""
from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from flask import Flask, abort, request


def init_app(app: Flask) -> None:
    # An app-wide URL value preprocessor runs before the blueprints' own (the realm lookup).
    app.url_value_preprocessor(refuse_nul)


def refuse_nul(_endpoint: str | None, path_values: dict[str, Any] | None) -> None:
    """NUL names no realm, client, member, session or token, and PostgreSQL cannot even compare
    text with it: a request carrying one in its path, query, form, cookies or JSON body is
    malformed (400), not a database error (500)."""
    texts = chain((path_values or {}).values(), request.cookies.values(), *request.args.listvalues(),
                  *request.form.listvalues(), _json_strings(request.get_json(silent=True) if request.is_json else None))
    if any(isinstance(text, str) and "\x00" in text for text in texts):
        abort(400)


def _json_strings(value: object) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
