"""Request rate limits per client address and endpoint group (sign-in, code sending, recovery, the
token endpoint), and per relying party at the token endpoint, answered with 429 and Retry-After
before any view runs.

Counts are kept in fixed windows in the ephemeral store (Redis when configured, else SQL), so
every worker and host shares them; a refused request reaches no view and so changes nothing.
Like the security headers this is a hook on the web layer: it reads the request and, for a step
form, the tab's auth session, to tell a recovery flow's forms from a sign-in's.

A relying party's allowance counts only requests that proved its secret: anyone can name a
client_id, and counting their requests would let them use up the portal's allowance.

While the ephemeral store cannot be reached, each process counts on its own (LimiterStore), so
grants whose state is in SQL (refresh, client credentials) keep being served; what needs the
store itself (a sign-in in progress, the password's brute-force counters) still answers 503.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
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
T = TypeVar("T")


def now() -> float:
    """The limiter's clock (tests move it to the next window)."""
    return time.time()


class ProcessCounts:
    """Counts in this process's memory with their expiry: the one place process memory may count,
    and only while the ephemeral store cannot be reached. Each process then allows a whole limit
    on its own, looser than shared counts."""

    # Far more addresses than an outage of minutes brings; past it, expired counts are dropped.
    TIDY_ABOVE = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Any, float]] = {}

    def incr(self, key: str, ttl: int) -> int:
        with self._lock:
            count = self._live(key)
            if count is None:
                self._tidy()
                self._entries[key] = (1, now() + ttl)
                return 1
            self._entries[key] = (count + 1, self._entries[key][1])
            return int(count) + 1

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        with self._lock:
            self._entries[key] = (value, now() + ttl)

    def get(self, key: str) -> Any:
        with self._lock:
            return self._live(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _live(self, key: str) -> Any:
        value, expires = self._entries.get(key, (None, 0.0))
        return value if expires > now() else None

    def _tidy(self) -> None:
        if len(self._entries) > self.TIDY_ABOVE:
            moment = now()
            self._entries = {key: entry for key, entry in self._entries.items() if entry[1] > moment}


class LimiterStore:
    """Where the limiter counts: the ephemeral store, shared by every process; while it cannot be
    reached, this process's own counts, so that grants whose state is in SQL keep being served.
    Each outage is logged once when it starts and once when it ends, and every count it takes
    shows in /metrics."""

    def __init__(self) -> None:
        self.process_counts = ProcessCounts()
        self._lock = threading.Lock()
        self._outage = False

    def incr(self, key: str, ttl: int) -> int:
        return self._use(lambda store: store.incr(key, ttl))

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        self._use(lambda store: store.put(key, value, ttl))

    def get(self, key: str) -> dict[str, Any] | None:
        return self._use(lambda store: store.get(key))

    def _use(self, call: Callable[[EphemeralStore | ProcessCounts], T]) -> T:
        try:
            answer = call(ephemeral())
        except DEPENDENCY_ERRORS as error:
            if self._outage_changed(True):
                log.warning("ephemeral store unreachable, rate limits are counted per process until it is back: %s",
                            one_line(error))
            entered = optional_realm_request()
            metrics().count_rate_limit_fallback(entered.realm.name if entered else "")
            return call(self.process_counts)
        if self._outage_changed(False):
            self.process_counts.clear()
            log.warning("ephemeral store reachable again, rate limits are shared again")
        return answer

    def _outage_changed(self, outage: bool) -> bool:
        """Whether this call is the one that finds the store's state changed (one thread of all)."""
        with self._lock:
            changed, self._outage = self._outage != outage, outage
        return changed


class RateLimiter:
    """Counts requests per group and per address (or relying party) in the current window of the group's limit."""

    def __init__(self, limits: dict[str, RateLimit | None]):
        self.limits = limits
        self.store = LimiterStore()

    def hit(self, group: str, who: str) -> int | None:
        """Count this request; the seconds until the window ends when it is over the limit, else None."""
        limit, window, retry_after = self._window(group)
        if limit is None:
            return None
        count = self.store.incr(keys.rate_limit_count(group, who, window), limit.seconds)
        if count == limit.requests + 1:  # once per window, so a flood does not flood the log too
            self._log_reached(group, who, limit, retry_after)
        return retry_after if count > limit.requests else None

    def record(self, group: str, who: str) -> None:
        """Count a request that was served; the one that uses up the window's allowance marks it,
        so that `refusal` refuses the next ones."""
        limit, window, retry_after = self._window(group)
        if limit is None:
            return
        if self.store.incr(keys.rate_limit_count(group, who, window), limit.seconds) == limit.requests:
            self.store.put(keys.rate_limit_used_up(group, who, window), {}, limit.seconds)
            self._log_reached(group, who, limit, retry_after)

    def refusal(self, group: str, who: str) -> int | None:
        """The seconds until the window ends when `record` found its allowance used up, else None."""
        limit, window, retry_after = self._window(group)
        if limit is None or self.store.get(keys.rate_limit_used_up(group, who, window)) is None:
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
    refused = _first_refusal(current_app.extensions["idp.rate_limit"])
    if refused is None:
        return None
    group, retry_after = refused
    g.rate_limited = True
    entered = optional_realm_request()
    metrics().count_rate_limited(entered.realm.name if entered else "", group)
    return too_many_requests(group, retry_after)


def _first_refusal(limiter: RateLimiter) -> tuple[str, int] | None:
    """The group that refuses this request and the seconds to wait: its address's group first,
    then its relying party's allowance."""
    counted = counted_as()
    retry_after = limiter.hit(*counted) if counted else None
    if counted is not None and retry_after is not None:
        return counted[0], retry_after
    client = token_client()
    retry_after = limiter.refusal(BY_CLIENT, client) if client else None
    return (BY_CLIENT, retry_after) if retry_after is not None else None


def count_served_client(response: Response) -> Response:
    """After a token request a relying party proved its secret for, count it against its allowance."""
    client = token_client() if not g.get("rate_limited") and response.status_code < 500 else None
    if client and proved_secret(response):
        current_app.extensions["idp.rate_limit"].record(BY_CLIENT, client)
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
