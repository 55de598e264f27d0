"""OpenID Connect endpoints at Keycloak's paths under `/realms/{realm}` (the realm blueprint's `oidc` area).

Signing in is page code this package does not import: the factory hands `init_app` the function
that starts a sign-in, and the authorization endpoint calls it."""
from __future__ import annotations

from collections.abc import Callable

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Flask, current_app, jsonify, make_response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from idp.db import db_session
from idp.db.models import Client, User, UserSession
from idp.extensions import csrf
from idp.oidc import authorize as authorization
from idp.oidc import cors, keys, session_iframe, sessions, tokens
from idp.oidc.discovery import discovery_document
from idp.oidc.live_tokens import lookup_token
from idp.oidc.server import create_server
from idp.request_context import realm_request

# Starts the realm's sign-in for an authorization request (its saved parameters, the client, the
# browser's SSO session when kc_action runs in it) and answers with the first page.
SignInStarter = Callable[[dict, Client, UserSession | None], Response]

bp = Blueprint("oidc", __name__)
cors.init_blueprint(bp, cors.PROTOCOL_ENDPOINTS)


@bp.get("")
def realm_info():
    """Realm information as python-keycloak's `public_key()` and keycloak-js read it."""
    here = realm_request()
    signing_key = keys.active_key(db_session(), here.realm)
    return jsonify({
        "realm": here.realm.name,
        "public_key": keys.public_key_pem_body(signing_key),
        "token-service": f"{here.issuer}/protocol/openid-connect",
        "account-service": f"{here.issuer}/account",
        "tokens-not-before": here.realm.not_before,
    })


@bp.get("/.well-known/openid-configuration")
def openid_configuration():
    """OpenID Connect Discovery 1.0 §4, with Keycloak's keys."""
    return jsonify(discovery_document(realm_request().issuer))


@bp.get("/protocol/openid-connect/certs")
def certs():
    """The realm's published signing keys (JWKS)."""
    return jsonify(keys.jwks(db_session(), realm_request().realm))


@bp.route("/protocol/openid-connect/auth", methods=["GET", "POST"])
def authorize():
    """Authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2): SSO, or the sign-in page."""
    args = authorization.saved_request(request.values)
    user_session = authorization.sso_session_for(args)
    if user_session is not None and not args.get("kc_action"):
        return authorization.resume_authorization(args, user_session)
    user = db_session().get(User, user_session.user_id) if user_session else None
    try:
        _req, grant = authorization.validate(args, user, user_session)
    except OAuth2Error as error:
        return authorization.error_response(error, args)
    begin_sign_in: SignInStarter = current_app.extensions["idp.begin_sign_in"]
    return begin_sign_in(args, grant.request.client.model, user_session)


@bp.post("/protocol/openid-connect/token")
def token():
    """Token endpoint (RFC 6749 §3.2): code, refresh, password and client-credentials grants."""
    return authorization.server().create_token_response()


@bp.post("/protocol/openid-connect/token/introspect")
def introspect():
    """Token introspection (RFC 7662)."""
    return authorization.server().create_endpoint_response("introspection")


@bp.post("/protocol/openid-connect/revoke")
def revoke():
    """Token revocation (RFC 7009)."""
    return authorization.server().create_endpoint_response("revocation")


@bp.route("/protocol/openid-connect/userinfo", methods=["GET", "POST"])
def userinfo():
    """UserInfo endpoint (OIDC Core §5.3): the bearer token's user, as Keycloak answers."""
    header = request.headers.get("Authorization", "")
    raw = header[7:].strip() if header.lower().startswith("bearer ") else request.form.get("access_token")
    claims = lookup_token(raw) if raw else None
    if claims is None or claims.get("typ") != "Bearer":
        return _bearer_error("invalid_token", "Token verification failed")
    user = db_session().get(User, claims["sub"])
    if user is None or not user.enabled:
        return _bearer_error("invalid_token", "User not found")
    body = {"sub": user.id}
    body.update(tokens.profile_claims(user, claims.get("scope", ""), realm_request().realm))
    return _no_store(jsonify(body))


def _bearer_error(error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="{realm_request().realm.name}", error="{error}", error_description="{description}"'
    )
    return response


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/protocol/openid-connect/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout 1.0, plus Keycloak's refresh-token logout (204) for python-keycloak."""
    from idp.oidc import logout as ending

    if request.method == "POST" and "refresh_token" in request.form:
        return ending.logout_with_refresh_token()
    return ending.logout_in_browser()


@bp.get("/protocol/openid-connect/login-status-iframe.html")
def login_status_iframe():
    """The session-status iframe keycloak-js frames: its script answers "client_id session_state"
    messages with "unchanged", "changed" or "error"."""
    return session_iframe.framed_page("login-status-iframe.js", "session_iframe.title", {
        "init-url": url_for("realm.oidc.login_status_iframe_init"), "state-cookie": sessions.STATE_COOKIE})


@bp.get("/protocol/openid-connect/login-status-iframe.html/init")
def login_status_iframe_init():
    """Whether a client's page on `origin` may ask the session-status iframe (204 or 403)."""
    return session_iframe.origin_checked()


@bp.get("/protocol/openid-connect/3p-cookies/step1.html")
def third_party_cookies_step1():
    """The third-party-cookie check, first page: sets a test cookie and goes on to step 2."""
    return session_iframe.framed_page("3p-cookies-step1.js", "session_iframe.cookie_check_title",
                                      {"next-url": url_for("realm.oidc.third_party_cookies_step2")})


@bp.get("/protocol/openid-connect/3p-cookies/step2.html")
def third_party_cookies_step2():
    """The third-party-cookie check, second page: tells the framing page "supported" or "unsupported"."""
    return session_iframe.framed_page("3p-cookies-step2.js", "session_iframe.cookie_check_title", {})


@bp.get("/account/callback")
def account_callback():
    """Where the account console's sign-in (or kc_action) ends: back to the account page."""
    if request.args.get("error"):
        return make_response(render_template("error.html", message_key="error.invalid_request"), 400)
    target = authorization.account_console_return()
    if target is None:
        return make_response(render_template("error.html", message_key="error.session_expired"), 400)
    return redirect(target)


@bp.errorhandler(OAuth2Error)
def oauth_error(error: OAuth2Error):
    """Authlib's typed errors raised before its own handling begins: Authlib refuses an
    IDP_BASE_URL on plain HTTP for a host other than this machine (insecure_transport)."""
    return authorization.server().handle_error_response(None, error)


def init_app(app: Flask, begin_sign_in: SignInStarter) -> None:
    """The OAuth server and the sign-in it hands over to; the factory registers `bp` under the realm."""
    app.extensions["idp.oidc_server"] = create_server(app)
    app.extensions["idp.begin_sign_in"] = begin_sign_in
    # Relying parties call these with their own credentials, not a browser form; and OIDC Core
    # §3.1.2.1 lets a relying party POST the authorization request from its own page.
    for view in (authorize, token, introspect, revoke, userinfo, logout):
        csrf.exempt(view)
