"""The account pages at /realms/{realm}/account (the realm blueprint's `account` area): profile,
second factors, password, email, devices.

Every page needs the browser's SSO session; without one the member is sent to sign in through
the realm's built-in `account-console` client and comes back to the page they asked for.
Setting up a factor or changing the password or email runs the same sign-in steps as a first
sign-in, as Keycloak's application-initiated actions (kc_action); the member comes back with
`kc_action_status` and sees what happened. Changing the email runs UPDATE_EMAIL; a changed
address is unverified, and the account page then offers VERIFY_EMAIL (確認メールを送る).
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp import events
from idp.account import factors, rest
from idp.db import db_session
from idp.db.models import Client, ClientSession, User, UserSession
from idp.i18n import japan_time
from idp.oidc import cors, offline, sessions
from idp.oidc.authorize import account_console_redirect
from idp.realms import ACCOUNT_CONSOLE
from idp.request_context import realm_request

bp = Blueprint("account", __name__, url_prefix="/account")
# keycloak-js's loadUserProfile() reads the account REST representation from the client's page.
cors.init_blueprint(bp, ("home",))

# The steps a member may start here, by the name in the URL, and their Keycloak kc_action.
KC_ACTIONS = {
    "passkey": "webauthn-register",
    "totp": "CONFIGURE_TOTP",
    "password": "UPDATE_PASSWORD",
    "email": "UPDATE_EMAIL",
    "verify-email": "VERIFY_EMAIL",
}
# Where the member comes back to after each of them.
RETURN_PAGES = {
    "passkey": "realm.account.security",
    "totp": "realm.account.security",
    "password": "realm.account.security",
    "email": "realm.account.email_updated",
    "verify-email": "realm.account.home",
}
KC_ACTION_STATUSES = ("success", "cancelled", "error")


class Member:
    """The member of this browser's SSO session."""

    def __init__(self, user: User, user_session: UserSession):
        self.user, self.session = user, user_session


def signed_in_member() -> Member | None:
    session = db_session()
    user_session = sessions.find_session(session, realm_request().realm, sessions.session_id_from_cookie())
    if user_session is None:
        return None
    user = session.get(User, user_session.user_id)
    if user is None or not user.enabled:
        return None
    sessions.touch(user_session)
    return Member(user, user_session)


def account_page(landing: str):
    """The view gets the signed-in member; anyone else signs in first and lands on `landing`
    (the page itself for a GET, its section page for a form sent after the session ended)."""
    def decorate(view):
        @wraps(view)
        def wrapper(**values):
            member = signed_in_member()
            if member is None:
                return sign_in_first(landing)
            return view(member, **values)
        return wrapper
    return decorate


def sign_in_first(landing: str) -> Response:
    db_session().commit()  # find_session may have ended an expired session on the way
    return account_console_redirect(None, url_for(landing))


def record(type: str, member: Member, **details) -> None:
    events.record(db_session(), realm_request().realm.id, type, user_id=member.user.id, session_id=member.session.id,
                  client_id=ACCOUNT_CONSOLE, ip_address=request.remote_addr or "", **details)


def kc_action_notice() -> str | None:
    """The message key for a step the member just came back from (?kc_action_status=...)."""
    status = request.args.get("kc_action_status")
    if status not in KC_ACTION_STATUSES:
        return None
    action = request.args.get("action")
    if status == "success" and action in KC_ACTIONS:
        return f"account.kc_action.success.{action}"
    return f"account.kc_action.{status}"


def show(template: str, member: Member, status: int = 200, **values) -> Response:
    db_session().commit()  # keeps the session's last-seen time
    html = render_template(f"account/{template}", user=member.user, kc_notice=kc_action_notice(),
                           japan_time=japan_time, second_factor_required=realm_request().config.second_factor_required,
                           **values)
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def done(message_key: str, endpoint: str) -> Response:
    """Keep the change, say so on the next page (Post/Redirect/Get)."""
    db_session().commit()
    flash(message_key)
    return redirect(url_for(endpoint), 303)


# --- the account page ------------------------------------------------------------------------

@bp.get("")
def home():
    """The account page for a browser; Keycloak's account REST representation for a relying party."""
    if rest.asked_for():
        return rest.profile()
    return home_page()


@account_page("realm.account.home")
def home_page(member: Member):
    """The member's name, user ID and email, and the way to each section."""
    return show("home.html", member)


