"""Auth sessions: one sign-in in progress, kept in the ephemeral store per browser tab.

The browser holds a root id in a cookie; each tab adds its own `tab_id` (carried in every
form, as Keycloak does), so two tabs signing in at once never overwrite each other.
"""
from __future__ import annotations

import copy
import secrets
import time
from dataclasses import asdict, dataclass, field

from flask import g, request
from werkzeug.wrappers import Response

from idp.ephemeral import ephemeral, keys
from idp.flows.engine import Progress
from idp.request_context import realm_request

COOKIE = "AUTH_SESSION_ID"


@dataclass
class AuthSession:
    """A sign-in in progress: which client asked, with which request, and how far it got."""

    root_id: str
    tab_id: str
    client_id: str
    request: dict
    progress: Progress  # kept as JSON in the store, like the rest
    started_at: float = field(default_factory=time.time)
    user_id: str | None = None
    remember_me: bool = False
    # Keycloak's application-initiated action (kc_action): its alias, how it ended, and the
    # SSO session it runs in when the member was already signed in.
    kc_action: str | None = None
    kc_action_status: str | None = None
    sso_session_id: str | None = None
    # A flow run outside a relying party's sign-in (no authorization request), e.g. recovery or
    # an administrator's mailed actions: what its done page says (message key) and links to.
    done_page: dict | None = None
    # The sign-in tab a recovery page came from (its ログイン画面に戻る link).
    login_tab_id: str | None = None

    @property
    def key(self) -> str:
        return keys.auth_session(realm_request().realm.id, self.root_id, self.tab_id)

    @classmethod
    def from_json(cls, stored: dict) -> AuthSession:
        """The session as `save` stored it (a copy: changing it changes nothing stored)."""
        return cls(**{**copy.deepcopy(stored), "progress": Progress(**copy.deepcopy(stored["progress"]))})


def start(client_id: str, authorization_request: dict, progress: Progress, **fields) -> AuthSession:
    root_id = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
    auth = AuthSession(root_id=root_id, tab_id=secrets.token_urlsafe(8), client_id=client_id,
                       request=authorization_request, progress=progress, **fields)
    save(auth)
    return auth


def save(auth: AuthSession) -> None:
    _read_this_request().pop(auth.key, None)
    ephemeral().put(auth.key, asdict(auth), realm_request().config.tokens.login_timeout)


def load(tab_id: str | None) -> AuthSession | None:
    root_id = request.cookies.get(COOKIE)
    if not root_id or not tab_id:
        return None
    key = keys.auth_session(realm_request().realm.id, root_id, tab_id)
    read = _read_this_request()
    if key not in read:
        read[key] = ephemeral().get(key)
    stored = read[key]
    return AuthSession.from_json(stored) if stored else None


def _read_this_request() -> dict[str, dict | None]:
    """What `load` read from the store during this request, until `save` or `finish` changes it:
    the rate limiter reads a step form's session before the view does, and once is enough."""
    return g.setdefault("auth_sessions_read", {})


def finish(auth: AuthSession) -> None:
    _read_this_request().pop(auth.key, None)
    ephemeral().delete(auth.key)


def set_cookie(response: Response, auth: AuthSession) -> None:
    here = realm_request()
    response.set_cookie(COOKIE, auth.root_id, path=f"/realms/{here.realm.name}/", httponly=True, samesite="Lax",
                        secure=here.settings.base_url_is_https)
