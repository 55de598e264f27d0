"""Test settings for the app fixtures: SQLite by default, the real-server URLs when set, and
the shipped realm-config/ run with the flow a test asks for."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from idp.config import CHECKOUT, Settings
from idp.db import Database

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL")
UNDER_CI = bool(os.environ.get("CI"))


def need(url: str | None, variable: str) -> str:
    if url:
        return url
    if UNDER_CI:
        pytest.fail(f"{variable} is not set under CI: .ci/run must provide it")
    pytest.skip(f"{variable} is not set: the real-server variant runs only when it is")


def realm_config_with_flow(tmp_path: Path, browser_flow: str) -> Path:
    """A copy of the shipped realm-config/ whose demo realm runs `browser_flow`."""
    from ruamel.yaml import YAML

    folder = tmp_path / f"realm-config-{browser_flow}"
    folder.mkdir(exist_ok=True)
    yaml = YAML()
    for path in (CHECKOUT / "realm-config").glob("*.yaml"):
        document = yaml.load(path.read_text(encoding="utf-8"))
        document["browser_flow"] = browser_flow
        with (folder / path.name).open("w", encoding="utf-8") as out:
            yaml.dump(document, out)
    return folder


def make_settings(tmp_path: Path, browser_flow: str = "browser", **overrides) -> Settings:
    """Test settings. OpenID Connect tests run Keycloak's `browser` flow (password, OTP when the
    member has one, pending actions); member-journey tests ask for `kosmo-member`."""
    values = dict(
        database_url=f"sqlite:///{tmp_path / 'idp.db'}",
        base_url="http://localhost",
        secret_key="test-secret-key-0123456789abcdef",
        mail_url=f"outbox:{tmp_path / 'outbox'}",
        realms_dir=realm_config_with_flow(tmp_path, browser_flow),
        # Cheap argon2 parameters keep the suite fast; production defaults live in config.py.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    values.update(overrides)
    return Settings.from_env(environ={}, **values)


def reset_postgres(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    database.dispose()
