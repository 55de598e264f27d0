"""Short-lived state with a time to live: auth sessions, codes, challenges, counters.

Two backends behind one interface: Redis when `IDP_REDIS_URL` is set, otherwise the SQL
database. Never process memory, so several workers and hosts behave like one. Values are
JSON objects, never pickles.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from idp.db import Database
from idp.db.models import EPHEMERAL_KEY_LENGTH as KEY_LENGTH
from idp.db.models import Base, EphemeralEntry


class EphemeralStore(Protocol):
    """What every backend offers; `ttl` is in seconds."""

    def put(self, key: str, value: dict, ttl: int) -> None: ...

    def add(self, key: str, value: dict, ttl: int) -> bool:
        """Store only if the key is absent; True when stored."""

    def get(self, key: str) -> dict | None: ...

    def take(self, key: str) -> dict | None:
        """Get and delete in one step, so a single-use value is used once."""

    def delete(self, key: str) -> None: ...

    def incr(self, key: str, ttl: int) -> int:
        """Add one to a counter (created at 1 with the ttl) and return it."""

    def ttl(self, key: str) -> int | None:
        """Seconds left before the key expires, or None when absent."""

    def ping(self) -> None: ...


class RedisStore:
    """Ephemeral state in Redis."""

    def __init__(self, url: str, prefix: str = "idp:"):
        import redis
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        # After a Redis restart the pool notices a cut idle connection and opens a new one; a
        # connection cut in the middle of a command is retried on a new connection. While Redis
        # stays down, two quick retries keep the 503 fast instead of holding the worker.
        self.redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), 2),
        )
        self.prefix = prefix

    def put(self, key: str, value: dict, ttl: int) -> None:
        self.redis.set(self.prefix + key, json.dumps(value), ex=max(1, int(ttl)))

    def add(self, key: str, value: dict, ttl: int) -> bool:
        return bool(self.redis.set(self.prefix + key, json.dumps(value), ex=max(1, int(ttl)), nx=True))

    def get(self, key: str) -> dict | None:
        raw = self.redis.get(self.prefix + key)
        return json.loads(raw) if raw is not None else None

    def take(self, key: str) -> dict | None:
        raw = self.redis.getdel(self.prefix + key)
        return json.loads(raw) if raw is not None else None

    def delete(self, key: str) -> None:
        self.redis.delete(self.prefix + key)

    def incr(self, key: str, ttl: int) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(self.prefix + key)
        pipe.expire(self.prefix + key, max(1, int(ttl)), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def ttl(self, key: str) -> int | None:
        left = self.redis.ttl(self.prefix + key)
        return None if left < 0 else int(left)

    def ping(self) -> None:
        self.redis.ping()


def row_key(key: str) -> str:
    """The key as the table holds it: a key longer than the column (it may carry what a visitor
    typed) keeps its start and ends in its SHA-256, so it still names one row."""
    if len(key) <= KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[:KEY_LENGTH - len(digest) - 1]}#{digest}"


class SqlStore:
    """Ephemeral state in the `ephemeral_entries` table; expired rows read as absent. Keys go
    through `row_key` first."""

    def __init__(self, database: Database):
        self.database = database

    def put(self, key: str, value: dict, ttl: int) -> None:
        key = row_key(key)
        values = {"value": json.dumps(value), "expires_at": time.time() + ttl}
        for _ in range(3):
            with self.database.engine.begin() as conn:
                if conn.execute(update(EphemeralEntry).where(EphemeralEntry.key == key).values(**values)).rowcount:
                    return
            try:
                with self.database.engine.begin() as conn:
                    conn.execute(insert(EphemeralEntry).values(key=key, count=0, **values))
                return
            except IntegrityError:
                continue  # another writer inserted it first: update theirs
        raise RuntimeError(f"could not store {key!r}")

    def add(self, key: str, value: dict, ttl: int) -> bool:
        key = row_key(key)
        now = time.time()
        with self.database.engine.begin() as conn:
            conn.execute(delete(EphemeralEntry).where(EphemeralEntry.key == key, EphemeralEntry.expires_at <= now))
        try:
            with self.database.engine.begin() as conn:
                conn.execute(
                    insert(EphemeralEntry).values(key=key, value=json.dumps(value), count=0, expires_at=now + ttl)
                )
            return True
        except IntegrityError:
            return False

    def get(self, key: str) -> dict | None:
        key = row_key(key)
        with self.database.engine.connect() as conn:
            row = conn.execute(
                select(EphemeralEntry.value).where(EphemeralEntry.key == key, EphemeralEntry.expires_at > time.time())
            ).first()
        return json.loads(row[0]) if row else None

    def take(self, key: str) -> dict | None:
        key = row_key(key)
        with self.database.engine.begin() as conn:
            row = conn.execute(
                delete(EphemeralEntry).where(EphemeralEntry.key == key).returning(
                    EphemeralEntry.value, EphemeralEntry.expires_at
                )
            ).first()
        if row is None or row[1] <= time.time():
            return None
        return json.loads(row[0])

    def delete(self, key: str) -> None:
        key = row_key(key)
        with self.database.engine.begin() as conn:
            conn.execute(delete(EphemeralEntry).where(EphemeralEntry.key == key))

    def incr(self, key: str, ttl: int) -> int:
        key = row_key(key)
        for _ in range(5):
            with self.database.engine.begin() as conn:
                row = conn.execute(
                    update(EphemeralEntry)
                    .where(EphemeralEntry.key == key, EphemeralEntry.expires_at > time.time())
                    .values(count=EphemeralEntry.count + 1)
                    .returning(EphemeralEntry.count)
                ).first()
            if row is not None:
                return int(row[0])
            if self._insert_counter(key, ttl):
                return 1
        raise RuntimeError(f"counter {key!r} kept changing under us")

    def _insert_counter(self, key: str, ttl: int) -> bool:
        now = time.time()
        try:
            with self.database.engine.begin() as conn:
                conn.execute(delete(EphemeralEntry).where(EphemeralEntry.key == key, EphemeralEntry.expires_at <= now))
                conn.execute(insert(EphemeralEntry).values(key=key, value="{}", count=1, expires_at=now + ttl))
            return True
        except IntegrityError:
            return False

    def ttl(self, key: str) -> int | None:
        key = row_key(key)
        with self.database.engine.connect() as conn:
            row = conn.execute(select(EphemeralEntry.expires_at).where(EphemeralEntry.key == key)).first()
        left = row[0] - time.time() if row else -1
        return math.ceil(left) if left > 0 else None

    def ping(self) -> None:
        with self.database.engine.connect() as conn:
            conn.execute(select(1))

    def purge_expired(self) -> int:
        """Delete expired rows; called now and then so the table does not grow."""
        with self.database.engine.begin() as conn:
            return conn.execute(delete(EphemeralEntry).where(EphemeralEntry.expires_at <= time.time())).rowcount


def make_store(redis_url: str | None, database: Database) -> EphemeralStore:
    if redis_url:
        return RedisStore(redis_url)
    return SqlStore(ephemeral_database(database))


def ephemeral_database(database: Database) -> Database:
    """The database for the SQL backend: the main one, except for an SQLite file.

    SQLite has one writer at a time, so a request holding a write transaction on the main
    file would wait on itself when it stores a code; a sibling file keeps them apart.
    PostgreSQL locks rows and shares one database happily.
    """
    if not database.url.startswith("sqlite:///") or database.url.endswith(":memory:"):
        return database
    path = database.url.split("///", 1)[1]
    sibling = Database(f"sqlite:///{path.removesuffix('.db')}-ephemeral.db")
    Base.metadata.tables[EphemeralEntry.__tablename__].create(sibling.engine, checkfirst=True)
    return sibling


def init_app(app: Flask, store: EphemeralStore) -> None:
    app.extensions["idp.ephemeral"] = store


def ephemeral() -> EphemeralStore:
    return current_app.extensions["idp.ephemeral"]
