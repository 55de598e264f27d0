"""An unreachable database or Redis, as members and relying parties meet it: a Japanese 503 page
or 503 OAuth JSON with Retry-After, nothing half-written, and the same request works once the
dependency answers again. Outages are simulated in-process here; tests/integration/test_outages.py
stops real servers."""
from __future__ import annotations

import logging

import pytest
from redis import exceptions as redis_errors
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from idp.db.models import AuditEvent, User, UserSession
from idp.errors import dependency_failure
from tests.support.sign_in import (
    CALLBACK,
    MEMBER_ID,
    OIDC,
    PORTAL,
    PORTAL_SECRET,
    add_member,
    authorize,
    pkce_pair,
    redirect_params,
    sign_in_for_code,
    submit_sign_in,
)

UNAVAILABLE_TEXT = "ただいまシステムが混み合っているか、メンテナンス中です。"


class Outage:
    """Switches a dependency off and on inside the test process."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def redis_refuses(self, store, *methods: str) -> None:
        def refuse(*_args, **_kwargs):
            raise redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        for method in methods:
            self.monkeypatch.setattr(store, method, refuse)

    def redis_back(self) -> None:
        self.monkeypatch.undo()

    def database_refuses(self, engine) -> None:
        def refuse(*_args):
            raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

        event.listen(engine, "before_cursor_execute", refuse)
        self.database_back = lambda: event.remove(engine, "before_cursor_execute", refuse)


@pytest.fixture
def outage(monkeypatch):
    return Outage(monkeypatch)


@pytest.fixture
def warnings_logged(caplog):
    caplog.set_level(logging.WARNING, logger="idp.errors")
    return caplog


def count(database, model, *where) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503
    assert response.content_type.startswith("text/html")
    assert UNAVAILABLE_TEXT in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "10"


def assert_unavailable_json(response) -> None:
    assert response.status_code == 503
    assert response.get_json() == {"error": "temporarily_unavailable",
                                   "error_description": "The server is temporarily unavailable, try again later"}
    assert response.headers["Retry-After"] == "10"


def test_redis_refusing_writes_as_the_password_is_sent_leaves_no_session_and_the_tab_signs_in_after(
        app, client, database, settings, outage):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    outage.redis_refuses(app.extensions["idp.ephemeral"], "put", "add", "take", "delete", "incr")

    refused = submit_sign_in(client, page)

    assert_unavailable_page(refused)
    assert count(database, UserSession) == 0
    assert count(database, AuditEvent, AuditEvent.type == "LOGIN") == 0

    outage.redis_back()
    reloaded = client.get(refused.request.path + "?" + refused.request.query_string.decode())

    assert reloaded.status_code == 200 and 'name="password"' in reloaded.get_data(as_text=True)
    assert redirect_params(submit_sign_in(client, reloaded.get_data(as_text=True)))["code"]
    assert count(database, UserSession) == 1
    assert count(database, AuditEvent, AuditEvent.type == "LOGIN") == 1


def test_the_token_endpoint_answers_503_json_while_the_database_is_down_and_the_code_still_works_after(
        app, client, database, settings, outage, warnings_logged):
    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": verifier}
    outage.database_refuses(database.engine)

    refused = client.post(f"{OIDC}/token", data=exchange, auth=(PORTAL, PORTAL_SECRET),
                          headers={"X-Request-Id": "rp-trace-7"})

    assert_unavailable_json(refused)
    assert refused.headers["Cache-Control"] == "no-store"
    [line] = [record.getMessage() for record in warnings_logged.records]
    assert "rp-trace-7" in line and "OperationalError" in line and "POST" in line

    outage.database_back()
    answered = client.post(f"{OIDC}/token", data=exchange, auth=(PORTAL, PORTAL_SECRET))

    assert answered.status_code == 200 and answered.get_json()["refresh_token"]


def test_a_member_sees_the_japanese_page_and_a_relying_party_json_on_each_endpoint(
        app, client, database, settings, outage):
    add_member(database, settings)
    outage.database_refuses(database.engine)

    assert_unavailable_page(authorize(client, pkce_pair()[1]))
    assert_unavailable_page(client.get(f"{OIDC}/logout"))
    assert_unavailable_page(client.get("/realms/kosmo-demo/account"))
    for path in ("/userinfo", "/certs", "/token/introspect", "/revoke"):
        method = client.get if path in ("/userinfo", "/certs") else client.post
        assert_unavailable_json(method(f"{OIDC}{path}"))
    assert_unavailable_json(client.post(f"{OIDC}/logout", data={"refresh_token": "x", "client_id": PORTAL}))
    assert_unavailable_json(client.get("/realms/kosmo-demo/.well-known/openid-configuration"))
    assert_unavailable_json(client.get("/admin/realms/kosmo-demo/users", headers={"Authorization": "Bearer x.y.z"}))
    assert client.get("/health/ready").get_json()["status"] == "DOWN"


def test_a_stale_form_sent_while_redis_is_down_keeps_its_page_once_redis_is_back(
        app, client, database, settings, outage):
    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    outage.redis_refuses(app.extensions["idp.ephemeral"], "get", "put", "take", "incr", "delete", "add", "ttl")

    assert_unavailable_page(submit_sign_in(client, page, password="wrong-password-1"))

    outage.redis_back()
    again = submit_sign_in(client, page)

    assert redirect_params(again)["code"]
    with database.session() as session:
        member = session.scalar(select(User).where(User.username == MEMBER_ID))
        assert member.first_login_completed_at is not None


def test_only_connection_failures_count_as_an_outage():
    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    wrapped = RuntimeError("could not store the code")
    wrapped.__cause__ = redis_errors.TimeoutError("Timeout reading from socket")

    assert dependency_failure(refused) is refused
    assert isinstance(dependency_failure(wrapped), redis_errors.TimeoutError)
    assert dependency_failure(IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
    assert dependency_failure(redis_errors.ResponseError("WRONGTYPE")) is None
    assert dependency_failure(ValueError("bad input")) is None


def test_redis_failing_after_the_view_answered_still_gives_the_relying_party_503_json(
        app, client, database, settings):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: Flask turns it into a 500 first
    redis_gone = []

    @app.after_request
    def count_something_in_redis(response):
        if redis_gone:
            raise redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return response

    add_member(database, settings)
    verifier, challenge = pkce_pair()
    code = sign_in_for_code(client, (verifier, challenge))["code"]
    redis_gone.append(True)

    refused = client.post(f"{OIDC}/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": CALLBACK, "code_verifier": verifier},
                          auth=(PORTAL, PORTAL_SECRET))

    assert_unavailable_json(refused)


def test_an_unexpected_error_after_the_view_answered_is_the_plain_server_error_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.after_request
    def broken_hook(response):
        raise RuntimeError("a bug in a hook")

    answered = client.get("/realms/kosmo-demo/account")

    assert answered.status_code == 500
    assert "システムエラーが発生しました" in answered.get_data(as_text=True)


def test_redis_failing_right_after_the_sign_in_is_stored_opens_no_second_session_on_reload(
        app, client, database, settings, monkeypatch):
    from idp.login import auth_session

    add_member(database, settings)
    page = authorize(client, pkce_pair()[1]).get_data(as_text=True)
    real_finish = auth_session.finish

    def redis_gone(_auth):
        raise redis_errors.ConnectionError("Connection reset by peer")

    monkeypatch.setattr(auth_session, "finish", redis_gone)
    refused = submit_sign_in(client, page)
    assert_unavailable_page(refused)

    monkeypatch.setattr(auth_session, "finish", real_finish)
    reloaded = client.get(refused.request.path + "?" + refused.request.query_string.decode())

    assert redirect_params(reloaded)["code"]
    assert count(database, UserSession) == 1
    assert count(database, AuditEvent, AuditEvent.type == "LOGIN") == 1
