"""Ending SSO sessions: RP-initiated logout in the browser (with OpenID Connect Front-Channel
Logout 1.0 for clients that ask for it), and Keycloak's refresh-token logout."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import g, jsonify, make_response, redirect, render_template, request
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from idp import events
from idp.db import db_session
from idp.db.models import Client, RefreshTokenFamily, UserSession
from idp.oidc import sessions, tokens
from idp.oidc.authorize import server
from idp.oidc.clients import post_logout_redirect_uri_allowed
from idp.realms import find_client
from idp.request_context import realm_request

# A URL that a CSP header can carry: no spaces, quotes, commas or semicolons.
CSP_SAFE_SOURCE = re.compile(r"^https?://[A-Za-z0-9.\-:\[\]]+/[A-Za-z0-9._~!$&()*+=:@%/\-]*$")


def logout_with_refresh_token() -> Response:
    """POST with client credentials and a refresh token ends that token's session: 204."""
    try:
        client = server().authenticate_client(server().create_oauth2_request(None), ["client_secret_basic",
                                                                                    "client_secret_post", "none"])
    except OAuth2Error as error:
        return server().handle_error_response(None, error)
    session, here = db_session(), realm_request()
    try:
        claims = tokens.decode(session, here.realm, request.form["refresh_token"], issuer=here.issuer, typ="Refresh",
                               verify_exp=False)
    except tokens.InvalidToken:
        return _error("invalid_grant", "Invalid refresh token")
    if claims.get("azp") != client.client_id:
        return _error("invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
    family = session.get(RefreshTokenFamily, claims.get("fam", ""))
    user_session = sessions.find_session(session, here.realm, family.user_session_id if family else None)
    if user_session is not None:
        _record_logout(user_session, client.client_id)
        sessions.end_session(session, user_session)
    session.commit()
    return Response(status=204)


def _record_logout(user_session, client_id: str | None, **details) -> None:
    events.record(db_session(), realm_request().realm.id, "LOGOUT", user_id=user_session.user_id, client_id=client_id,
                  session_id=user_session.id, ip_address=request.remote_addr or "", **details)


def _error(error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = 400
    return response


def logout_in_browser() -> Response:
    """RP-initiated logout: with a valid `id_token_hint` at once, otherwise after confirming."""
    values = request.values
    hint_claims = _id_token_hint_claims(values.get("id_token_hint"))
    if values.get("id_token_hint") and hint_claims is None:
        return _page("error.html", 400, message_key="error.invalid_request")
    client = _client_for(values.get("client_id"), hint_claims)
    redirect_uri = values.get("post_logout_redirect_uri")
    if redirect_uri and (client is None or not post_logout_redirect_uri_allowed(client, redirect_uri)):
        return _page("error.html", 400, message_key="error.invalid_redirect_uri")
    if hint_claims is None and not _confirmed():
        return _page("logout-confirm.html", 200, values=_carried(values))
    frames = _end_browser_session(hint_claims, client, redirect_uri)
    target = None
    if redirect_uri:
        target = add_params_to_uri(redirect_uri, [("state", values["state"])]) if values.get("state") else redirect_uri
    if target and not frames:
        response = redirect(target)
    else:
        # Front-channel logout (§2-§4): the page frames each client's logout URL, then goes on.
        g.frame_sources = [frame_source(url) for url in frames]
        response = _page("logout-done.html", 200, client=client, frames=frames, target=target)
    sessions.clear_session_cookie(response, realm_request().realm)
    return response


def _id_token_hint_claims(hint: str | None) -> dict | None:
    if not hint:
        return None
    try:
        # Keycloak accepts an expired ID token as a hint: it only names the session.
        here = realm_request()
        return tokens.decode(db_session(), here.realm, hint, issuer=here.issuer, typ="ID", verify_exp=False)
    except tokens.InvalidToken:
        return None


def _client_for(client_id: str | None, hint_claims: dict | None) -> Client | None:
    if hint_claims and client_id and client_id != hint_claims.get("aud"):
        return None
    return find_client(db_session(), realm_request().realm, client_id or (hint_claims or {}).get("aud"))


def _confirmed() -> bool:
    if request.method != "POST" or request.form.get("confirm") != "1":
        return False
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _carried(values) -> dict:
    return {key: values[key] for key in ("post_logout_redirect_uri", "client_id", "state") if values.get(key)}


def _end_browser_session(hint_claims: dict | None, client: Client | None, redirect_uri: str | None) -> list[str]:
    """End the browser's session (and the hint's); the front-channel logout URLs to frame."""
    session, frames = db_session(), []
    for session_id in {sessions.session_id_from_cookie(), (hint_claims or {}).get("sid")}:
        user_session = sessions.find_session(session, realm_request().realm, session_id)
        if user_session is not None:
            _record_logout(user_session, client.client_id if client else None, redirect_uri=redirect_uri)
            frames += frontchannel_logout_urls(user_session)
            sessions.end_session(session, user_session)
    session.commit()
    return frames


def frontchannel_logout_urls(user_session: UserSession) -> list[str]:
    """Each of the session's clients' front-channel logout URL, with `iss` and `sid` (§3) when
    the client requires them."""
    urls = []
    for client in sessions.clients_of(db_session(), user_session):
        url = client.attributes.get("frontchannel_logout_url")
        if not (client.enabled and url and frame_source(url)):
            continue
        if client.attributes.get("frontchannel_logout_session_required", True):
            url = add_params_to_uri(url, [("iss", realm_request().issuer), ("sid", user_session.id)])
        urls.append(url)
    return urls


def frame_source(url: str) -> str:
    """The CSP source allowing exactly this URL (its query is not part of a source), or "" where
    the URL cannot be written into the header safely."""
    parts = urlsplit(url)
    source = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
    return source if CSP_SAFE_SOURCE.match(source) else ""


def _page(template: str, status: int, **context) -> Response:
    return make_response(render_template(template, **context), status)
