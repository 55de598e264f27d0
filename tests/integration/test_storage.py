"""The durable schema on SQLite and PostgreSQL: migrations, per-realm uniqueness, cascades, races.

Uniqueness is the database's job (docs/design.md: races lose cleanly), so these tests write rows
directly and expect the database itself to refuse the duplicates.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from idp.db import Database, alembic_config
from idp.db.models import Client, Credential, PendingRequiredAction, Realm, User

TABLES = {
    "realms", "clients", "users", "credentials", "pending_required_actions", "user_sessions",
    "client_sessions", "refresh_token_families", "signing_keys", "audit_events", "ephemeral_entries",
}


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


def make_realm(db: Database, name: str) -> str:
    with db.session() as session:
        realm = Realm(name=name)
        session.add(realm)
        session.flush()
        return realm.id


def add_user(db: Database, realm_id: str, username: str, email: str | None = None) -> str:
    with db.session() as session:
        user = User(realm_id=realm_id, username=username, email=email)
        session.add(user)
        session.flush()
        return user.id


def count(db: Database, model, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_migrations_create_every_table_and_reach_the_newest_revision(database_url):
    database = Database(database_url)
    database.upgrade()
    database.upgrade()  # a second run is a no-op, as on every restart of `idp serve`
    assert TABLES <= set(inspect(database.engine).get_table_names())
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    database.dispose()


def test_a_username_is_unique_within_a_realm(db):
    realm = make_realm(db, "kosmo-demo")
    add_user(db, realm, "yamada-taro")
    with pytest.raises(IntegrityError):
        add_user(db, realm, "yamada-taro")


def test_the_same_username_may_live_in_two_realms(db):
    add_user(db, make_realm(db, "society-a"), "yamada-taro")
    add_user(db, make_realm(db, "society-b"), "yamada-taro")
    assert count(db, User, User.username == "yamada-taro") == 2


def test_an_email_is_unique_within_a_realm_whatever_its_case(db):
    realm = make_realm(db, "kosmo-demo")
    add_user(db, realm, "member-one", "A@x.jp")
    with pytest.raises(IntegrityError):
        add_user(db, realm, "member-two", "a@x.jp")


def test_the_same_email_may_be_used_in_two_realms(db):
    add_user(db, make_realm(db, "society-a"), "member-one", "taro@x.jp")
    add_user(db, make_realm(db, "society-b"), "member-one", "TARO@x.jp")
    assert count(db, User, func.lower(User.email) == "taro@x.jp") == 2


def test_members_without_an_email_yet_do_not_collide(db):
    realm = make_realm(db, "kosmo-demo")
    for name in ("member-one", "member-two", "member-three"):
        add_user(db, realm, name, None)
    assert count(db, User, User.email.is_(None)) == 3


def test_deleting_a_realm_deletes_its_clients_members_and_their_credentials(db):
    realm = make_realm(db, "doomed")
    kept = make_realm(db, "kept")
    user = add_user(db, realm, "yamada-taro", "taro@x.jp")
    add_user(db, kept, "yamada-taro", "taro@x.jp")
    with db.session() as session:
        session.add(Client(realm_id=realm, client_id="kosmo-portal"))
        session.add(Credential(user_id=user, type="password"))
        session.add(PendingRequiredAction(user_id=user, action="UPDATE_PASSWORD"))
    with db.session() as session:
        # A bulk delete bypasses the ORM, so only the database's ON DELETE CASCADE can help.
        session.execute(delete(Realm).where(Realm.id == realm))
    assert count(db, User, User.realm_id == realm) == 0
    assert count(db, Client, Client.realm_id == realm) == 0
    assert count(db, Credential, Credential.user_id == user) == 0
    assert count(db, PendingRequiredAction, PendingRequiredAction.user_id == user) == 0
    assert count(db, User, User.realm_id == kept) == 1


def test_twenty_members_racing_for_one_email_leave_exactly_one_winner(db):
    realm = make_realm(db, "kosmo-demo")
    racers = 20
    start = threading.Barrier(racers)

    def register(i: int) -> bool:
        start.wait()
        try:
            # Mixed case on purpose: the race is decided by the case-insensitive index.
            add_user(db, realm, f"member-{i:02d}", "Taro@X.jp" if i % 2 else "taro@x.jp")
            return True
        except IntegrityError:
            return False

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(register, range(racers)))
    assert outcomes.count(True) == 1
    assert count(db, User, User.realm_id == realm) == 1


def test_a_rolled_back_transaction_keeps_nothing_written_inside_a_savepoint(database_url):
    """SQLite's driver used to commit a savepoint taken as the first write; nothing may survive a rollback."""
    from idp.db.models import Realm

    database = Database(database_url)
    database.upgrade()
    session = database.sessions()
    with session.begin_nested():
        session.add(Realm(name="savepoint-realm"))
    session.rollback()
    session.close()
    with database.session() as check:
        assert check.query(Realm).filter_by(name="savepoint-realm").count() == 0
    database.dispose()


def test_concurrent_read_then_write_transactions_all_succeed(database_url):
    """Requests read before they write (a refresh reads the session, then touches it); none may fail."""
    from idp.db.models import Realm

    database = Database(database_url)
    database.upgrade()
    with database.session() as session:
        session.add(Realm(name="busy-realm", display_name="0"))
    errors = []

    def read_then_write(n: int) -> None:
        try:
            with database.session() as session:
                realm = session.scalar(select(Realm).where(Realm.name == "busy-realm"))
                threading.Event().wait(0.02)
                realm.display_name = str(n)
        except Exception as exc:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(read_then_write, range(24)))
    database.dispose()
    assert errors == []
