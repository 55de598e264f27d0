"""Request rate limits per client address and endpoint group (sign-in, code sending, recovery, the
token endpoint), and per relying party at the token endpoint, answered with 429 and Retry-After
before any view runs.

Counts are kept in fixed windows in the ephemeral store (Redis when configured, else SQL), so
every worker and host shares them; a refused request reaches no view and so changes nothing.
Like the security headers this is a hook on the web layer: it reads the request and, for a step
form, the tab's auth session, to tell a recovery flow's forms from a sign-in's.

A relying party's allowance counts only requests that proved its secret: anyone can name a
client_id, and counting their requests would let them use up the portal's allowance.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import time
from urllib.parse import unquote_plus

from flask import Flask, current_app, g, jsonify, make_response, render_template, request
from werkzeug.wrappers import Response

from idp.config import RateLimit
from idp.ephemeral import EphemeralStore, ephemeral, keys
from idp.errors import DEPENDENCY_ERRORS, one_line
from idp.login import auth_session
from idp.operations import metrics
from idp.request_context import optional_realm_request, realm_request

log = logging.getLogger("idp.rate_limit")

# Helper pages under these prefixes, whatever their final names: パスワード / ユーザID を忘れた方.
RECOVERY = re.compile(r"/realms/[^/]+/login-actions/(reset-credentials|forgot-user-id)")
BY_CLIENT = "token-client"
JSON_GROUPS = {"token", BY_CLIENT}
READABLE = re.compile(r"[A-Za-z0-9._:@/-]{1,100}")


def now() -> float:
    """The limiter's clock (tests move it to the next window)."""
    return time.time()


