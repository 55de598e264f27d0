"""Fixtures of the integration stories beyond tests/conftest.py: the fuzzed stages, the lockout
steps' clock, recovery without its answer floor, and a PostgreSQL cluster and redis-server of a
test's own for the live-server stories."""
from __future__ import annotations

import pwd
import shutil
from datetime import timedelta

import pytest

import idp.login.views
from idp.actions import recovery_rules
from idp.db.models import utcnow
from tests.support.backchannel import LogoutReceiver
from tests.support.fuzz import Stage
from tests.support.servers import PostgresCluster, RedisServer, postgres_bin
from tests.support.settings import UNDER_CI


@pytest.fixture
def stage_on(tmp_path, database_url):
    """Gives the Stage for `steps` on this test's database (SQLite, and PostgreSQL when
    configured), made at the first call and the same for every later example."""
    stages: dict[str, Stage] = {}

    def make(steps: str = "", **options) -> Stage:
        key = repr((steps, options))
        if key not in stages:
            stages[key] = Stage(tmp_path / f"stage-{len(stages)}", database_url, steps, **options)
        return stages[key]

    yield make
    for stage in stages.values():
        stage.close()


@pytest.fixture
def clock(monkeypatch):
    """The steps' clock, moved two seconds per attempt so no two look like a machine's."""

    class Clock:
        now = utcnow()

        def tick(self, **delta):
            self.now += timedelta(**delta) if delta else timedelta(seconds=2)
            return self.now

    clock = Clock()
    monkeypatch.setattr(idp.login.views, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def receiver():
    """A relying party's back-channel logout endpoint on 127.0.0.1 (tests/support/backchannel.py)."""
    listening = LogoutReceiver()
    yield listening
    listening.close()


@pytest.fixture
def no_answer_floor(monkeypatch):
    """Tests that are not about answer times skip recovery's minimum answer time."""
    monkeypatch.setattr(recovery_rules.time, "sleep", lambda seconds: None)


def server_program(found, what: str):
    if found:
        return found
    if UNDER_CI:
        pytest.fail(f"{what} is missing under CI: the CI image must provide it")
    pytest.skip(f"{what} is missing: this test starts its own servers")


def _postgres_user_exists() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


@pytest.fixture
def postgres() -> PostgresCluster:
    """A fresh PostgreSQL cluster, started; removed after the test."""
    bin_dir = server_program(postgres_bin(), "PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin)")
    server_program(shutil.which("runuser") and _postgres_user_exists(),
                   "runuser and a postgres OS user (initdb refuses root)")
    cluster = PostgresCluster(bin_dir)
    try:
        yield cluster.create()
    finally:
        cluster.destroy()


@pytest.fixture
def redis_server(tmp_path) -> RedisServer:
    """A redis-server without persistence, started; stopped after the test."""
    server = RedisServer(tmp_path / "redis", server_program(shutil.which("redis-server"), "redis-server"))
    with server:
        yield server

