"""The servers a benchmark run measures: `idp serve --workers 2` on a fresh SQLite or PostgreSQL
database (Redis db of its own), and node-oidc-provider, each on a free port of 127.0.0.1."""
from __future__ import annotations

import secrets
import shutil
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
import redis
from ruamel.yaml import YAML

from tests.support.servers import (
    REALM,
    IdpServer,
    ServerFailed,
    _Process,
    free_port,
    interop_clients,
)

NODE_DIR = Path(__file__).resolve().parent / "node"
ADMIN_CLIENT, ADMIN_CLIENT_SECRET = "bench-admin", "bench-admin-secret"
NODE_CLIENT, NODE_CLIENT_SECRET = "bench", "bench-secret"
HEALTH_POLL_SECONDS = 0.005
ENOUGH = "100000000/1m"

# Keycloak's argon2 parameters (Argon2Parameters' defaults), and rate limits on but far above
# what one address and one client send here: counting every request still costs what it costs.
SERVER_ENV = {
    "IDP_ARGON2_TIME_COST": "5",
    "IDP_ARGON2_MEMORY_KIB": "7168",
    "IDP_ARGON2_PARALLELISM": "1",
    "IDP_RATE_LIMITS": "true",
    "IDP_RATE_LIMIT_SIGN_IN": ENOUGH,
    "IDP_RATE_LIMIT_TOKEN": ENOUGH,
    "IDP_RATE_LIMIT_TOKEN_CLIENT": ENOUGH,
}


def bench_server(folder: Path, storage: dict[str, str], workers: int = 2) -> IdpServer:
    """The demo realm with the interop clients and an Admin API service account, not started."""
    admin = {"client_id": ADMIN_CLIENT, "secret": {"env": "BENCH_ADMIN_SECRET", "default": ADMIN_CLIENT_SECRET},
             "standard_flow": False, "service_account": True, "admin_api": True,
             "service_account_client_roles": {"realm-management": ["view-users"]}}
    callback_url = f"http://localhost:{free_port()}/cb"
    server = IdpServer(folder, workers=workers, env={**SERVER_ENV, **storage},
                       extra_clients=[*interop_clients(callback_url), admin])
    server.callback_url = callback_url  # where the interop clients given here redirect
    _switch_admin_api_on(server.folder / "realm-config" / f"{REALM}.yaml")
    return server


def _switch_admin_api_on(realm_file: Path) -> None:
    yaml = YAML()
    realm = yaml.load(realm_file.read_text(encoding="utf-8"))
    realm["admin_api"] = True
    with realm_file.open("w", encoding="utf-8") as out:
        yaml.dump(realm, out)


def timed_start(server: IdpServer) -> float:
    """Seconds from starting `idp serve` to its first 200 on /health/live."""
    health = f"http://127.0.0.1:{server.port}/health/live"
    starting = threading.Thread(target=server.start)
    began = time.monotonic()
    starting.start()
    while True:
        try:
            with urllib.request.urlopen(health, timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError as not_yet:  # not listening yet
            if not starting.is_alive() and server.process.poll() is not None:
                raise ServerFailed(f"idp serve stopped before answering; its output:\n"
                                   f"{server.output()[-3000:]}") from not_yet
            time.sleep(HEALTH_POLL_SECONDS)
    answered = time.monotonic() - began
    starting.join()
    return answered


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """A database of its own on the PostgreSQL server at `server_url`, dropped afterwards."""
    name = f"idp_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_redis(url: str) -> str:
    """Clears the benchmark's own Redis database (its number is in `url`) and returns `url`."""
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


def postgres_missing(postgres_url: str, redis_url: str) -> str | None:
    """Why the PostgreSQL + Redis column cannot be measured, or None when it can."""
    try:
        with psycopg.connect(postgres_url, connect_timeout=3):
            pass
        with redis.Redis.from_url(redis_url, socket_connect_timeout=3) as client:
            client.ping()
    except (psycopg.OperationalError, redis.ConnectionError) as problem:
        return "PostgreSQL or Redis does not answer (" + " ".join(str(problem).split()) + ")"
    return None


def node_missing() -> str | None:
    """Why node-oidc-provider cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        return "benchmarks/node has no node_modules (make benchmarks/node/node_modules/.installed)"
    return None


class NodeOidcProvider(_Process):
    """benchmarks/node/server.mjs: one client with client credentials, RS256 JWT access tokens."""

    name = "node-oidc-provider"

    def __init__(self, folder: Path):
        super().__init__(Path(folder) / "node-oidc-provider.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "NodeOidcProvider":
        self._spawn(["node", str(NODE_DIR / "server.mjs"), str(self.port), NODE_CLIENT, NODE_CLIENT_SECRET],
                    {"PATH": str(Path(shutil.which("node")).parent), "NODE_ENV": "production"})
        self._wait_until_answering(f"{self.url}/.well-known/openid-configuration")
        return self
