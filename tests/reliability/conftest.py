"""Two `idp serve --workers 2` instances started at the same moment on an empty PostgreSQL cluster
and a redis-server of the suite's own, as a deployment behind a load balancer runs them: both
migrating and loading the realms at once must come up (issue 17's start-up race)."""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.support.journeys import PASSWORD, USERNAME
from tests.support.servers import IdpServer, PostgresCluster, RedisServer, postgres_bin
from tests.support.settings import UNDER_CI


@dataclass
class Deployment:
    """The two instances (one issuer: the first's URL), their database and their Redis."""

    first: IdpServer
    second: IdpServer
    postgres: PostgresCluster
    redis: RedisServer

    @property
    def instances(self) -> tuple[IdpServer, IdpServer]:
        return self.first, self.second


def need(found, what: str):
    if not found:
        (pytest.fail if UNDER_CI else pytest.skip)(f"{what} is missing: this suite starts its own servers")
    return found


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    bin_dir = need(postgres_bin(), "PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/*/bin)")
    redis_program = need(shutil.which("redis-server"), "redis-server")
    folder = tmp_path_factory.mktemp("deployment")
    with ExitStack() as stack:
        postgres = PostgresCluster(bin_dir)
        stack.callback(postgres.destroy)
        postgres.create()
        redis = stack.enter_context(RedisServer(folder / "redis", redis_program))
        storage = {"IDP_DATABASE_URL": postgres.url, "IDP_REDIS_URL": redis.url}
        first = IdpServer(folder / "first", workers=2, env=storage)
        # Behind the load balancer both answer for one issuer, from the same realm files.
        second = IdpServer(folder / "second", workers=2, env={
            **storage, "IDP_BASE_URL": first.url, "IDP_REALMS_DIR": str(first.folder / "realm-config")})
        stack.callback(first.stop)
        stack.callback(second.stop)
        with ThreadPoolExecutor(2) as starting:
            list(starting.map(lambda instance: instance.start(), (first, second)))
        first.add_member(USERNAME, PASSWORD, email="shiro@example.jp", first_name="四郎", last_name="中村")
        yield Deployment(first, second, postgres, redis)