@bp.get("/start/<step>")
@account_page("realm.account.home")
def start_step(member: Member, step: str):
    """Add a passkey or app, change the password or email, verify the email: the sign-in step
    does it, and the member comes back here with ?kc_action_status=."""
    if step not in KC_ACTIONS:
        return redirect(url_for("realm.account.home"), 303)
    db_session().commit()
    return account_console_redirect(KC_ACTIONS[step], url_for(RETURN_PAGES[step], action=step))


@bp.get("/email/updated")
@account_page("realm.account.home")
def email_updated(member: Member):
    """Back from UPDATE_EMAIL: a new address is unverified, so VERIFY_EMAIL follows at once
    (Keycloak's kc_action runs one action; the mail's link then verifies it)."""
    status = request.args.get("kc_action_status", "")
    user = member.user
    db_session().commit()
    if status == "success" and user.email and not user.email_verified:
        return account_console_redirect(KC_ACTIONS["verify-email"],
                                        url_for("realm.account.home", action="verify-email"))
    return redirect(url_for("realm.account.home", action="email", kc_action_status=status or None), 303)


# --- second factors --------------------------------------------------------------------------

@bp.get("/security")
@account_page("realm.account.security")
def security(member: Member):
    """多要素認証・ログイン方法: the member's factors, the preferred one, and adding more."""
    user = member.user
    return show("security.html", member, factors=factors.factors(user), kinds=factors.kinds_set_up(user),
                email_codes_on=factors.email_codes_on(user))


@bp.post("/security/preferred")
@account_page("realm.account.security")
def prefer_factor(member: Member):
    """The factor asked for first at sign-in."""
    kind = request.form.get("second_factor", "")
    if not factors.prefer(member.user, kind):
        return done("account.preferred.error.unknown", "realm.account.security")
    record("UPDATE_CREDENTIAL", member, credential_type=kind, preferred_second_factor=kind)
    return done("account.preferred.saved", "realm.account.security")


@bp.post("/security/email-code")
@account_page("realm.account.security")
def email_codes_on(member: Member):
    """Switch codes by email on (the member's verified address receives them)."""
    if factors.email_codes_on(member.user):
        return done("account.email_code.already_on", "realm.account.security")
    if not factors.switch_email_codes_on(member.user):
        return done("account.email_code.needs_verified_email", "realm.account.security")
    record("UPDATE_CREDENTIAL", member, credential_type="email-code", email_code_enabled=True)
    return done("account.email_code.on", "realm.account.security")


def member_factor(member: Member, factor_id: str, renaming: bool = False) -> factors.Factor | None:
    """The member's factor with that id (None: gone already, e.g. removed in another tab)."""
    factor = factors.find_factor(member.user, factor_id)
    if factor is None or (renaming and not factor.renamable):
        return None
    return factor


def factor_gone() -> Response:
    return done("account.factor.not_found", "realm.account.security")


@bp.get("/security/<factor_id>/rename")
@account_page("realm.account.security")
def rename_factor(member: Member, factor_id: str):
    """The name of a passkey or app, to tell the member's devices apart."""
    factor = member_factor(member, factor_id, renaming=True)
    if factor is None:
        return factor_gone()
    return show("rename.html", member, factor=factor, label=factor.label, errors=[])


@bp.post("/security/<factor_id>/rename")
@account_page("realm.account.security")
def save_factor_name(member: Member, factor_id: str):
    factor = member_factor(member, factor_id, renaming=True)
    if factor is None:
        return factor_gone()
    typed = request.form.get("label", "")
    try:
        label = factors.rename(member.user, factor, typed)
    except factors.RenameRefused as refused:
        return show("rename.html", member, status=400, factor=factor, label=typed, errors=[refused.key])
    assert factor.credential is not None  # member_factor(renaming=True) finds passkeys and apps only
    record("UPDATE_CREDENTIAL", member, credential_type=factor.credential.type, credential_id=factor.id,
           credential_label=label)
    return done("account.rename.saved", "realm.account.security")


@bp.get("/security/<factor_id>/remove")
@account_page("realm.account.security")
def remove_factor(member: Member, factor_id: str):
    """削除してもよろしいですか？ — or why this one cannot be removed."""
    factor = member_factor(member, factor_id)
    if factor is None:
        return factor_gone()
    removable = factors.may_remove(member.user, realm_request().config.second_factor_required)
    return show("remove.html", member, factor=factor, removable=removable)


