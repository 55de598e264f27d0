"""What an operator's tools see: a JSON line per request, health checks and Prometheus metrics."""
from __future__ import annotations

import json
import logging
import re

import pytest

from tests.support.sign_in import OIDC, REALM, add_member, authorize, pkce_pair, sign_in_for_code, submit_sign_in

SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="(?:[^"\\\n]|\\.)*"(,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? -?[0-9.e+-]+$')


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def request_log(app):
    handler, logger = Lines(), logging.getLogger("idp.requests")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def test_each_request_is_one_json_line_with_its_id_and_without_the_query_string(client, request_log):
    response = client.get(f"{OIDC}/auth?client_id=kosmo-portal&code=secret-looking-value&response_type=code")

    [line] = request_log
    entry = json.loads(line)
    assert entry["request_id"] == response.headers["X-Request-Id"]
    assert entry["path"] == f"/realms/{REALM}/protocol/openid-connect/auth"
    assert "secret-looking-value" not in line
    assert (entry["method"], entry["status"], entry["realm"]) == ("GET", response.status_code, REALM)
    assert entry["client_id"] == "kosmo-portal" and entry["ip"] == "127.0.0.1"
    assert isinstance(entry["duration_ms"], float)


def test_a_sane_request_id_is_kept_and_an_odd_one_replaced(client, request_log):
    kept = client.get("/health/live", headers={"X-Request-Id": "lb-7f3a.42"})
    replaced = client.get("/health/live", headers={"X-Request-Id": "bad id\"{}" + "x" * 300})

    assert kept.headers["X-Request-Id"] == "lb-7f3a.42"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])
    assert [json.loads(line)["request_id"] for line in request_log] == ["lb-7f3a.42", replaced.headers["X-Request-Id"]]


def test_the_token_endpoint_line_names_the_client_of_basic_authentication(client, request_log):
    client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                auth=("kosmo-batch", "demo-batch-secret-change-me"))

    assert json.loads(request_log[-1])["client_id"] == "kosmo-batch"


def test_an_unexpected_error_keeps_its_request_id_in_g(app, client, request_log):
    from flask import g

    seen = {}

    @app.get("/boom-for-test")
    def boom():
        seen["id"] = g.request_id
        raise RuntimeError("boom")

    response = client.get("/boom-for-test", headers={"X-Request-Id": "trace-1"})

    assert response.status_code == 500 and seen["id"] == "trace-1"
    assert json.loads(request_log[-1])["status"] == 500


def test_live_answers_up(client):
    response = client.get("/health/live")

    assert response.status_code == 200 and response.get_json() == {"status": "UP"}


def test_ready_is_up_when_the_database_and_the_store_answer(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json() == {"status": "UP", "checks": [{"name": "database", "status": "UP"},
                                                              {"name": "ephemeral-store", "status": "UP"}]}


def test_ready_is_down_with_503_when_the_store_does_not_answer(app, client, monkeypatch):
    def unreachable():
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(app.extensions["idp.ephemeral"], "ping", unreachable)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.get_json() == {"status": "DOWN", "checks": [{"name": "database", "status": "UP"},
                                                                {"name": "ephemeral-store", "status": "DOWN"}]}
    assert "redis is gone" not in response.get_data(as_text=True)


def test_ready_is_down_when_the_database_does_not_answer(app, client, monkeypatch):
    def unreachable():
        raise ConnectionError("database is gone")

    monkeypatch.setattr(app.extensions["idp.db"].engine, "connect", unreachable)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.get_json()["checks"][0] == {"name": "database", "status": "DOWN"}


def metric_lines(client) -> list[str]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    lines = response.get_data(as_text=True).splitlines()
    for line in lines:
        assert line.startswith(("# HELP ", "# TYPE ")) or SAMPLE.match(line), line
    return lines


def test_metrics_are_prometheus_text_counting_sign_ins_failures_and_grants(app, client, database, settings):
    add_member(database, settings)
    refused = app.test_client()
    submit_sign_in(refused, authorize(refused, pkce_pair()[1]).get_data(as_text=True), password="wrong-password-1")
    sign_in_for_code(client, pkce_pair())
    client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"},
                auth=("kosmo-batch", "demo-batch-secret-change-me"))

    lines = metric_lines(client)

    assert f'idp_logins_total{{realm="{REALM}",result="success"}} 1' in lines
    assert f'idp_logins_total{{realm="{REALM}",result="failure"}} 1' in lines
    assert (f'idp_token_grants_total{{realm="{REALM}",grant_type="client_credentials",result="success"}} 1'
            in lines)
    token_endpoint = 'endpoint="/realms/<realm>/protocol/openid-connect/token"'
    assert f'idp_request_duration_seconds_count{{method="POST",{token_endpoint}}} 1' in lines
    assert f'idp_request_duration_seconds_bucket{{method="POST",{token_endpoint},le="+Inf"}} 1' in lines
    assert "# TYPE idp_request_duration_seconds histogram" in lines


def test_a_refused_grant_is_counted_as_an_error(client):
    client.post(f"{OIDC}/token", data={"grant_type": "client_credentials"}, auth=("kosmo-batch", "wrong"))

    assert (f'idp_token_grants_total{{realm="{REALM}",grant_type="client_credentials",result="error"}} 1'
            in metric_lines(client))


def test_health_and_metrics_sit_outside_every_realm_and_set_no_cookie(client):
    for path in ("/health/live", "/health/ready", "/metrics"):
        response = client.get(path)
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, path
