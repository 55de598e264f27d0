"""Redis and PostgreSQL stop in the middle of a member's sign-in and come back: members see the
Japanese 503 page, relying parties 503 JSON, and `idp serve` resumes by itself, losing no data.

Each test starts its own PostgreSQL cluster and redis-server (tests/support/servers.py). Redis holds only
short-lived state and runs without persistence, as in production: a sign-in in progress when it
stopped is gone when it returns, and the member is told to start again. PostgreSQL keeps
everything it committed.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from idp.db import Database
from idp.ephemeral import RedisStore
from tests.support.journeys import (
    PASSWORD,
    SESSION_EXPIRED_TEXT,
    USERNAME,
    Browser,
    RelyingParty,
    assert_unavailable_json,
    assert_unavailable_page,
    code_from,
    logged,
    readiness,
    shared_storage,
    sign_in,
    tokens,
)
from tests.support.servers import IdpServer

pytestmark = pytest.mark.servers


@pytest.fixture
def idp(tmp_path, postgres, redis_server):
    with IdpServer(tmp_path, workers=2, env=shared_storage(postgres, redis_server)) as server:
        server.add_member(USERNAME, PASSWORD, email="jiro@example.jp", first_name="次郎", last_name="佐藤")
        yield server


def half_way(idp):
    """The relying party holds a member's tokens from an earlier sign-in; another sign-in is at
    its password page."""
    portal = RelyingParty(idp, idp.url)
    earlier = tokens(portal.exchange(sign_in(idp)))
    return portal, earlier, Browser(idp).open_sign_in()


def test_redis_stopped_mid_sign_in_shows_503_and_once_back_the_member_starts_again_and_signs_in(
        idp, redis_server):
    portal, earlier, page = half_way(idp)
    code = sign_in(idp)  # the relying party has yet to exchange it

    redis_server.stop()

    assert_unavailable_page(page.send())
    assert_unavailable_page(Browser(idp).arrive())
    assert_unavailable_json(portal.exchange(code))
    assert readiness(idp.url) == (503, {"database": "UP", "ephemeral-store": "DOWN"})
    assert logged(idp.log, "dependency unavailable on POST /realms/kosmo-demo/login-actions/step")

    redis_server.start()

    lost = page.send()
    assert lost.status_code == 400 and SESSION_EXPIRED_TEXT in lost.text
    forgotten = portal.exchange(code)  # codes live in Redis too: the relying party starts a new sign-in
    assert forgotten.status_code == 400 and forgotten.json()["error"] == "invalid_grant"
    again = tokens(portal.exchange(sign_in(idp)))
    assert again["access_token"]
    assert tokens(portal.refresh(earlier["refresh_token"]))["access_token"]
    assert readiness(idp.url) == (200, {"database": "UP", "ephemeral-store": "UP"})


def test_postgres_stopped_mid_sign_in_shows_503_and_once_back_the_same_tab_finishes_with_nothing_lost(
        idp, postgres):
    portal, earlier, page = half_way(idp)

    postgres.stop()

    assert_unavailable_page(page.send())
    assert_unavailable_json(portal.refresh(earlier["refresh_token"]))
    assert_unavailable_json(portal.userinfo(earlier["access_token"]))
    assert readiness(idp.url) == (503, {"database": "DOWN", "ephemeral-store": "UP"})

    postgres.start()

    finished = tokens(portal.exchange(code_from(page.send())))
    assert portal.userinfo(finished["access_token"]).json()["preferred_username"] == USERNAME
    assert tokens(portal.refresh(earlier["refresh_token"]))["access_token"]
    assert "jiro@example.jp" in idp.idp("user", "show", "--realm", "kosmo-demo", USERNAME).stdout
    assert readiness(idp.url) == (200, {"database": "UP", "ephemeral-store": "UP"})


def test_a_pooled_redis_connection_cut_by_a_restart_is_replaced_on_the_next_command(redis_server):
    store = RedisStore(redis_server.url)
    store.put("survivor", {"kept": False}, 60)  # leaves an idle pooled connection for the restart to cut

    redis_server.stop()
    redis_server.start()

    assert store.get("survivor") is None  # nothing persisted, and no ConnectionError either
    store.put("after", {"kept": True}, 60)
    assert store.get("after") == {"kept": True}


def test_a_pooled_database_connection_cut_by_a_restart_is_replaced_on_the_next_query(postgres):
    database = Database(postgres.url)
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE kept (value text)"))
        connection.execute(text("INSERT INTO kept VALUES ('before the restart')"))

    postgres.stop()
    postgres.start()

    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM kept")).scalars().all() == ["before the restart"]
    database.dispose()