@bp.post("/security/<factor_id>/remove")
@account_page("realm.account.security")
def confirm_remove_factor(member: Member, factor_id: str):
    factor = member_factor(member, factor_id)
    if factor is None:
        return factor_gone()
    try:
        factors.remove(member.user, factor, realm_request().config.second_factor_required)
    except factors.LastFactor:
        return show("remove.html", member, status=409, factor=factor, removable=False)
    if factor.kind == "totp":
        record("REMOVE_TOTP", member, credential_type="otp", credential_id=factor.id)
    else:
        credential_type = factor.credential.type if factor.credential else "email-code"
        record("REMOVE_CREDENTIAL", member, credential_type=credential_type, credential_id=factor.id)
    return done("account.remove.done", "realm.account.security")


# --- signed-in devices -----------------------------------------------------------------------

def member_sessions(member: Member) -> list[UserSession]:
    """The member's live SSO sessions, this one first, then the most recently used."""
    session = db_session()
    found = session.scalars(select(UserSession).where(UserSession.user_id == member.user.id,
                                                      UserSession.realm_id == realm_request().realm.id))
    alive = [s for s in found if sessions.is_alive(realm_request().realm, s)]
    return sorted(alive, key=lambda s: (s.id != member.session.id, -s.last_seen_at.timestamp()))


@bp.get("/sessions")
@account_page("realm.account.devices")
def devices(member: Member):
    """ログイン中の端末: when and from where each one signed in; this one is marked."""
    return show("sessions.html", member, user_sessions=member_sessions(member),
                current_session_id=member.session.id, client_names=_client_names(member),
                offline_apps=_offline_apps(member))


def _offline_apps(member: Member) -> list[tuple[Client, list]]:
    """オフラインアクセスを許可したアプリ: each client with live offline sessions, and those sessions."""
    realm = realm_request().realm
    clients = {client.id: client for client in realm.clients}
    apps: dict[str, list] = {}
    for offline_session in offline.of_member(db_session(), realm, member.user):
        apps.setdefault(offline_session.client_id, []).append(offline_session)
    return [(clients[client_id], found) for client_id, found in apps.items()]


def _client_names(member: Member) -> dict[str, list[str]]:
    """The services each session signed in to, by session id."""
    rows = db_session().execute(
        select(ClientSession.user_session_id, Client.name, Client.client_id)
        .join(Client, Client.id == ClientSession.client_id)
        .join(UserSession, UserSession.id == ClientSession.user_session_id)
        .where(UserSession.user_id == member.user.id)
    )
    names: dict[str, set[str]] = {}
    for session_id, name, client_id in rows:
        names.setdefault(session_id, set()).add(name or client_id)
    return {session_id: sorted(found) for session_id, found in names.items()}


@bp.post("/sessions/others/logout")
@account_page("realm.account.devices")
def sign_out_others(member: Member):
    """他の端末をすべてログアウトする: this browser stays signed in; the others' tokens stop working."""
    ended = sessions.end_other_sessions(db_session(), member.user, keep=member.session)
    if ended:
        record("LOGOUT", member, reason="account_sign_out_others", sessions=ended)
    return done("account.sessions.others_signed_out" if ended else "account.sessions.no_others",
                "realm.account.devices")


@bp.post("/sessions/offline/<client_id>/revoke")
@account_page("realm.account.devices")
def revoke_offline_access(member: Member, client_id: str):
    """An app's offline access revoked: its offline tokens stop working (Keycloak's revoke grant)."""
    found = [s for s in offline.of_member(db_session(), realm_request().realm, member.user) if s.client_id == client_id]
    if not found:
        return done("account.sessions.offline_already_gone", "realm.account.devices")
    offline.end(db_session(), [s.id for s in found])
    record("REVOKE_GRANT", member, revoked_client=client_id)
    return done("account.sessions.offline_revoked", "realm.account.devices")


@bp.post("/sessions/<session_id>/logout")
@account_page("realm.account.devices")
def sign_out_one(member: Member, session_id: str):
    """One other device signed out (this one signs out on the portal)."""
    if session_id == member.session.id:
        return done("account.sessions.this_device_note", "realm.account.devices")
    target = next((s for s in member_sessions(member) if s.id == session_id), None)
    if target is None:
        return done("account.sessions.already_gone", "realm.account.devices")
    sessions.end_session(db_session(), target)
    record("LOGOUT", member, reason="account_sign_out_one", ended_session_id=session_id)
    return done("account.sessions.one_signed_out", "realm.account.devices")
