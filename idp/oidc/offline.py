"""Offline sessions (Keycloak's `offline_access` scope): started from an SSO session for one
client, they outlive it (logout, idle and max lifespans of the SSO session) and end only when
idle longer than the realm's `offline_session_idle_timeout`, or when revoked."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.db.models import Client, OfflineSession, Realm, User, UserSession, utcnow
from idp.realms import realm_config

OFFLINE_ACCESS = "offline_access"


def start(session: Session, user_session: UserSession, client: Client) -> OfflineSession:
    """The client's offline session started from `user_session` (one per SSO session and client, as Keycloak's)."""
    found = session.scalar(select(OfflineSession).where(OfflineSession.origin_session_id == user_session.id,
                                                        OfflineSession.client_id == client.id))
    if found is None:
        found = OfflineSession(realm_id=user_session.realm_id, user_id=user_session.user_id, client_id=client.id,
                               origin_session_id=user_session.id, auth_time=user_session.auth_time,
                               acr=user_session.acr, ip_address=user_session.ip_address)
        session.add(found)
        session.flush()
    return found


def is_alive(realm: Realm, offline_session: OfflineSession) -> bool:
    idle = realm_config(realm).tokens.offline_session_idle_timeout
    return utcnow() - offline_session.last_seen_at < timedelta(seconds=idle)


def find(session: Session, realm: Realm, offline_session_id: str | None) -> OfflineSession | None:
    """The live offline session with that id; one idle too long is ended on the way, as Keycloak revokes it."""
    if not offline_session_id:
        return None
    offline_session = session.get(OfflineSession, offline_session_id)
    if offline_session is None or offline_session.realm_id != realm.id:
        return None
    if not is_alive(realm, offline_session):
        end(session, [offline_session.id])
        return None
    return offline_session


def touch(offline_session: OfflineSession) -> None:
    offline_session.last_seen_at = utcnow()


def of_member(session: Session, realm: Realm, user: User, client: Client | None = None) -> list[OfflineSession]:
    """The member's live offline sessions (of one client, when given), oldest first."""
    query = select(OfflineSession).where(OfflineSession.user_id == user.id).order_by(OfflineSession.started_at)
    if client is not None:
        query = query.where(OfflineSession.client_id == client.id)
    return [s for s in session.scalars(query) if is_alive(realm, s)]


def end(session: Session, ids: list[str]) -> None:
    """End offline sessions; their token families go with them (ON DELETE CASCADE)."""
    for loaded in [session.get(OfflineSession, i) for i in ids]:
        if loaded is not None:
            session.expunge(loaded)
    session.execute(delete(OfflineSession).where(OfflineSession.id.in_(ids)))
    session.flush()
