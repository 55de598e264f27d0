"""Signing members in and out through the identity provider (OpenID Connect code flow with PKCE)."""
from __future__ import annotations

import secrets
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, redirect, render_template, session, url_for

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    config = app.config
    oauth = OAuth(app)
    app.extensions["portal.idp"] = oauth.register(
        "idp",
        client_id=config["PORTAL_CLIENT_ID"],
        client_secret=config["KOSMO_PORTAL_SECRET"],
        server_metadata_url=f"{config['PORTAL_IDP_URL'].rstrip('/')}/realms/{config['PORTAL_REALM']}"
        "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )
    app.register_blueprint(bp)


def identity_provider():
    """The Authlib client for this app's identity provider."""
    return current_app.extensions["portal.idp"]


def portal_url(path: str) -> str:
    # Built from PORTAL_URL, not the request's host: the identity provider matches
    # redirect URIs exactly, and localhost is not 127.0.0.1.
    return current_app.config["PORTAL_URL"].rstrip("/") + path


def member_name(userinfo: dict) -> str:
    """The member's name as the identity provider tells it, most complete form first."""
    if userinfo.get("name"):
        return userinfo["name"]
    family, given = userinfo.get("family_name", ""), userinfo.get("given_name", "")
    if family or given:
        return f"{family} {given}".strip()
    return userinfo.get("preferred_username", "")


@bp.get("/login")
def login():
    """Send the member to the identity provider's sign-in page."""
    try:
        return identity_provider().authorize_redirect(portal_url("/callback"))
    except requests.RequestException:
        return render_template("problem.html", message_key="portal.error.idp_unreachable"), 503


@bp.get("/callback")
def callback():
    """Take the member back from the identity provider and keep who they are in the session."""
    try:
        token = identity_provider().authorize_access_token()
    except OAuthError:
        return render_template("problem.html", message_key="portal.error.sign_in_failed"), 400
    except requests.RequestException:
        return render_template("problem.html", message_key="portal.error.idp_unreachable"), 503
    session.clear()
    session["id_token"] = token["id_token"]
    session["userinfo"] = dict(token["userinfo"])
    # The SSO session this sign-in belongs to: a back-channel logout names it (backchannel.py).
    session["sid"] = token["userinfo"].get("sid")
    return redirect(url_for("pages.top"))


@bp.get("/logout/confirm")
def logout_confirm():
    """The sign-out question as a page, for browsers that do not run the dialog's script."""
    if "id_token" not in session:
        return redirect(url_for("pages.top"))
    return render_template("logout_confirm.html")


@bp.post("/logout")
def logout():
    """End the portal's session, then ask the identity provider to end its own (RP-initiated logout)."""
    id_token = session.get("id_token")
    session.clear()
    end_session = _end_session_endpoint()
    if not id_token or not end_session:
        return redirect(url_for("pages.top"))
    state = secrets.token_urlsafe(16)
    session["logout_state"] = state
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": portal_url("/"),
            "client_id": current_app.config["PORTAL_CLIENT_ID"],
            "state": state,
        }
    )
    return redirect(f"{end_session}?{query}")


def _end_session_endpoint() -> str | None:
    try:
        return identity_provider().load_server_metadata().get("end_session_endpoint")
    except requests.RequestException:
        return None
