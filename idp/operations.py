"""What operators watch: health checks, Prometheus metrics and one JSON log line per request.

With IDP_MANAGEMENT_PORT set, `idp serve` also listens there; that port answers only /health/*
and /metrics, and the main port no longer answers /metrics. Metrics are counted in each
process's memory (nothing else is ever kept there); gunicorn's workers also write their counts
to a folder they share, so that a scrape, which reaches one worker, reports them all.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import uuid
import weakref
from bisect import bisect_left
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, g, has_app_context, has_request_context, jsonify, request
from sqlalchemy import event, text

from idp.db import Database, get_database
from idp.db.models import AuditEvent
from idp.ephemeral import ephemeral
from idp.errors import one_line

log = logging.getLogger("idp.requests")
problems = logging.getLogger("idp.operations")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GRANT_TYPES = {"authorization_code", "refresh_token", "password", "client_credentials"}
SIGN_IN_RESULTS = {"LOGIN": "success", "LOGIN_ERROR": "failure"}

bp = Blueprint("operations", __name__)
MANAGEMENT_ENDPOINTS = {"operations.live", "operations.ready", "operations.prometheus"}


class Metrics:
    """Counters and a latency histogram, written out in the Prometheus text format (0.0.4).

    With a `folder`, the process keeps a copy of its counts in its own JSON file there, and the
    exposition adds up every process's file. A stopped worker's file stays, so totals never go
    down while the server runs."""

    def __init__(self, folder: Path | None = None, process_id: int | None = None):
        self._lock = threading.Lock()
        self.folder = folder
        self.process_id = os.getpid() if process_id is None else process_id
        self.logins: dict[tuple, int] = {}
        self.grants: dict[tuple, int] = {}
        self.rate_limited: dict[tuple, int] = {}
        self.durations: dict[tuple, list] = {}  # labels -> [bucket counts..., count, sum]

    def count_login(self, realm: str, result: str) -> None:
        with self._lock:
            self.logins[(realm, result)] = self.logins.get((realm, result), 0) + 1

    def count_grant(self, realm: str, grant_type: str, result: str) -> None:
        key = (realm, grant_type, result)
        with self._lock:
            self.grants[key] = self.grants.get(key, 0) + 1

    def count_rate_limited(self, realm: str, group: str) -> None:
        with self._lock:
            self.rate_limited[(realm, group)] = self.rate_limited.get((realm, group), 0) + 1

    def observe(self, method: str, endpoint: str, seconds: float) -> None:
        with self._lock:
            row = self.durations.setdefault((method, endpoint), [0] * len(DURATION_BUCKETS) + [0, 0.0])
            bucket = bisect_left(DURATION_BUCKETS, seconds)
            if bucket < len(DURATION_BUCKETS):
                row[bucket] += 1
            row[-2] += 1
            row[-1] += seconds

    def _tables(self) -> dict[str, dict]:
        return {name: value for name, value in vars(self).items() if isinstance(value, dict)}

    def save(self) -> None:
        """Write this process's counts to its file in the shared folder (nothing without one)."""
        if self.folder is None:
            return
        path = self.folder / f"process-{self.process_id}.json"
        written = path.with_suffix(".writing")
        # Under the lock to the end: a worker's threads share the one .writing file, and one
        # thread's replace would otherwise take it away from another's (FileNotFoundError).
        with self._lock:
            snapshot = {name: [[list(key), value] for key, value in table.items()]
                        for name, table in self._tables().items()}
            written.write_text(json.dumps(snapshot))
            os.replace(written, path)  # readers see the old file or the new one, never half of one

    def _add(self, snapshot: dict) -> None:
        tables = self._tables()
        for name, rows in snapshot.items():
            table = tables.get(name)
            if table is None:
                continue  # written by another version of the code
            for key, value in rows:
                key = tuple(key)
                if isinstance(value, list):
                    table[key] = [mine + theirs for mine, theirs in zip(table.get(key, [0] * len(value)), value)]
                else:
                    table[key] = table.get(key, 0) + value

    def exposition(self) -> str:
        """This process's counts, or with a shared folder every process's added up."""
        if self.folder is None:
            return self._text()
        self.save()
        total = Metrics()
        for path in sorted(self.folder.glob("process-*.json")):
            total._add(json.loads(path.read_text()))
        return total._text()

    def _text(self) -> str:
        with self._lock:
            lines = [
                "# HELP idp_logins_total Sign-ins (LOGIN events) and refused sign-ins (LOGIN_ERROR events).",
                "# TYPE idp_logins_total counter",
                *(_sample("idp_logins_total", {"realm": r, "result": res}, n) for (r, res), n in sorted(self.logins.items())),
                "# HELP idp_token_grants_total Token endpoint requests by grant type and result.",
                "# TYPE idp_token_grants_total counter",
                *(_sample("idp_token_grants_total", {"realm": r, "grant_type": t, "result": res}, n)
                  for (r, t, res), n in sorted(self.grants.items())),
                "# HELP idp_rate_limited_total Requests refused with 429 by the request rate limits.",
                "# TYPE idp_rate_limited_total counter",
                *(_sample("idp_rate_limited_total", {"realm": r, "group": grp}, n)
                  for (r, grp), n in sorted(self.rate_limited.items())),
                "# HELP idp_request_duration_seconds Time to answer a request.",
                "# TYPE idp_request_duration_seconds histogram",
            ]
            for (method, endpoint), row in sorted(self.durations.items()):
                labels = {"method": method, "endpoint": endpoint}
                cumulative = 0
                for bound, hits in zip(DURATION_BUCKETS, row):
                    cumulative += hits
                    lines.append(_sample("idp_request_duration_seconds_bucket", {**labels, "le": repr(bound)}, cumulative))
                lines.append(_sample("idp_request_duration_seconds_bucket", {**labels, "le": "+Inf"}, row[-2]))
                lines.append(_sample("idp_request_duration_seconds_count", labels, row[-2]))
                lines.append(_sample("idp_request_duration_seconds_sum", labels, row[-1]))
        return "\n".join(lines) + "\n"


def _sample(name: str, labels: dict, value: float) -> str:
    pairs = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
    return f"{name}{{{pairs}}} {value}"


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
    realm = g.realm.name if "realm" in g else None
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics().observe(request.method, endpoint, seconds)
    if request.endpoint == "oidc.token" and realm:
        grant_type = _form_value("grant_type")
        metrics().count_grant(realm, grant_type if grant_type in GRANT_TYPES else "other",
                              "success" if response.status_code == 200 else "error")
    log.info(json.dumps({
        "request_id": request_id, "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1), "realm": realm, "client_id": _client_id(), "ip": request.remote_addr,
    }, ensure_ascii=False))
    metrics().save()
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
    if has_request_context() and "realm" in g and g.realm.id == realm_id:
        return g.realm.name
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
    metrics_dir = Path(app.config["IDP_SETTINGS"].metrics_dir) if app.config["IDP_SETTINGS"].metrics_dir else None
    if metrics_dir is not None:
        metrics_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["idp.metrics"] = Metrics(metrics_dir)
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
