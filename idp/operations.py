"""What operators watch: health checks, Prometheus metrics and one JSON log line per request.

With IDP_MANAGEMENT_PORT set, `idp serve` also listens there; that port answers only /health/*
and /metrics, and the main port no longer answers /metrics. Metrics are prometheus_client's,
counted in each process's memory (nothing else is ever kept there) or, under gunicorn, in its
multiprocess mode, so that a scrape, which reaches one worker, reports them all.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
import weakref

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_app_context,
    has_request_context,
    jsonify,
    request,
)
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event, text

from idp.db import Database, get_database
from idp.db.models import AuditEvent
from idp.ephemeral import ephemeral
from idp.errors import one_line
from idp.request_context import optional_realm_request

log = logging.getLogger("idp.requests")
problems = logging.getLogger("idp.operations")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GRANT_TYPES = {"authorization_code", "refresh_token", "password", "client_credentials"}
SIGN_IN_RESULTS = {"LOGIN": "success", "LOGIN_ERROR": "failure"}
LABEL_ORDER = ("realm", "grant_type", "result", "group", "method", "endpoint", "le")

bp = Blueprint("operations", __name__)
MANAGEMENT_ENDPOINTS = {"operations.live", "operations.ready", "operations.prometheus"}


class Metrics:
    """The counters and the latency histogram, kept by prometheus_client.

    In one process (Werkzeug, the Flask test client) they live in this object's own registry.
    Under gunicorn, `idp serve` sets PROMETHEUS_MULTIPROC_DIR before a worker imports
    prometheus_client, so each worker writes its samples to its own files in that `shared_folder`
    and a scrape, which reaches one worker, adds up every worker's files. A stopped worker's
    files stay, so totals never go down while the server runs."""

    def __init__(self, shared_folder: str | None = None):
        self.shared_folder = shared_folder
        self.registry = CollectorRegistry(auto_describe=True)
        self.logins = Counter("idp_logins_total", "Sign-ins (LOGIN events) and refused sign-ins (LOGIN_ERROR events).",
                              ["realm", "result"], registry=self.registry)
        self.grants = Counter("idp_token_grants_total", "Token endpoint requests by grant type and result.",
                              ["realm", "grant_type", "result"], registry=self.registry)
        self.rate_limited = Counter("idp_rate_limited_total", "Requests refused with 429 by the request rate limits.",
                                    ["realm", "group"], registry=self.registry)
        self.backchannel_logouts = Counter(
            "idp_backchannel_logout_total",
            "Back-channel logout deliveries: success, failure (after every try) and each retry.",
            ["realm", "result"], registry=self.registry)
        self.rate_limit_fallbacks = Counter(
            "idp_rate_limit_fallback_total",
            "Rate-limit counts kept by one process alone while the ephemeral store was unreachable.",
            ["realm"], registry=self.registry)
        self.durations = Histogram("idp_request_duration_seconds", "Time to answer a request.",
                                   ["method", "endpoint"], buckets=DURATION_BUCKETS, registry=self.registry)

    def count_login(self, realm: str, result: str) -> None:
        self.logins.labels(realm, result).inc()

    def count_grant(self, realm: str, grant_type: str, result: str) -> None:
        self.grants.labels(realm, grant_type, result).inc()

    def count_rate_limited(self, realm: str, group: str) -> None:
        self.rate_limited.labels(realm, group).inc()

    def count_backchannel_logout(self, realm: str, result: str) -> None:
        self.backchannel_logouts.labels(realm, result).inc()

    def count_rate_limit_fallback(self, realm: str) -> None:
        self.rate_limit_fallbacks.labels(realm).inc()

    def observe(self, method: str, endpoint: str, seconds: float) -> None:
        self.durations.labels(method, endpoint).observe(seconds)

    def exposition(self) -> str:
        """This process's counts, or with a shared folder every process's added up."""
        if self.shared_folder is None:
            return prometheus_text(self.registry.collect())
        return prometheus_text(MultiProcessCollector(None, path=self.shared_folder).collect())


def prometheus_text(families) -> str:
    """The Prometheus text format (0.0.4), written here rather than by `generate_latest` so that
    labels come in the order of LABEL_ORDER and counts read as whole numbers, as they always have
    here, in one process and in multiprocess mode alike (whose collector sorts labels by name).
    The `_created` series are left out, as multiprocess mode leaves them out."""
    lines = []
    for family in families:
        name = f"{family.name}_total" if family.type == "counter" else family.name
        lines += [f"# HELP {name} {family.documentation}", f"# TYPE {name} {family.type}"]
        lines += [_sample(sample.name, sample.labels, sample.value)
                  for sample in family.samples if not sample.name.endswith("_created")]
    return "\n".join(lines) + "\n"


def _sample(name: str, labels: dict, value: float) -> str:
    ordered = sorted(labels.items(), key=lambda pair: LABEL_ORDER.index(pair[0]))
    pairs = ",".join(f'{key}="{_escape(str(val))}"' for key, val in ordered)
    number = int(value) if float(value).is_integer() else value
    return f"{name}{{{pairs}}} {number}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics() -> Metrics:
    return current_app.extensions["idp.metrics"]


@bp.get("/health/live")
def live():
    """The process answers."""
    return jsonify(status="UP")


@bp.get("/health/ready")
def ready():
    """The database and the ephemeral store answer: 200 UP, else 503 DOWN with what failed."""
    checks = [_check("database", _ping_database), _check("ephemeral-store", lambda: ephemeral().ping())]
    up = all(check["status"] == "UP" for check in checks)
    response = jsonify(status="UP" if up else "DOWN", checks=checks)
    response.status_code = 200 if up else 503
    return response


def _ping_database() -> None:
    with get_database().engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(name: str, ping) -> dict:
    try:
        ping()
    except Exception as error:
        # The reason goes to the log only, in one line however often a probe asks during an outage.
        problems.warning("readiness check %s failed: %s", name, one_line(error))
        return {"name": name, "status": "DOWN"}
    return {"name": name, "status": "UP"}


@bp.get("/metrics")
def prometheus():
    return Response(metrics().exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")


def arrived_on_port(environ: dict) -> int | None:
    """The local port of the socket a request came in on (gunicorn's or Werkzeug's server).

    Not the Host header nor SERVER_PORT: a client chooses those."""
    connection = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if connection is None:
        return None
    try:
        return connection.getsockname()[1]
    except (AttributeError, OSError, IndexError, TypeError):
        return None


def _split_management_port(endpoint: str | None, _values) -> None:
    """With IDP_MANAGEMENT_PORT, that port answers only health and metrics, and metrics only there.

    An app-wide URL preprocessor, so it runs before a realm is looked up."""
    on_management_port = arrived_on_port(request.environ) == current_app.config["IDP_SETTINGS"].management_port
    if on_management_port and endpoint not in MANAGEMENT_ENDPOINTS:
        abort(404)
    if not on_management_port and endpoint == "operations.prometheus":
        abort(404)


def _start_request(_endpoint: str | None, _values: dict | None) -> None:
    """Runs first for every request, before a realm is looked up, so whatever fails from then
    on is logged with this id."""
    offered = request.headers.get("X-Request-Id", "")
    g.request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    response.headers["X-Request-Id"] = request_id
    entered = optional_realm_request()
    realm = entered.realm.name if entered else None
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics().observe(request.method, endpoint, seconds)
    if request.endpoint == "realm.oidc.token" and realm:
        grant_type = _form_value("grant_type")
        metrics().count_grant(realm, grant_type if grant_type in GRANT_TYPES else "other",
                              "success" if response.status_code == 200 else "error")
    log.info(json.dumps({
        "request_id": request_id, "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1), "realm": realm, "client_id": _client_id(), "ip": request.remote_addr,
    }, ensure_ascii=False))
    return response


def _form_value(name: str) -> str | None:
    # Only a form the view already read: parsing a body here could fail after the answer is made.
    form = request.__dict__.get("form")
    return form.get(name) if form is not None else None


def _client_id() -> str | None:
    client_id = request.args.get("client_id") or _form_value("client_id")
    if not client_id and request.authorization and request.authorization.type == "basic":
        client_id = request.authorization.username
    return client_id[:255] if client_id else None


def _watch_sign_ins(database: Database) -> None:
    """Count LOGIN and LOGIN_ERROR events when their transaction commits, whoever records them."""

    @event.listens_for(database.sessions, "after_flush")
    def collect(session, _context) -> None:
        found = [(e.realm_id, SIGN_IN_RESULTS[e.type]) for e in session.new
                 if isinstance(e, AuditEvent) and e.type in SIGN_IN_RESULTS]
        session.info.setdefault("idp.sign_ins", []).extend(found)

    @event.listens_for(database.sessions, "after_commit")
    def count(session) -> None:
        found = session.info.pop("idp.sign_ins", [])
        if found and has_app_context() and "idp.metrics" in current_app.extensions:
            for realm_id, result in found:
                metrics().count_login(_realm_name(realm_id), result)

    @event.listens_for(database.sessions, "after_rollback")
    def forget(session) -> None:
        session.info.pop("idp.sign_ins", None)


def _realm_name(realm_id: str) -> str:
    entered = optional_realm_request() if has_request_context() else None
    if entered is not None and entered.realm.id == realm_id:
        return entered.realm.name
    return realm_id


_watched: weakref.WeakSet = weakref.WeakSet()


def _log_to_stderr() -> None:
    """Request lines are bare JSON on stderr unless the deployment configured the logger itself."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False


def init_app(app: Flask) -> None:
    # prometheus_client chose its mode from this variable when it was imported (see `idp serve`).
    app.extensions["idp.metrics"] = Metrics(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    database = app.extensions["idp.db"]
    if database not in _watched:
        _watch_sign_ins(database)
        _watched.add(database)
    _log_to_stderr()
    app.url_value_preprocessor(_start_request)
    app.after_request(_finish_request)
    if app.config["IDP_SETTINGS"].management_port:
        app.url_value_preprocessor(_split_management_port)
    app.register_blueprint(bp)
