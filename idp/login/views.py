"""The hosted sign-in page (SPEC §1) and the pages around it, under `/realms/{realm}/login-actions/`."""
from __future__ import annotations

from flask import Flask, g, make_response, render_template, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from idp.authenticators.password import PasswordAuthenticator
from idp.db import db_session
from idp.db.models import Client
from idp.login import auth_session, otp
from idp.oidc import sessions
from idp.oidc.authorize import resume_authorization
from idp.oidc.views import bp as realm_bp
from idp.realms import find_client

class SignInForm(FlaskForm):
    """ユーザID, パスワード, ログイン状態の保存."""

    tab_id = HiddenField()
    username = StringField(validators=[InputRequired(message="login.missing_username"), Length(max=255)])
    password = PasswordField(validators=[InputRequired(message="login.missing_password"), Length(max=1024)])
    remember_me = BooleanField()


def begin_sign_in(authorization_request: dict, client: Client) -> Response:
    """Start an auth session for a validated authorization request and show the sign-in page."""
    auth = auth_session.start(client.client_id, authorization_request)
    form = SignInForm(formdata=None, tab_id=auth.tab_id, username=authorization_request.get("login_hint", ""))
    response = _sign_in_page(form, client)
    auth_session.set_cookie(response, auth)
    return response


def _sign_in_page(form: SignInForm, client: Client | None, error_key: str | None = None, status: int = 200):
    realm_settings = g.realm_config
    page = render_template(
        "login.html", form=form, client=client, error_key=error_key,
        remember_me_allowed=realm_settings.remember_me, portal_url=_portal_url(client),
    )
    return make_response(page, status)


def _portal_url(client: Client | None) -> str | None:
    if client is None:
        return None
    return client.base_url or (client.redirect_uris[0] if client.redirect_uris else None)


@realm_bp.post("/login-actions/authenticate")
def authenticate():
    """Check the member's user ID and password, then return to the relying party with a code."""
    form = SignInForm()
    auth = auth_session.load(form.tab_id.data or request.args.get("tab_id"))
    if auth is None:
        return session_expired()
    client = find_client(db_session(), g.realm, auth.client_id)
    if not form.validate():
        return _sign_in_page(form, client, status=400)
    result = PasswordAuthenticator(db_session(), g.realm, g.settings).authenticate(form.username.data, form.password.data)
    if result.user is None:
        db_session().commit()  # keep nothing but what the authenticator chose to record
        form.password.data = ""
        return _sign_in_page(form, client, error_key=result.error, status=401)
    remember = bool(form.remember_me.data) and g.realm_config.remember_me
    if otp.devices(result.user):
        db_session().commit()  # a rehashed password is kept even if the code step is abandoned
        return otp.ask_for_code(auth, result.user, remember)
    user_session = sessions.start_session(db_session(), g.realm, result.user, remember_me=remember,
                                          ip_address=request.remote_addr or "")
    auth_session.finish(auth)
    return resume_authorization(auth.request, user_session)


def session_expired() -> Response:
    """The friendly page for a sign-in that took too long or was already finished."""
    page = render_template("error.html", message_key="error.session_expired")
    return make_response(page, 400)


@realm_bp.get("/login-actions/reset-credentials")
def forgot_password():
    """パスワードを忘れた方はこちら: until self-service recovery exists, how to get help."""
    return render_template("recovery.html", title_key="recovery.password.title", client=_client_from_args())


@realm_bp.get("/login-actions/forgot-user-id")
def forgot_user_id():
    """ユーザIDを忘れた方はこちら: how to get the user ID back."""
    return render_template("recovery.html", title_key="recovery.user_id.title", client=_client_from_args())


def _client_from_args() -> Client | None:
    return find_client(db_session(), g.realm, request.args.get("client_id"))


def init_app(app: Flask) -> None:
    """The routes above live on the realm blueprint; importing this module registers them."""
