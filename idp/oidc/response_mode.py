"""How an authorization response reaches the client (OAuth 2.0 Multiple Response Type Encoding
Practices §2.1, Form Post Response Mode): in the query, in the fragment, or posted by a form, as
the request's `response_mode` asks, with Keycloak's default per response type (code → query)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, make_response, render_template

QUERY, FRAGMENT, FORM_POST = "query", "fragment", "form_post"
SUPPORTED = (QUERY, FRAGMENT, FORM_POST)


def is_supported(mode: str | None) -> bool:
    """An absent mode means the default; any other must be one we can deliver (Keycloak refuses
    the rest with `invalid_request`, "Invalid parameter: response_mode")."""
    return mode is None or mode in SUPPORTED


def deliver(redirect: Response, redirect_uri: str, mode: str | None) -> Response:
    """`redirect` (a 302 whose Location is `redirect_uri` with the response's parameters added to its
    query) delivered the way `mode` asks."""
    if mode not in (FRAGMENT, FORM_POST):
        return redirect
    own = parse_qsl(urlsplit(redirect_uri).query, keep_blank_values=True)
    params = parse_qsl(urlsplit(redirect.headers["Location"]).query, keep_blank_values=True)[len(own):]
    if mode == FRAGMENT:
        redirect.headers["Location"] = urlunsplit(urlsplit(redirect_uri)._replace(fragment=urlencode(params)))
        return redirect
    page = make_response(render_template("form-post.html", action=redirect_uri, params=params), 200)
    for name, value in redirect.headers.items():
        if name.lower() == "set-cookie":
            page.headers.add(name, value)
    return page
