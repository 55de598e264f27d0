"""Audit events in Keycloak's vocabulary (LOGIN, LOGIN_ERROR, UPDATE_EMAIL, USER_LOCKED, ...)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from idp.db.models import AuditEvent


def record(session: Session, realm_id: str, type: str, *, user_id: str | None = None, client_id: str | None = None,
           session_id: str | None = None, ip_address: str = "", error: str | None = None, **details) -> AuditEvent:
    """Add an event to the caller's transaction (it is kept only if the change it describes is)."""
    event = AuditEvent(realm_id=realm_id, type=type, user_id=user_id, client_id=client_id, session_id=session_id,
                       ip_address=ip_address, error=error, details={k: v for k, v in details.items() if v is not None})
    session.add(event)
    return event
