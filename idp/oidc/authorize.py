"""The authorization endpoint's decisions: validate the request, reuse SSO, or hand over to sign-in.

`resume_authorization` is the one call the sign-in pages make when a member has finished
signing in: it replays the saved request and redirects to the relying party with a code.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error, UnsupportedResponseTypeError
from flask import current_app, make_response, redirect, render_template, request, session
from werkzeug.wrappers import Response

from idp.db import db_session
from idp.db.models import User, UserSession
from idp.ephemeral import ephemeral, keys
from idp.oidc import response_mode, sessions
from idp.oidc.grants.authorization_code import StoredAuthorizationRequest
from idp.realms import ACCOUNT_CONSOLE
from idp.request_context import realm_request

AUTH_PARAMETERS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt", "max_age",
    "login_hint", "ui_locales", "code_challenge", "code_challenge_method", "response_mode", "kc_action",
)


def server():
    return current_app.extensions["idp.oidc_server"]


def saved_request(values) -> dict:
    """The authorization request's parameters worth keeping while the member signs in."""
    return {key: values[key] for key in AUTH_PARAMETERS if values.get(key) is not None}


def validate(args: dict, user: User | None = None, user_session: UserSession | None = None):
    """Authlib's grant for the request (raises OAuth2Error)."""
    if invalid_error_characters(args.get("response_type", "")):
        # Authlib repeats an unknown response_type in its error description, which RFC 6749
        # §4.1.2.1 limits to printable ASCII, and raises ValueError for anything else.
        raise UnsupportedResponseTypeError("unsupported")
    req = StoredAuthorizationRequest(args, request.base_url)
    req.user_session = user_session
    grant = server().get_consent_grant(request=req, end_user=user)
    if not response_mode.is_supported(args.get("response_mode")):
        # Keycloak's AuthorizationEndpointChecker, answered in the response type's default mode.
        raise InvalidRequestError("Invalid parameter: response_mode", state=args.get("state"),
                                  redirect_uri=args.get("redirect_uri"))
    return req, grant


def error_response(error: OAuth2Error, args: dict) -> Response:
    """Errors go back to the client (in the request's response mode) only when the redirect URI was
    verified; else a page."""
    redirect_uri = getattr(error, "redirect_uri", None)
    if redirect_uri:
        response = server().handle_error_response(None, error)
        # RFC 9207 §2: error responses name the issuer too (Keycloak does since version 23).
        issuer = realm_request().issuer
        response.headers["Location"] = add_params_to_uri(response.headers["Location"], [("iss", issuer)])
        mode = args.get("response_mode")
        return response_mode.deliver(response, redirect_uri, mode if response_mode.is_supported(mode) else None)
    key = "error.unknown_client" if error.error in ("invalid_client", "unauthorized_client") else (
        "error.invalid_redirect_uri" if "redirect" in (error.description or "").lower() else "error.invalid_request"
    )
    return make_response(render_template("error.html", message_key=key), 400)


def sso_session_for(args: dict) -> UserSession | None:
    """The browser's live SSO session, unless the request asks for a fresh sign-in."""
    session = db_session()
    user_session = sessions.find_session(session, realm_request().realm, sessions.session_id_from_cookie())
    if user_session is None or "login" in args.get("prompt", "").split():
        return None
    user = session.get(User, user_session.user_id)
    if user is None or not user.enabled:
        return None  # a member the society disabled must sign in again (and is refused there)
    max_age = args.get("max_age")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if max_age and max_age.isascii() and max_age.isdigit() and time.time() - user_session.auth_time > int(max_age):
        return None
    return user_session


def resume_authorization(args: dict, user_session: UserSession, extra_params: dict | None = None) -> Response:
    """Issue the code for a saved request now that `user_session` is signed in; `extra_params`
    (e.g. Keycloak's kc_action_status) are added to the redirect."""
    session = db_session()
    user = session.get(User, user_session.user_id)
    try:
        req, grant = validate(args, user, user_session)
    except OAuth2Error as error:
        return error_response(error, args)
    req.extra_params = extra_params or {}
    sessions.touch(user_session)
    response = server().create_authorization_response(request=req, grant_user=user, grant=grant)
    session.commit()
    response = response_mode.deliver(response, args["redirect_uri"], args.get("response_mode"))
    sessions.set_session_cookie(response, realm_request().realm, user_session)
    return response


def account_console_redirect(kc_action: str | None, return_to: str) -> Response:
    """Send the member through sign-in (and `kc_action`, if given) for the account pages.

    The realm's built-in `account-console` client asks; the code it gets back is never
    exchanged (the account pages read the SSO session), so the PKCE verifier is thrown away
    and nobody else can exchange it either."""
    state = secrets.token_urlsafe(16)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    session["account_console"] = {"state": state, "return_to": return_to}
    issuer = realm_request().issuer
    params = {
        "client_id": ACCOUNT_CONSOLE, "response_type": "code", "scope": "openid", "state": state,
        "redirect_uri": f"{issuer}/account/callback", "code_challenge": challenge, "code_challenge_method": "S256",
    }
    if kc_action:
        params["kc_action"] = kc_action
    return redirect(f"{issuer}/protocol/openid-connect/auth?{urlencode(params)}")


def account_console_return() -> str | None:
    """Where the account pages asked to come back to, if this callback answers their request."""
    asked = session.pop("account_console", None)
    if not asked or not secrets.compare_digest(asked["state"], request.args.get("state", "")):
        return None
    realm = realm_request().realm
    if request.args.get("code"):
        ephemeral().take(keys.authorization_code(realm.id, request.args['code']))  # single use, and unused
    return_to = asked["return_to"]
    if not return_to.startswith(f"/realms/{realm.name}/account"):
        return None
    status = request.args.get("kc_action_status")
    return f"{return_to}{'&' if '?' in return_to else '?'}{urlencode({'kc_action_status': status})}" if status \
        else return_to
