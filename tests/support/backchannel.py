"""A relying party's back-channel logout endpoint for the logout stories: a small HTTP server on
127.0.0.1 that records each POSTed logout token (answering with the statuses it is told to),
and the checks a relying party makes of one (OpenID Connect Back-Channel Logout 1.0 §2.6)."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import KeySet

from idp.db.models import Client
from idp.realms import find_client, find_realm

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class LogoutReceiver:
    """Records logout tokens; answers each POST with the next of `statuses` (then 200), after
    `delay` seconds (a slow relying party)."""

    def __init__(self):
        self.tokens: list[str] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                time.sleep(receiver.delay)
                with receiver.arrived:
                    receiver.tokens.append(parse_qs(body).get("logout_token", [""])[0])
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, seconds: float = 10) -> list[str]:
        """The first `count` tokens, waiting for them to arrive (delivery is in the background)."""
        deadline = time.monotonic() + seconds
        with self.arrived:
            while len(self.tokens) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
            return list(self.tokens)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def register_backchannel_logout(database, realm: str, client_id: str, url: str, **settings) -> None:
    """Give the client a back-channel logout URL, as its realm file would."""
    with database.session() as session:
        client: Client = find_client(session, find_realm(session, realm), client_id)
        client.attributes = {**client.attributes, "backchannel_logout_url": url,
                             "backchannel_logout_session_required": True, **settings}
        session.commit()


def verified_logout_claims(client, realm: str, token: str) -> dict:
    """What a relying party checks (§2.6): the signature against the realm's published keys, the
    `logout+jwt` type, the claims and the event; no `nonce`."""
    keys = KeySet.import_key_set(client.get(f"/realms/{realm}/protocol/openid-connect/certs").get_json())
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    claims = dict(decoded.claims)
    assert claims["iss"] == f"http://localhost/realms/{realm}"
    assert claims["events"] == {BACKCHANNEL_LOGOUT_EVENT: {}}
    assert {"iat", "exp", "jti", "sub", "aud"} <= set(claims) and "nonce" not in claims
    assert claims["iat"] <= time.time() < claims["exp"]
    return claims
