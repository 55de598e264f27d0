"""Shared fixtures: settings, a migrated database, the app, its test client and CLI runner.

`IDP_TEST_DATABASE_URL` (PostgreSQL) and `IDP_TEST_REDIS_URL` add real-server variants of the
storage fixtures; without them those variants are skipped with the reason. Under CI (`CI`
set) a missing variable is an error instead, so a misconfigured CI cannot pass by skipping.
"""
from __future__ import annotations

import pytest

from idp.config import Settings
from idp.db import Database
from tests.support.settings import PG_URL, REDIS_URL, make_settings, need, reset_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test that asks for it runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'idp.db'}"
    url = need(PG_URL, "IDP_TEST_DATABASE_URL")
    reset_postgres(url)
    return url


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def migrated_database(settings) -> Database:
    """A migrated, empty database."""
    database = Database(settings.database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def database(settings, migrated_database) -> Database:
    """A migrated database with the shipped realm-config/ loaded and signing keys made."""
    from idp.setup import prepare

    prepare(settings, migrated_database)
    return migrated_database


@pytest.fixture
def app(settings, database):
    from idp.app import create_app

    app = create_app(settings, database)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def redis_url() -> str:
    import redis

    url = need(REDIS_URL, "IDP_TEST_REDIS_URL")
    redis.Redis.from_url(url).flushdb()
    return url
