"""Request rate limits per client address and endpoint group (sign-in, code sending, recovery, the
token endpoint, and per relying party), answered with 429 and Retry-After before any view runs.

Counts are kept in fixed windows in the ephemeral store (Redis when configured, else SQL), so
every worker and host shares them; a refused request reaches no view and so changes nothing.
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
from idp.ephemeral import EphemeralStore, ephemeral
from idp.operations import metrics

log = logging.getLogger("idp.rate_limit")

# Helper pages under these prefixes, whatever their final names: パスワード / ユーザID を忘れた方.
RECOVERY = re.compile(r"/realms/[^/]+/login-actions/(reset-credentials|forgot-user-id)")
JSON_GROUPS = {"token", "token-client"}


def now() -> float:
    """The limiter's clock (tests move it to the next window)."""
    return time.time()


class RateLimiter:
    """Counts requests per group and key in the current window of that group's limit."""

    def __init__(self, limits: dict[str, RateLimit | None]):
        self.limits = limits

    def hit(self, store: EphemeralStore, group: str, key: str) -> int | None:
        """Count one request; the seconds until its window ends when it is over the limit, else None."""
        limit = self.limits.get(group)
        if limit is None:
            return None
        moment = now()
        window = int(moment // limit.seconds)
        count = store.incr(f"rate-limit:{group}:{key}:{window}", limit.seconds)
        if count <= limit.requests:
            return None
        retry_after = max(1, math.ceil((window + 1) * limit.seconds - moment))
        if count == limit.requests + 1:  # once per window, so a flood does not flood the log too
            log.warning("rate limit %s reached by %s: %d requests in %d s; refused for %d s",
                        group, key, limit.requests, limit.seconds, retry_after)
        return retry_after


def counted_as() -> list[tuple[str, str]]:
    """The groups this request counts in, each with the key it is counted under."""
    address = client_address(request.remote_addr)
    if request.endpoint == "oidc.token":
        client_id = _token_client_id()
        by_client = [("token-client", _client_key(client_id))] if client_id else []
        return [("token", address), *by_client]
    if request.endpoint == "oidc.authorize":
        return [("sign-in", address)]
    if request.endpoint == "oidc.submit_step":
        # 再送信 mails a code or link again: it has its own, smaller allowance.
        return [("code-sending" if request.form.get("action") == "resend" else "sign-in", address)]
    if RECOVERY.match(request.path):
        return [("recovery", address)]
    return []


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


def _token_client_id() -> str | None:
    """The client_id a token request names, from HTTP Basic (RFC 6749 §2.3.1, form-encoded) or the form."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return unquote_plus(auth.username)
    return request.form.get("client_id") or None


def _client_key(client_id: str) -> str:
    # Client IDs are per realm, and a hash keeps any length within the store's key size.
    return hashlib.sha256(f"{g.realm.name}\n{client_id}".encode()).hexdigest()[:32]


def refuse_over_limit() -> Response | None:
    """Before any view: 429 with Retry-After when this request is over one of its limits."""
    limiter: RateLimiter = current_app.extensions["idp.rate_limit"]
    for group, key in counted_as():
        retry_after = limiter.hit(ephemeral(), group, key)
        if retry_after is not None:
            metrics().count_rate_limited(g.realm.name if "realm" in g else "", group)
            return too_many_requests(group, retry_after)
    return None


def too_many_requests(group: str, retry_after: int) -> Response:
    """Relying parties get an OAuth-style JSON error, members a Japanese page."""
    if group in JSON_GROUPS:
        response = jsonify(error="too_many_requests",
                           error_description="Too many requests")
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
