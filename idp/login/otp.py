"""The one-time-password step of sign-in, for members who have an authenticator app (Keycloak's
browser flow: password, then OTP when the user has one)."""
from __future__ import annotations

from flask import g, make_response, render_template, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import InputRequired, Length

from idp.authenticators import totp
from idp.db import db_session
from idp.db.models import Credential, User, utcnow
from idp.db.users import otp_key
from idp.ephemeral import ephemeral
from idp.login import auth_session
from idp.oidc import sessions
from idp.oidc.authorize import resume_authorization
from idp.oidc.views import bp as realm_bp


class OtpForm(FlaskForm):
    tab_id = HiddenField()
    device = RadioField(validate_choice=False)
    otp = StringField(validators=[InputRequired(message="otp.missing"), Length(max=10, message="otp.invalid")])


def devices(user: User) -> list[Credential]:
    return [credential for credential in user.credentials if credential.type == "otp"]


def ask_for_code(auth: auth_session.AuthSession, user: User, remember_me: bool) -> Response:
    """Remember that the password was right and show the code page."""
    auth.user_id, auth.remember_me = user.id, remember_me
    auth_session.save(auth)
    form = OtpForm(formdata=None, tab_id=auth.tab_id)
    return _page(form, user, auth)


def _page(form: OtpForm, user: User, auth, error_key: str | None = None, status: int = 200) -> Response:
    choices = [(c.id, c.user_label or c.id[:8]) for c in devices(user)]
    form.device.choices = choices
    if form.device.data is None and choices:
        form.device.data = choices[0][0]
    page = render_template("otp.html", form=form, error_key=error_key, auth=auth, several=len(choices) > 1)
    return make_response(page, status)


@realm_bp.post("/login-actions/otp")
def check_code():
    """Accept a code from one of the member's devices, once, then finish signing in."""
    form = OtpForm()
    auth = auth_session.load(form.tab_id.data or request.args.get("tab_id"))
    if auth is None or auth.user_id is None:
        from idp.login.views import session_expired

        return session_expired()
    session = db_session()
    user = session.get(User, auth.user_id)
    if not form.validate():
        return _page(form, user, auth, status=400)
    device = _chosen_device(user, form.device.data)
    if device is None or not _accept(device, form.otp.data):
        form.otp.data = ""
        return _page(form, user, auth, error_key="otp.invalid", status=401)
    device.last_used_at = utcnow()
    user_session = sessions.start_session(session, g.realm, user, remember_me=auth.remember_me,
                                          ip_address=request.remote_addr or "")
    auth_session.finish(auth)
    return resume_authorization(auth.request, user_session)


def _chosen_device(user: User, device_id: str | None) -> Credential | None:
    available = devices(user)
    chosen = [c for c in available if c.id == device_id]
    return chosen[0] if chosen else (available[0] if len(available) == 1 else None)


def _accept(device: Credential, code: str) -> bool:
    """Check the code and record its time step (or counter) so the same code works only once."""
    params = totp.device_parameters(device.credential_data)
    key = otp_key(device)
    if device.credential_data.get("subType") == "hotp":
        counter = totp.matching_counter(key, code, counter=int(device.credential_data.get("counter", 0)),
                                        digits=params["digits"], algorithm=params["algorithm"])
        if counter is None:
            return False
        device.credential_data = dict(device.credential_data, counter=counter + 1)
        return True
    step = totp.matching_step(key, code, **params)
    if step is None:
        return False
    return ephemeral().add(f"otp-used:{device.id}:{step}", {}, params["period"] * 4)
