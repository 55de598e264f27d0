"""A client's web origins as Keycloak resolves them (WebOriginsUtils, through
idp.realms.redirect_patterns): `+` stands for the origins of its redirect URIs, `*` for any
origin, anything else is an exact origin; and which origins are safe to name in a header."""
from __future__ import annotations

from urllib.parse import urlsplit

from idp.db.models import Client
from idp.realms.redirect_patterns import allowed_web_origins, origin_of
from idp.request_context import optional_realm_request
from idp.security.headers import HOST_AND_PORT

ANY_ORIGIN = "*"


def client_web_origins(client: Client) -> set[str]:
    """The origins a client's `web_origins` allow, `+` resolved against the request's realm."""
    entered = optional_realm_request()
    server = origin_of(entered.issuer) if entered is not None else ""
    return allowed_web_origins(client.web_origins or [], client.redirect_uris or [], server)


def uri_origin(uri: str) -> str | None:
    """scheme://host[:port] of an http(s) URI (a wildcard path such as `/*` keeps its origin); only a
    plain host and port, so an origin is safe in a header."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not HOST_AND_PORT.match(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def origin_allowed(origin: str, allowed: set[str]) -> bool:
    return origin in allowed or ANY_ORIGIN in allowed
