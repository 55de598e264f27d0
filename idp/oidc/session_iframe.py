"""The pages keycloak-js frames from a relying party's page: the session-status iframe (OpenID
Connect Session Management §4.1, as Keycloak's `login-status-iframe.html` answers) and the
third-party-cookie check (`3p-cookies/step1.html`, `step2.html`). Only these pages may be framed,
and only by the realm's clients' web origins."""
from __future__ import annotations

from flask import g, make_response, render_template, request
from werkzeug.wrappers import Response

from idp.db import db_session
from idp.oidc import cors
from idp.oidc.web_origins import ANY_ORIGIN, client_web_origins, origin_allowed, uri_origin
from idp.realms import find_client
from idp.request_context import realm_request


def framed_page(script: str, title_key: str, data: dict[str, str]) -> Response:
    """An invisible page running `script` (its `data` in the body's data-* attributes) that the realm's
    web origins may frame (idp.security.headers reads `g.frame_ancestors`)."""
    origins = {origin for origin in cors.realm_web_origins()
               if origin == ANY_ORIGIN or uri_origin(origin) == origin}
    g.frame_ancestors = ["*"] if ANY_ORIGIN in origins else ["'self'", *sorted(origins)]
    return make_response(render_template("framed.html", script=script, title_key=title_key, data=data), 200)


def origin_checked() -> Response:
    """Keycloak's `login-status-iframe.html/init`: 204 when the client's web origins (or our own
    origin) include the origin the iframe's page was posted from, 403 otherwise."""
    here = realm_request()
    client = find_client(db_session(), here.realm, request.args.get("client_id"))
    origin = request.args.get("origin", "")
    allowed = client is not None and bool(origin) and origin_allowed(
        origin, client_web_origins(client) | {uri_origin(here.issuer) or ""})
    return Response(status=204 if allowed else 403)
