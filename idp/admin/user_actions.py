"""What administrators do to a user: set a password, sign them out everywhere, list their sessions."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from idp.admin.api import caller, changed, json_body, member
from idp.admin.representations import session_representation
from idp.admin.user_input import read_password
from idp.admin.users import set_checked_password
from idp.db import db_session
from idp.db.models import Client, UserSession
from idp.oidc import sessions
from idp.request_context import realm_request

bp = Blueprint("user_actions", __name__)


@bp.put("/users/<user_id>/reset-password")
def reset_password(user_id: str):
    """A new password under the realm's policy; `temporary` makes the member change it next time."""
    caller().require("manage-users")
    user = member(user_id)
    password = read_password(json_body())
    set_checked_password(user, password)
    return changed("ACTION", user, f"users/{user.id}/reset-password", temporary=password["temporary"])


@bp.post("/users/<user_id>/logout")
def logout_user(user_id: str):
    """End every SSO session of the user; their refresh tokens stop working with them."""
    caller().require("manage-users")
    user = member(user_id)
    ended = sessions.end_other_sessions(db_session(), user)
    return changed("ACTION", user, f"users/{user.id}/logout", sessions=ended)


@bp.get("/users/<user_id>/sessions")
def user_sessions(user_id: str):
    """The user's live SSO sessions, with the clients each one signed in to."""
    caller().require("view-users")
    session, user, realm = db_session(), member(user_id), realm_request().realm
    rows = session.scalars(select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.started_at))
    live = [row for row in rows if sessions.is_alive(realm, row)]
    clients = {client.id: client for client in session.scalars(select(Client).where(Client.realm_id == realm.id))}
    return jsonify([session_representation(row, user, clients) for row in live])
