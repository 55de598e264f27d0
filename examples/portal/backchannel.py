"""Back-channel logout at the portal (OpenID Connect Back-Channel Logout 1.0 §2.6-§2.8): the
identity provider POSTs a signed logout token when a member's SSO session ends anywhere (the
account page's ログイン中の端末, a password reset, an administrator), and the portal session
signed in through that `sid` ends at its next request."""
from __future__ import annotations

import threading
import time

import requests
from flask import Blueprint, Flask, current_app, jsonify, request, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from examples.portal.auth import identity_provider

bp = Blueprint("backchannel", __name__)

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# How long an ended `sid` is remembered: longer than any portal session signed in through it.
REMEMBER_SECONDS = 24 * 3600
# A logout token older than this is refused (§2.6 lets the receiver choose).
OLDEST_TOKEN_SECONDS = 300


class InvalidLogoutToken(ValueError):
    """A logout token the portal must refuse (§2.8: answered with 400)."""


class EndedSessions:
    """The SSO sessions the identity provider said have ended, by `sid`. The demo portal runs as
    one process, so it keeps them in memory; a portal of several processes keeps them shared."""

    def __init__(self):
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, sid: str) -> None:
        now = time.time()
        with self._lock:
            self._ended = {key: at for key, at in self._ended.items() if now - at < REMEMBER_SECONDS}
            self._ended[sid] = now

    def has_ended(self, sid: str) -> bool:
        with self._lock:
            return sid in self._ended


def init_app(app: Flask, csrf) -> None:
    app.extensions["portal.ended_sessions"] = EndedSessions()
    app.before_request(_forget_an_ended_session)
    csrf.exempt(receive_logout_token)
    app.register_blueprint(bp)


def ended_sessions() -> EndedSessions:
    return current_app.extensions["portal.ended_sessions"]


def _forget_an_ended_session() -> None:
    """The member signed this session out elsewhere: the portal forgets them too."""
    sid = session.get("sid")
    if sid and ended_sessions().has_ended(sid):
        session.clear()


@bp.post("/backchannel-logout")
def receive_logout_token():
    """The identity provider's logout token: 200 once its session is ended here, else 400 (§2.8)."""
    try:
        claims = verified_claims(request.form.get("logout_token", ""))
    except InvalidLogoutToken as problem:
        response = jsonify(error="invalid_request", error_description=str(problem))
        response.status_code = 400
    else:
        ended_sessions().end(claims["sid"])
        response = jsonify()
    response.headers["Cache-Control"] = "no-store"
    return response


def verified_claims(token: str) -> dict:
    """§2.6: the signature by the realm's published keys, the issuer, this portal as audience,
    the logout event, a `sid` to end, no `nonce`, and a recent `iat`."""
    metadata = identity_provider().load_server_metadata()
    try:
        decoded = jwt.decode(token, _realm_keys(metadata["jwks_uri"]), algorithms=["RS256", "ES256"])
    except (JoseError, ValueError, requests.RequestException) as exc:
        raise InvalidLogoutToken(f"the signature cannot be verified: {type(exc).__name__}") from None
    claims = dict(decoded.claims)
    audience = claims.get("aud")
    checks = [
        (decoded.header.get("typ") == "logout+jwt", "not a logout token (typ)"),
        (claims.get("iss") == metadata["issuer"], "another issuer"),
        (current_app.config["PORTAL_CLIENT_ID"] in (audience if isinstance(audience, list) else [audience]),
         "another audience"),
        (BACKCHANNEL_LOGOUT_EVENT in (claims.get("events") or {}), "no back-channel logout event"),
        ("nonce" not in claims, "a nonce"),
        (isinstance(claims.get("sid"), str) and claims["sid"] != "", "no sid"),
        (time.time() - int(claims.get("iat", 0)) < OLDEST_TOKEN_SECONDS, "too old"),
    ]
    for passed, problem in checks:
        if not passed:
            raise InvalidLogoutToken(problem)
    return claims


def _realm_keys(jwks_uri: str) -> KeySet:
    response = requests.get(jwks_uri, timeout=5)
    response.raise_for_status()
    return KeySet.import_key_set(response.json())
