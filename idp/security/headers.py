"""Security headers on every response: CSP, framing, HSTS, referrer, sniffing and caching.

`form-action` lists the realm's relying-party origins besides 'self': Chrome applies it to the
redirect that follows a form post, and the last step of a sign-in (or a logout confirmation)
answers its form with a redirect to the client's registered callback.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from idp.request_context import optional_realm_request

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "form-action {form_action}; frame-ancestors {frame_ancestors}; base-uri 'none'; object-src 'none'")
STATIC_FILES_CACHE = "public, max-age=3600"
ONE_YEAR = 31536000
HOST_AND_PORT = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$")


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    # Only a page has forms: JSON, token and key answers skip reading the realm's clients.
    origins = _relying_party_origins() if response.mimetype == "text/html" else []
    # Only the session-status and cookie-check pages (idp.oidc.session_iframe) name who may frame them.
    frame_ancestors = g.get("frame_ancestors")
    headers["Content-Security-Policy"] = POLICY.format(form_action=" ".join(["'self'", *origins]),
                                                       frame_ancestors=" ".join(frame_ancestors or ["'none'"]))
    if g.get("frame_sources"):
        # The logout page frames the clients' front-channel logout URLs (idp.oidc.logout), only those.
        headers["Content-Security-Policy"] += "; frame-src " + " ".join(g.frame_sources)
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    if current_app.config["IDP_SETTINGS"].base_url_is_https:
        headers["Strict-Transport-Security"] = f"max-age={ONE_YEAR}"
    if request.endpoint in ("static", "theme_static"):
        headers["Cache-Control"] = STATIC_FILES_CACHE
        headers.pop("Pragma", None)
    else:
        # Sign-in pages carry CSRF tokens and personal data; token answers carry secrets.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def _relying_party_origins() -> list[str]:
    """Where the realm's clients may be sent back to: their redirect and post-logout URIs' origins."""
    entered = optional_realm_request()
    if entered is None:
        return []
    try:
        clients = list(entered.realm.clients)
    except SQLAlchemyError:
        return []  # the database is down: the error page still gets its headers
    origins: list[str] = []
    for client in clients:
        for uri in [*(client.redirect_uris or []), *(client.post_logout_redirect_uris or [])]:
            origin = _origin(uri)
            if origin and origin not in origins:
                origins.append(origin)
    return origins


def _origin(uri: str) -> str | None:
    """The CSP source for a URI: scheme://host[:port] for the web, `scheme:` for an app's own scheme."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        # Only a plain host[:port] may go into the header (no user info, no ';' to end the policy).
        return f"{parts.scheme}://{parts.netloc}" if HOST_AND_PORT.match(parts.netloc) else None
    if parts.scheme and all(ch.isalnum() or ch in "+-." for ch in parts.scheme):
        return f"{parts.scheme}:"
    return None
