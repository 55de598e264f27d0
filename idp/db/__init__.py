"""The SQL database: engine, sessions, Alembic migrations.

Web requests get one session per request (`db_session()`), committed by the code that
changes something and rolled back at the end of the request otherwise; the CLI and tests use
`Database.session()` as a context manager.
"""
from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database:
    """One engine and session factory for a database URL."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def exclusive(self, purpose: str) -> Iterator[None]:
        """Held by one process at a time among all that share this database, e.g. instances
        starting together: PostgreSQL's advisory lock, or for SQLite (one host) a lock on a file
        beside it. Others wait for it, then find what the holder made."""
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:8], "big", signed=True)
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            return
        path = self.engine.url.database
        if not path or path == ":memory:":
            yield  # a database only this process sees
            return
        with open(f"{path}.{purpose}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # pool_pre_ping tests a pooled connection before lending it, so connections a database
    # restart cut are replaced and service resumes by itself; a short connect timeout and pool
    # wait turn an unreachable database into a quick 503 rather than a hung worker.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=10,
                         connect_args={"connect_timeout": 5})


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # The sqlite3 driver opens transactions on its own and so commits a SAVEPOINT taken as
    # the first write; turn that off and let SQLAlchemy say BEGIN (see `_sqlite_begin`).
    dbapi_connection.isolation_level = None
    # WAL lets readers and one writer work at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that read first and writes later
    # would otherwise be refused at once ("database is locked") when another writer got in
    # between, and the busy timeout does not help there. Readers still run alongside (WAL);
    # writers queue. PostgreSQL is the choice when that queue matters.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def init_app(app: Flask, database: Database) -> None:
    app.extensions["idp.db"] = database

    @app.teardown_appcontext
    def close_session(_exc) -> None:
        release_request_session()


def release_request_session() -> None:
    """End the request's session: what it did not commit is rolled back. Its objects stay
    readable as far as they were loaded. When the database went away under it, the connection
    is thrown away instead, so the answer already made still goes out."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError:
        session.invalidate()


def get_database() -> Database:
    return current_app.extensions["idp.db"]


def db_session() -> Session:
    """The current request's session."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    return g.db_session
