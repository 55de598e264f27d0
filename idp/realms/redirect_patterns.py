"""Keycloak's redirect-URI and web-origin patterns, and how a request's URI or origin matches them
(Keycloak's RedirectUtils.verifyRedirectUri and WebOriginsUtils.resolveValidWebOrigins).

A pattern is an absolute URI, a path (`/app/*`: relative to the server's origin, as Keycloak reads
it for a client without a root URL), or `*`. A `*` at the end matches any rest of the URI,
and `https://app/*` matches `https://app` too; with a wildcard the query is not compared, without
one the URI must be equal, query included. Web origins are exact origins, `*` (any origin) and `+`
(the origins of the redirect URIs).
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

ANY = "*"
REDIRECT_ORIGINS = "+"
# "/../" in any spelling: a URI climbing out of the path a wildcard allows never matches one.
SEPARATOR = r"(/|%2[fF]|%5[cC]|\\)"
UNSAFE_PATH = re.compile(rf"{SEPARATOR}(%2[eE]|\.){{2}}({SEPARATOR}|;)|{SEPARATOR}(%2[eE]|\.){{2}}$")
# What Java's URI refuses: Keycloak matches nothing that is not a valid URI.
NOT_IN_A_URI = re.compile(r'[\x00-\x20"<>\\^`{|}\x7f]|%(?![0-9A-Fa-f]{2})')
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def check_redirect_pattern(pattern: str) -> str:
    """A pattern Keycloak would match as meant, or ValueError saying what is wrong with it."""
    if pattern == ANY:
        return pattern
    if not (SCHEME.match(pattern) or pattern.startswith("/")) or "#" in pattern or NOT_IN_A_URI.search(pattern):
        raise ValueError(f"{pattern!r} must be an absolute URI or a path (relative to the client's root URL), "
                         "without a fragment")
    if ANY in pattern[:-1]:
        raise ValueError(f"{pattern!r} has a wildcard before its end; Keycloak matches `*` only as the last character")
    return pattern


def resolve(pattern: str, server_origin: str) -> str:
    """A path pattern made absolute against the server's origin (the import resolved those of clients
    with a root URL against it already)."""
    if pattern.startswith("/"):
        return server_origin.rstrip("/") + pattern
    return pattern


def redirect_uri_matches(patterns: list[str], uri: str, server_origin: str) -> bool:
    """Whether a requested redirect (or post-logout) URI is one the client registered."""
    scheme = SCHEME.match(uri)
    if scheme is None or NOT_IN_A_URI.search(uri):
        return False
    try:
        parsed = urlsplit(uri)
        port = parsed.port
    except ValueError:
        return False
    wildcards = "@" not in parsed.netloc and not UNSAFE_PATH.search(parsed.path)
    resolved = [resolve(pattern, server_origin) for pattern in patterns]
    matched = _matching(resolved, uri, wildcards)
    host = parsed.hostname or ""
    if matched is None and parsed.scheme == "http" and host in LOOPBACK_HOSTS and port is not None:
        # RFC 8252 §7.3: a native app listens on any port of the loopback address it registered.
        without_port = parsed._replace(netloc=f"[{host}]" if ":" in host else host).geturl()
        matched = _matching(resolved, without_port, wildcards)
    if matched is None:
        return False
    # `*` and web patterns never let an app's own scheme through; its own patterns do.
    return parsed.scheme in ("http", "https") or matched.startswith(f"{scheme.group(1)}:")


def _matching(patterns: list[str], uri: str, wildcards: bool) -> str | None:
    for pattern in patterns:
        if pattern == ANY:
            return pattern
        if pattern.endswith(ANY) and "?" not in pattern and wildcards:
            path = re.split(r"[?#]", uri, maxsplit=1)[0]
            prefix = pattern[:-1]
            if _within(prefix, path) or (len(prefix) > 1 and prefix.endswith("/") and path == prefix[:-1]):
                return pattern
        elif pattern == uri:
            return pattern
    return None


def _within(prefix: str, path: str) -> bool:
    """`path` starts with `prefix`, and a prefix ending inside the host (`https://test*`) names the
    whole host: it never lets `https://test.com` through."""
    if not path.startswith(prefix):
        return False
    authority = prefix.split("://", 1)[1] if "://" in prefix else "/"
    rest = path[len(prefix):]
    return "/" in authority or rest == "" or rest.startswith("/")


def allowed_web_origins(web_origins: list[str], redirect_uris: list[str], server_origin: str) -> set[str]:
    """The origins a client's web origins allow (`*` among them means any), `+` resolved."""
    origins = set(web_origins) - {REDIRECT_ORIGINS}
    if REDIRECT_ORIGINS in web_origins:
        for pattern in redirect_uris:
            uri = resolve(pattern, server_origin)
            if uri.startswith("http"):
                origins.add(origin_of(uri))
    return origins


def web_origin_allowed(web_origins: list[str], redirect_uris: list[str], origin: str, server_origin: str) -> bool:
    """Whether a request from `origin` may be answered for this client (CORS, the iframe pages)."""
    allowed = allowed_web_origins(web_origins, redirect_uris, server_origin)
    return ANY in allowed or origin in allowed


def origin_of(uri: str) -> str:
    """`scheme://host[:port]` of an absolute URI."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
