"""Several instances starting at once on one empty database (a deployment rolling out, a
restart after an outage): each migrates, loads realm-config/ and makes the built-in clients and
keys, and all of them come up, leaving one of each. On SQLite and (when configured) PostgreSQL."""
from __future__ import annotations

import multiprocessing
import traceback

from sqlalchemy import func, select

from idp.db import Database
from idp.db.models import Client, Realm, SigningKey
from idp.realms import ACCOUNT_CONSOLE
from tests.support.settings import make_settings

INSTANCES = 3


def start_up(settings, barrier, results) -> None:
    """One instance's start-up, begun together with the others'."""
    from idp.setup import prepare

    database = Database(settings.database_url)
    barrier.wait(timeout=60)
    try:
        prepare(settings, database)
        results.put("started")
    except Exception:  # the test shows what failed, in the child, as it happened
        results.put(traceback.format_exc())
    finally:
        database.dispose()


def test_instances_starting_at_once_all_start_and_make_each_built_in_thing_once(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url=database_url)
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(INSTANCES), spawn.Queue()
    instances = [spawn.Process(target=start_up, args=(settings, barrier, results)) for _ in range(INSTANCES)]
    for instance in instances:
        instance.start()
    outcomes = [results.get(timeout=120) for _ in instances]
    for instance in instances:
        instance.join(timeout=30)

    assert outcomes == ["started"] * INSTANCES, "\n".join(outcomes)
    database = Database(database_url)
    with database.session() as session:
        for realm in session.scalars(select(Realm)):
            consoles = select(func.count()).where(Client.realm_id == realm.id, Client.client_id == ACCOUNT_CONSOLE)
            active = select(func.count()).where(SigningKey.realm_id == realm.id, SigningKey.active.is_(True))
            assert (session.scalar(consoles), session.scalar(active)) == (1, 1), realm.name
    database.dispose()
