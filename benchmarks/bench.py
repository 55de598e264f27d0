"""`make bench`: issue 12's figures for `idp serve --workers 2` on SQLite and on PostgreSQL +
Redis, beside node-oidc-provider, printed as one Markdown table (see benchmarks/README.md)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from benchmarks import grants, members
from benchmarks.load import paced
from benchmarks.measure import (
    Budget,
    CommandCost,
    Cost,
    cost_in_rounds,
    cost_of,
    cpu_seconds_of_hash,
    prepared,
    run_command,
)
from benchmarks.procfs import process_tree, rss_mib
from benchmarks.servers import (
    ADMIN_CLIENT,
    ADMIN_CLIENT_SECRET,
    NODE_CLIENT,
    NODE_CLIENT_SECRET,
    SERVER_ENV,
    NodeOidcProvider,
    bench_server,
    empty_redis,
    fresh_postgres,
    node_missing,
    postgres_missing,
    timed_start,
)
from benchmarks.table import Figures, print_table
from idp.config import Settings
from idp.security.passwords import hash_password, verify_password
from tests.support.servers import BIN, CHECKOUT, INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET, REALM

PASSWORD = "Bench-Kumiai-0001"
SETTINGS = Settings.from_env(SERVER_ENV, secret_key="benchmark-only-secret-key-0123456789")


@dataclass(frozen=True)
class Scale:
    """Sizes of one run: BENCH_SCALE=tiny (CI), default, or full (a million members; slow)."""

    budget: Budget
    hashes: int  # in-process hashes timed
    members: int  # the realm's members during the grant figures, and the small side of the scale figures
    many_members: int
    imported_members: int
    exported_users: int


SCALES = {
    "tiny": Scale(Budget(threads=2, requests=12, seconds=2, batch=6), 3, 100, 1_000, 4, 20),
    "default": Scale(Budget(threads=8, requests=100_000, seconds=8, batch=240), 20, 1_000, 100_000, 1_000, 5_000),
    "full": Scale(Budget(threads=8, requests=1_000_000, seconds=20, batch=400), 50, 1_000, 1_000_000, 100_000,
                  100_000),
}


@dataclass
class Storage:
    """Where one column's server keeps its state."""

    name: str
    env: dict[str, str] = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=SCALES, default=os.environ.get("BENCH_SCALE") or "default")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("BENCH_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server where a throwaway database may be created")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/6",
                        help="a Redis database of the benchmark's own (it is emptied)")
    options = parser.parse_args(argv)
    scale = SCALES[options.scale]
    figures = Figures(scale_sizes=(scale.members, scale.many_members), imported=scale.imported_members,
                      exported=scale.exported_users)
    log(f"argon2 hash alone, {scale.hashes} times in-process ...")
    figures.hash_seconds = hash_cpu_seconds(scale.hashes)
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as folder:
        backends = options.backends.split(",")
        if "sqlite" in backends:
            figures.columns["SQLite"] = measure_idp(Path(folder) / "sqlite", scale, Storage("SQLite"))
        if "postgres" in backends:
            figures.columns["PostgreSQL + Redis"] = measure_postgres(Path(folder) / "postgres", scale, options)
        figures.node = measure_node(Path(folder), scale.budget)
    print_table(figures)


def hash_cpu_seconds(times: int) -> float:
    secret_data, credential_data = hash_password(PASSWORD, SETTINGS)
    return cpu_seconds_of_hash(lambda: verify_password(PASSWORD, secret_data, credential_data), times)


def measure_postgres(folder: Path, scale: Scale, options) -> dict | str:
    missing = postgres_missing(options.postgres_url, options.redis_url)
    if missing:
        return f"skipped: {missing}"
    with fresh_postgres(options.postgres_url) as database_url:
        storage = Storage("PostgreSQL + Redis", {"IDP_DATABASE_URL": database_url,
                                                 "IDP_REDIS_URL": empty_redis(options.redis_url)})
        column = measure_idp(folder / "grants", scale, storage)
    column["scale"] = measure_scale(folder, scale, options)
    return column


@contextmanager
def started(folder: Path, storage: Storage, seeded: int) -> Iterator:
    """A running `idp serve --workers 2` whose realm has `seeded` members, and its realm's address."""
    server = bench_server(folder, storage.env)
    with server:
        members.seed_members(server.env["IDP_DATABASE_URL"], REALM, seeded, hash_password(PASSWORD, SETTINGS))
        realm = grants.Realm(f"http://127.0.0.1:{server.port}/realms/{REALM}", server.callback_url,
                             INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET)
        yield server, realm


