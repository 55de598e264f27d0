"""The ephemeral store keeps its promises on every backend: SQL (SQLite, PostgreSQL) and Redis.

Each story is written once in `StoreStories` and run against each backend, so an auth code
taken twice or a lockout counter that loses increments shows up whichever backend an
operator picks.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from idp.db import Database
from idp.ephemeral import RedisStore, SqlStore

RACERS = 10


def race(action, count: int = RACERS) -> list:
    """Run `action(i)` in `count` threads released at the same instant; return the results."""
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


class StoreStories:
    """Every EphemeralStore operation; subclasses provide the `store` fixture."""

    def test_a_stored_value_reads_back_as_the_same_json_object(self, store):
        value = {"user": "yamada-taro", "steps": ["password", "otp"], "名前": "山田 太郎", "n": 3}
        store.put("auth-session:1", value, 60)
        assert store.get("auth-session:1") == value

    def test_an_unknown_key_reads_as_absent(self, store):
        assert store.get("never-stored") is None
        assert store.take("never-stored") is None
        assert store.ttl("never-stored") is None

    def test_put_replaces_the_value_and_its_time_to_live(self, store):
        store.put("code:1", {"v": 1}, 600)
        store.put("code:1", {"v": 2}, 30)
        assert store.get("code:1") == {"v": 2}
        assert 28 <= store.ttl("code:1") <= 30

    def test_add_stores_only_when_the_key_is_absent(self, store):
        assert store.add("challenge:1", {"first": True}, 60) is True
        assert store.add("challenge:1", {"first": False}, 60) is False
        assert store.get("challenge:1") == {"first": True}

    def test_take_gives_the_value_once(self, store):
        store.put("code:abc", {"client": "kosmo-portal"}, 60)
        assert store.take("code:abc") == {"client": "kosmo-portal"}
        assert store.take("code:abc") is None
        assert store.get("code:abc") is None

    def test_delete_forgets_the_key_and_tolerates_a_missing_one(self, store):
        store.put("auth-session:2", {"x": 1}, 60)
        store.delete("auth-session:2")
        store.delete("auth-session:2")
        assert store.get("auth-session:2") is None
        assert store.ttl("auth-session:2") is None

    def test_incr_counts_from_one_and_keeps_the_first_time_to_live(self, store):
        assert store.incr("failures:yamada", 60) == 1
        assert store.incr("failures:yamada", 6000) == 2
        assert store.incr("failures:yamada", 6000) == 3
        assert 58 <= store.ttl("failures:yamada") <= 60

    def test_ttl_tells_the_seconds_left(self, store):
        store.put("auth-session:3", {}, 120)
        assert 118 <= store.ttl("auth-session:3") <= 120

    def test_keys_are_independent(self, store):
        store.put("a", {"k": "a"}, 60)
        store.put("b", {"k": "b"}, 60)
        store.incr("c", 60)
        assert store.take("a") == {"k": "a"}
        assert store.get("b") == {"k": "b"}
        assert store.incr("c", 60) == 2

    def test_expired_entries_read_as_absent_and_can_be_made_again(self, store):
        store.put("expiring:get", {"v": 1}, 1)
        store.put("expiring:take", {"v": 1}, 1)
        store.add("expiring:add", {"v": "old"}, 1)
        store.incr("expiring:count", 1)
        store.incr("expiring:count", 1)
        store.put("lasting", {"v": 1}, 60)
        time.sleep(1.2)
        assert store.get("expiring:get") is None
        assert store.take("expiring:take") is None
        assert store.ttl("expiring:get") is None
        assert store.add("expiring:add", {"v": "new"}, 60) is True
        assert store.get("expiring:add") == {"v": "new"}
        assert store.incr("expiring:count", 60) == 1
        assert store.get("lasting") == {"v": 1}

    def test_a_single_use_value_taken_by_many_at_once_is_given_to_exactly_one(self, store):
        store.put("code:raced", {"sub": "member-1"}, 60)
        results = race(lambda _: store.take("code:raced"))
        assert [r for r in results if r is not None] == [{"sub": "member-1"}]

    def test_add_raced_by_many_at_once_stores_exactly_one(self, store):
        results = race(lambda i: store.add("challenge:raced", {"by": i}, 60))
        assert results.count(True) == 1
        winner = results.index(True)
        assert store.get("challenge:raced") == {"by": winner}

    def test_concurrent_increments_are_all_counted(self, store):
        per_thread = 5
        results = race(lambda _: [store.incr("failures:raced", 60) for _ in range(per_thread)])
        counts = sorted(c for thread in results for c in thread)
        assert counts == list(range(1, RACERS * per_thread + 1))

    def test_ping_succeeds_on_a_reachable_backend(self, store):
        store.ping()


class TestSqlStore(StoreStories):
    @pytest.fixture
    def store(self, database_url):
        database = Database(database_url)
        database.upgrade()
        yield SqlStore(database)
        database.dispose()

    def test_purge_expired_deletes_only_expired_rows(self, store):
        store.put("old", {}, 1)
        store.put("fresh", {}, 60)
        time.sleep(1.1)
        assert store.purge_expired() == 1
        assert store.get("fresh") == {}


class TestRedisStore(StoreStories):
    @pytest.fixture
    def store(self, redis_url):
        store = RedisStore(redis_url)
        yield store
        store.redis.close()

    def test_keys_live_under_the_prefix(self, store, redis_url):
        store.put("code:1", {}, 60)
        assert store.redis.exists("idp:code:1") == 1
        other = RedisStore(redis_url, prefix="other:")
        assert other.get("code:1") is None
