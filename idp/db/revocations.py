"""Access tokens revoked before they expire (RFC 7009, and the tokens of a replayed code), refused
until their expiry. Durable like the refresh-token families: an ephemeral store that restarts
empty must not bring a revoked token back. Functions flush; the caller commits."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.db.models import RevokedAccessToken, utcnow


def revoke_access_token(session: Session, jti: str, seconds_left: float) -> None:
    """Refuse the access token `jti` for the seconds it has left (at least one). Rows past their
    token's expiry go at the same time, so the table holds only tokens that could still be shown."""
    now = utcnow()
    session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at <= now))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Two clients revoking one token at once both succeed.
    session.execute(insert(RevokedAccessToken)
                    .values(jti=jti, expires_at=now + timedelta(seconds=max(seconds_left, 1)))
                    .on_conflict_do_nothing())
    session.flush()


def access_token_revoked(session: Session, jti: str) -> bool:
    return session.get(RevokedAccessToken, jti) is not None