def measure_idp(folder: Path, scale: Scale, storage: Storage) -> dict:
    budget, threads = scale.budget, scale.budget.threads
    column: dict = {}
    with started(folder, storage, scale.members) as (server, realm):
        pid = server.process.pid
        log(f"{storage.name}: client credentials ...")
        cost_of(pid, [grants.client_credentials(realm) for _ in range(threads)], budget)  # warm-up
        column["client_credentials"] = cost_of(pid, [grants.client_credentials(realm) for _ in range(threads)],
                                               budget)
        log(f"{storage.name}: refresh ...")
        column["refresh"] = cost_of(pid, refreshers(realm, threads), budget)
        log(f"{storage.name}: authorization code ...")
        column["authorization_code"] = code_exchange_cost(pid, realm, budget)
        log(f"{storage.name}: password grant ...")
        column["password"] = cost_of(pid, [grants.password_grant(realm, members.username(number), PASSWORD)
                                           for number in range(threads)], budget)
        log(f"{storage.name}: password sign-in step ...")
        column["sign_in_step"] = sign_in_step_cost(pid, realm, budget)
        log(f"{storage.name}: latency at half the peak rate ...")
        column["half_peak"] = {
            "client credentials": at_half_peak(column["client_credentials"], budget,
                                               [grants.client_credentials(realm) for _ in range(threads)]),
            "refresh": at_half_peak(column["refresh"], budget, refreshers(realm, threads)),
        }
        column["rss"] = [rss_mib(worker) for worker in process_tree(pid)[1:]]
        log(f"{storage.name}: idp members import of {scale.imported_members} ...")
        column["import"] = import_members(server, folder, scale.imported_members)
        log(f"{storage.name}: Keycloak export of {scale.exported_users} users ...")
        column["keycloak_import"] = import_keycloak_export(server, folder, scale.exported_users)
    column["start"] = timed_start(server)
    server.stop()
    return column


def refreshers(realm: grants.Realm, threads: int) -> list:
    """One refreshing client per thread, each with a token family of its own."""
    families = []
    for number in range(threads):
        _browser, code = grants.signed_in_browser(realm, members.username(number), PASSWORD)
        families.append(grants.refresh(realm, grants.exchange(realm, code)["refresh_token"]))
    return families


def code_exchange_cost(pid: int, realm: grants.Realm, budget: Budget) -> Cost:
    """Code-for-token exchanges only; the codes come from browsers signed in beforehand."""
    browsers = [grants.signed_in_browser(realm, members.username(number), PASSWORD)[0]
                for number in range(budget.threads)]

    def prepare(count: int) -> list:
        codes = prepared(count, budget.threads, lambda number: grants.next_code(realm, browsers[number]))
        return [grants.code_exchange(realm, batch) for batch in codes]

    return cost_in_rounds(pid, prepare, budget)


def sign_in_step_cost(pid: int, realm: grants.Realm, budget: Budget) -> Cost:
    """The hosted page's password form sent with the right password (a redirect with a code back);
    opening the page beforehand is not counted."""

    def prepare(count: int) -> list:
        pages = prepared(count, budget.threads, lambda _number: grants.sign_in_page(realm))
        return [grants.sign_in_step(batch, members.username(number), PASSWORD) for number, batch in enumerate(pages)]

    return cost_in_rounds(pid, prepare, budget)


def at_half_peak(peak: Cost, budget: Budget, steps: list) -> tuple[float, Cost]:
    rate = peak.rate / 2
    return rate, Cost(paced(steps, rate, int(rate * budget.seconds) or 1, budget.seconds))


def import_members(server, folder: Path, count: int) -> CommandCost:
    csv_file = members.write_member_csv(folder / "members.csv", count, PASSWORD)
    return run_command([str(BIN / "idp"), "members", "import", "--realm", REALM, str(csv_file)], server.env, CHECKOUT)


def import_keycloak_export(server, folder: Path, count: int) -> CommandCost:
    export = members.write_keycloak_export(folder / "keycloak-realm.json", count, hash_password(PASSWORD, SETTINGS))
    return run_command([str(BIN / "idp"), "realm", "import", str(export)], server.env, CHECKOUT)


def measure_scale(folder: Path, scale: Scale, options) -> dict[int, dict[str, Cost]]:
    """Sign-in step, refresh and Admin API user search with few and with many members."""
    costs = {}
    for count in (scale.members, scale.many_members):
        with fresh_postgres(options.postgres_url) as database_url:
            storage = Storage(f"PostgreSQL + Redis, {count:,} members",
                              {"IDP_DATABASE_URL": database_url, "IDP_REDIS_URL": empty_redis(options.redis_url)})
            log(f"{storage.name} ...")
            with started(folder / f"scale-{count}", storage, count) as (server, realm):
                costs[count] = scale_costs(server.process.pid, realm, scale.budget, count)
    return costs


def scale_costs(pid: int, realm: grants.Realm, budget: Budget, count: int) -> dict[str, Cost]:
    token = grants.service_token(realm, ADMIN_CLIENT, ADMIN_CLIENT_SECRET)
    admin_url = realm.url.replace("/realms/", "/admin/realms/")
    # A member in the middle of the user IDs, so the search cannot stop at the first rows.
    term = members.username(count // 2)
    searches = [grants.user_search(realm, admin_url, token, term) for _ in range(budget.threads)]
    return {"sign_in_step": sign_in_step_cost(pid, realm, budget),
            "refresh": cost_of(pid, refreshers(realm, budget.threads), budget),
            "user_search": cost_of(pid, searches, budget)}


def measure_node(folder: Path, budget: Budget) -> Cost | str:
    """node-oidc-provider's CPU per client-credentials grant under the same load."""
    missing = node_missing()
    if missing:
        if os.environ.get("CI") == "true":
            raise SystemExit(f"node-oidc-provider is required under CI: {missing}")
        return f"skipped: {missing}"
    log("node-oidc-provider: client credentials ...")
    with NodeOidcProvider(folder) as provider:
        realm = grants.Realm(provider.url, "", NODE_CLIENT, NODE_CLIENT_SECRET, token_path="/token")
        steps = [grants.client_credentials(realm) for _ in range(budget.threads)]
        cost_of(provider.process.pid, steps, budget)  # warm-up
        return cost_of(provider.process.pid, steps, budget)


if __name__ == "__main__":
    main()
