"""SSO sessions (the `sid` claim): start, look up with idle and max lifetimes, end.

The browser holds the session id in a signed cookie scoped to the realm's path; the row in
`user_sessions` is the truth, so ending a session anywhere ends it everywhere.
"""
from __future__ import annotations

import base64
import hashlib
import time
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from idp.db.models import Client, ClientSession, Realm, RefreshTokenFamily, User, UserSession, utcnow
from idp.oidc.logout_notices import owe_logout_notices
from idp.realms import realm_config
from idp.security.brute_force import disable_for_lockout

COOKIE = "KC_IDP_SESSION"
# What the session-status iframe's script reads (Keycloak 26's KEYCLOAK_SESSION): the SHA-256 of
# the session id, which relying parties see as `session_state` and `sid` anyway.
STATE_COOKIE = "KC_IDP_SESSION_STATE"


def lifetimes(realm: Realm, remember_me: bool) -> tuple[int, int]:
    """(idle timeout, max lifespan) in seconds, as Keycloak chooses them."""
    tokens = realm_config(realm).tokens
    if remember_me:
        return (tokens.remember_me_idle_timeout or tokens.sso_session_idle_timeout,
                tokens.remember_me_max_lifespan or tokens.sso_session_max_lifespan)
    return tokens.sso_session_idle_timeout, tokens.sso_session_max_lifespan


def start_session(session: Session, realm: Realm, user: User, *, remember_me: bool, ip_address: str) -> UserSession:
    user_session = UserSession(
        realm_id=realm.id, user_id=user.id, auth_time=int(time.time()), remember_me=remember_me, ip_address=ip_address
    )
    session.add(user_session)
    session.flush()
    return user_session


def is_alive(realm: Realm, user_session: UserSession) -> bool:
    idle, longest = lifetimes(realm, user_session.remember_me)
    now = utcnow()
    return (now - user_session.last_seen_at < timedelta(seconds=idle)
            and now - user_session.started_at < timedelta(seconds=longest))


def find_session(session: Session, realm: Realm, session_id: str | None) -> UserSession | None:
    """The live session with that id (expired ones are ended on the way)."""
    if not session_id:
        return None
    user_session = session.get(UserSession, session_id)
    if user_session is None or user_session.realm_id != realm.id:
        return None
    if not is_alive(realm, user_session):
        end_session(session, user_session)
        return None
    return user_session


def touch(user_session: UserSession) -> None:
    user_session.last_seen_at = utcnow()


def attach_client(session: Session, user_session: UserSession, client: Client) -> None:
    exists = session.scalar(
        select(ClientSession).where(
            ClientSession.user_session_id == user_session.id, ClientSession.client_id == client.id
        )
    )
    if exists is None:
        session.add(ClientSession(user_session_id=user_session.id, client_id=client.id))


def clients_of(session: Session, user_session: UserSession) -> list[Client]:
    """The relying parties signed in through this session."""
    return list(session.scalars(select(Client).join(ClientSession, ClientSession.client_id == Client.id)
                                .where(ClientSession.user_session_id == user_session.id)))


def end_session(session: Session, user_session: UserSession) -> None:
    """End one SSO session: its client sessions and refresh-token families go with it. Every way
    a session ends comes here, so here its relying parties are owed their logout tokens."""
    owe_logout_notices(session, user_session, clients_of(session, user_session))
    session.execute(delete(RefreshTokenFamily).where(RefreshTokenFamily.user_session_id == user_session.id))
    session.execute(delete(ClientSession).where(ClientSession.user_session_id == user_session.id))
    session.delete(user_session)
    session.flush()


def end_other_sessions(session: Session, user: User, keep: UserSession | None = None) -> int:
    """End every session of the user but `keep`; used by 'sign out of all devices'."""
    ended = 0
    for user_session in session.scalars(select(UserSession).where(UserSession.user_id == user.id)):
        if keep is None or user_session.id != keep.id:
            end_session(session, user_session)
            ended += 1
    return ended


def lock_out(session: Session, member: User) -> None:
    """A permanent lockout disables the member and ends their sessions, as disabling them does."""
    disable_for_lockout(member)
    end_other_sessions(session, member)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sso-session")


def cookie_path(realm: Realm) -> str:
    return f"/realms/{realm.name}/"


def session_id_from_cookie() -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        return _serializer().loads(raw)
    except BadSignature:
        return None


def set_session_cookie(response: Response, realm: Realm, user_session: UserSession) -> None:
    """HttpOnly, SameSite=Lax, Secure over https; persistent only with remember-me."""
    settings = current_app.config["IDP_SETTINGS"]
    max_age = lifetimes(realm, True)[1] if user_session.remember_me else None
    response.set_cookie(
        COOKIE, _serializer().dumps(user_session.id), max_age=max_age, path=cookie_path(realm),
        httponly=True, samesite="Lax", secure=settings.base_url_is_https,
    )
    # Read in an iframe on the relying party's page: a third-party context over https.
    response.set_cookie(
        STATE_COOKIE, session_state_hash(user_session.id), max_age=max_age, path=cookie_path(realm),
        samesite="None" if settings.base_url_is_https else "Lax", secure=settings.base_url_is_https,
    )


def session_state_hash(session_id: str) -> str:
    digest = hashlib.sha256(session_id.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def clear_session_cookie(response: Response, realm: Realm) -> None:
    settings = current_app.config["IDP_SETTINGS"]
    response.delete_cookie(COOKIE, path=cookie_path(realm), httponly=True, samesite="Lax",
                           secure=settings.base_url_is_https)
    response.delete_cookie(STATE_COOKIE, path=cookie_path(realm), samesite="None" if settings.base_url_is_https
                           else "Lax", secure=settings.base_url_is_https)
