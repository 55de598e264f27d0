"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the logout tokens an ended SSO
session owes its relying parties, and their delivery after the commit, off the member's request.

`sessions.end_session` calls `owe_logout_notices`; the notices wait in the database session's
`info` and leave only when it commits (a rolled-back ending told nobody anything). Each is POSTed
from a background thread, tried `TRIES` times with a growing wait, so a slow or absent relying
party never delays the page that ended the session.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import requests
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.db.models import Client, Realm, UserSession
from idp.oidc import tokens

log = logging.getLogger("idp.backchannel_logout")

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# §2.4: a logout token is short-lived; Keycloak gives it the access token's lifespan at most.
LOGOUT_TOKEN_LIFESPAN = 120
TRIES = 3
TIMEOUT_SECONDS = 5
PENDING = "backchannel_logout_notices"


@dataclass(frozen=True)
class LogoutNotice:
    """One logout token for one relying party's back-channel logout URL."""

    realm: str
    client_id: str
    session_id: str
    url: str
    logout_token: str


def logout_token_claims(issuer: str, client: Client, user_session: UserSession, now: int) -> dict:
    """§2.4's claims: `events` names the logout, `sid` when the client asks for it, never `nonce`.
    Keycloak adds `revoke_offline_access` for clients set to revoke offline tokens on logout."""
    claims = {"iss": issuer, "aud": client.client_id, "iat": now, "exp": now + LOGOUT_TOKEN_LIFESPAN,
              "jti": str(uuid.uuid4()), "sub": user_session.user_id, "typ": "Logout",
              "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}
    if client.attributes.get("backchannel_logout_session_required", True):
        claims["sid"] = user_session.id
    if client.attributes.get("backchannel_logout_revoke_offline_tokens"):
        claims["revoke_offline_access"] = True
    return claims


def owe_logout_notices(session: Session, user_session: UserSession, clients: list[Client]) -> None:
    """Sign a logout token for each of the session's `clients` with a back-channel logout URL;
    they are sent once `session` commits."""
    realm = session.get(Realm, user_session.realm_id)
    if realm is None:
        return
    issuer, now = current_app.config["IDP_SETTINGS"].issuer(realm.name), int(time.time())
    pending = session.info.setdefault(PENDING, [])
    for client in clients:
        url = client.attributes.get("backchannel_logout_url")
        if client.enabled and url:
            claims = logout_token_claims(issuer, client, user_session, now)
            token = tokens.sign(session, realm, claims, typ="logout+jwt")
            pending.append(LogoutNotice(realm.name, client.client_id, user_session.id, url, token))


def _send_after_commit(session: Session) -> None:
    notices = session.info.pop(PENDING, [])
    if notices:
        # The app itself, not the proxy: the sending thread has no app context. Flask documents
        # _get_current_object, but its proxy type does not declare it.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        threading.Thread(target=deliver, args=(app, notices), name="backchannel-logout", daemon=True).start()


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


def deliver(app: Flask, notices: list[LogoutNotice]) -> None:
    """POST each notice (§2.5: `logout_token` form parameter), retrying with a doubling wait; a
    notice that never gets a 2xx is logged once, with its client and session."""
    first_wait = app.config["IDP_SETTINGS"].backchannel_logout_retry_ms / 1000
    metrics = app.extensions["idp.metrics"]
    for notice in notices:
        problem = _post_with_retries(notice, first_wait, metrics)
        if problem is None:
            metrics.count_backchannel_logout(notice.realm, "success")
        else:
            metrics.count_backchannel_logout(notice.realm, "failure")
            log.warning("back-channel logout to client %s for session %s failed after %d tries: %s",
                        notice.client_id, notice.session_id, TRIES, problem)


def _post_with_retries(notice: LogoutNotice, first_wait: float, metrics) -> str | None:
    """None once the relying party accepted the token, else the last problem."""
    problem = None
    for attempt in range(TRIES):
        if attempt:
            metrics.count_backchannel_logout(notice.realm, "retry")
            time.sleep(first_wait * 2 ** (attempt - 1))
        try:
            response = requests.post(notice.url, data={"logout_token": notice.logout_token}, timeout=TIMEOUT_SECONDS,
                                     headers={"Cache-Control": "no-store"}, allow_redirects=False)
        except requests.RequestException as exc:
            problem = type(exc).__name__
            continue
        if 200 <= response.status_code < 300:
            return None
        problem = f"HTTP {response.status_code}"
    return problem


def init_app(app: Flask) -> None:
    """Send the notices a commit settles; drop those of a rollback. Listening on the Session class
    covers every database session, however it was made; registered once per process."""
    if not event.contains(Session, "after_commit", _send_after_commit):
        event.listen(Session, "after_commit", _send_after_commit)
        event.listen(Session, "after_rollback", _forget_after_rollback)