class RateLimiter:
    """Counts requests per group and per address (or relying party) in the current window of the group's limit."""

    def __init__(self, limits: dict[str, RateLimit | None]):
        self.limits = limits

    def hit(self, store: EphemeralStore, group: str, who: str) -> int | None:
        """Count this request; the seconds until the window ends when it is over the limit, else None."""
        limit, window, retry_after = self._window(group)
        if limit is None:
            return None
        count = store.incr(keys.rate_limit_count(group, who, window), limit.seconds)
        if count == limit.requests + 1:  # once per window, so a flood does not flood the log too
            self._log_reached(group, who, limit, retry_after)
        return retry_after if count > limit.requests else None

    def record(self, store: EphemeralStore, group: str, who: str) -> None:
        """Count a request that was served; the one that uses up the window's allowance marks it,
        so that `refusal` refuses the next ones."""
        limit, window, retry_after = self._window(group)
        if limit is None:
            return
        if store.incr(keys.rate_limit_count(group, who, window), limit.seconds) == limit.requests:
            store.put(keys.rate_limit_used_up(group, who, window), {}, limit.seconds)
            self._log_reached(group, who, limit, retry_after)

    def refusal(self, store: EphemeralStore, group: str, who: str) -> int | None:
        """The seconds until the window ends when `record` found its allowance used up, else None."""
        limit, window, retry_after = self._window(group)
        if limit is None or store.get(keys.rate_limit_used_up(group, who, window)) is None:
            return None
        return retry_after

    def _window(self, group: str) -> tuple[RateLimit | None, int, int]:
        """The group's limit, the number of the current window and the seconds until it ends."""
        limit = self.limits.get(group)
        if limit is None:
            return None, 0, 0
        moment = now()
        window = int(moment // limit.seconds)
        return limit, window, max(1, math.ceil((window + 1) * limit.seconds - moment))

    @staticmethod
    def _log_reached(group: str, who: str, limit: RateLimit, retry_after: int) -> None:
        log.warning("rate limit %s reached by %r: %d requests in %d s; refused for %d s",
                    group, who, limit.requests, limit.seconds, retry_after)


def counted_as() -> tuple[str, str] | None:
    """The group this request counts in and the address it is counted against, if any."""
    address = client_address(request.remote_addr)
    if request.endpoint == "realm.oidc.token":
        return "token", address
    if request.endpoint == "realm.oidc.authorize":
        return "sign-in", address
    if request.endpoint == "realm.login.submit_step":
        return _step_group(), address
    if RECOVERY.match(request.path):
        return "recovery", address
    return None


def _step_group() -> str:
    """再送信 mails a code or link again: it has its own, smaller allowance. The recovery flows'
    forms post to the same step endpoint as a sign-in's and count as recovery."""
    if request.form.get("action") == "resend":
        return "code-sending"
    return "recovery" if _in_recovery_flow() else "sign-in"


def _in_recovery_flow() -> bool:
    auth = auth_session.load(request.form.get("tab_id") or request.args.get("tab_id"))
    if auth is None:
        return False
    flow = auth.progress.flow.get("flow")
    return flow in {realm_request().config.reset_credentials_flow, realm_request().config.forgot_user_id_flow}


def client_address(remote_addr: str | None) -> str:
    """The address requests are counted under: IPv4 as is, IPv6 by its /64 (one subscriber's
    network, whose addresses a single machine can change at will)."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return remote_addr or "unknown"
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def token_client() -> str | None:
    """The relying party a token request names (realm/client_id), from HTTP Basic (RFC 6749
    §2.3.1, form-encoded) or the form; None for other requests."""
    if request.endpoint != "realm.oidc.token" or optional_realm_request() is None:
        return None
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        client_id = unquote_plus(auth.username)
    else:
        client_id = request.form.get("client_id", "")
    if not client_id:
        return None
    who = f"{realm_request().realm.name}/{client_id}"
    # A store key has room for 255 characters, and a log line should not carry odd text.
    return who if READABLE.fullmatch(who) else hashlib.sha256(who.encode()).hexdigest()[:32]


def proved_secret(response: Response) -> bool:
    """Whether the request carried a client secret (or signed assertion) that was accepted."""
    auth = request.authorization
    presented = (auth is not None and auth.type == "basic" and bool(auth.password)) or any(
        request.form.get(name) for name in ("client_secret", "client_assertion"))
    body = response.get_json(silent=True) if response.is_json else None
    return presented and not (isinstance(body, dict) and body.get("error") == "invalid_client")


def refuse_over_limit() -> Response | None:
    """Before any view: 429 with Retry-After when this request is over one of its limits."""
    refused = _first_refusal(current_app.extensions["idp.rate_limit"], ephemeral())
    if refused is None:
        return None
    group, retry_after = refused
    g.rate_limited = True
    entered = optional_realm_request()
    metrics().count_rate_limited(entered.realm.name if entered else "", group)
    return too_many_requests(group, retry_after)


def _first_refusal(limiter: RateLimiter, store: EphemeralStore) -> tuple[str, int] | None:
    """The group that refuses this request and the seconds to wait: its address's group first,
    then its relying party's allowance."""
    counted = counted_as()
    retry_after = limiter.hit(store, *counted) if counted else None
    if counted is not None and retry_after is not None:
        return counted[0], retry_after
    client = token_client()
    retry_after = limiter.refusal(store, BY_CLIENT, client) if client else None
    return (BY_CLIENT, retry_after) if retry_after is not None else None


def count_served_client(response: Response) -> Response:
    """After a token request a relying party proved its secret for, count it against its allowance."""
    client = token_client() if not g.get("rate_limited") and response.status_code < 500 else None
    if client and proved_secret(response):
        try:
            current_app.extensions["idp.rate_limit"].record(ephemeral(), BY_CLIENT, client)
        except DEPENDENCY_ERRORS as error:
            # The answer is made and may carry new tokens: one count lost is better than the answer.
            log.warning("could not count a token request of %r: %s", client, one_line(error))
    return response


def too_many_requests(group: str, retry_after: int) -> Response:
    """Relying parties get an OAuth-style JSON error, members a Japanese page."""
    if group in JSON_GROUPS:
        response = jsonify(error="too_many_requests", error_description="Too many requests")
    else:
        response = make_response(render_template("error.html", message_key="rate_limit.too_many_requests"))
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask) -> None:
    limits = app.config["IDP_SETTINGS"].rate_limit_table()
    app.extensions["idp.rate_limit"] = RateLimiter(limits)
    if any(limits.values()):
        app.before_request(refuse_over_limit)
    if limits[BY_CLIENT]:
        app.after_request(count_served_client)
