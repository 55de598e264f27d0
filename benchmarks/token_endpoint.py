"""Token endpoint throughput: client-credentials and refresh grants per second, p50/p99 latency,
against `idp serve --workers 1` and `--workers 2` on 127.0.0.1. Run by hand (see README.md)."""
from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

CHECKOUT = Path(__file__).resolve().parent.parent
# Run as a plain script, Python only sees benchmarks/; the test servers live in the checkout.
sys.path.insert(0, str(CHECKOUT))

from tests.servers import INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET, IdpServer, sign_in_form  # noqa: E402

MEMBER_PASSWORD = "Bench-Kumiai-0001"
CLIENT_AUTH = (INTEROP_CONFIDENTIAL, INTEROP_CONFIDENTIAL_SECRET)


@dataclass
class Run:
    """What one grant did for a while under a fixed number of concurrent clients."""

    workers: int
    grant: str
    threads: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    server_traceback: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, latency: float | None, error: str = "") -> None:
        with self.lock:
            if latency is not None:
                self.latencies.append(latency)
            else:
                self.errors += 1
                self.first_error = self.first_error or error

    def row(self) -> str:
        ordered = sorted(self.latencies)
        rate = len(ordered) / self.seconds if self.seconds else 0.0
        p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else float("nan")
        return (f"| {self.workers:>7} | {self.grant:<18} | {self.threads:>7} | {rate:>8.1f} | {p50:>6.1f} | "
                f"{p99:>6.1f} | {len(ordered):>6} | {self.errors:>6} |")


HEADER = ("| workers | grant              | threads | grants/s | p50 ms | p99 ms |     ok | errors |\n"
          "|--------:|--------------------|--------:|---------:|-------:|-------:|-------:|-------:|")


def first_refresh_token(base: str, server: IdpServer, member: str) -> str:
    """Sign the member in through the hosted page (code + PKCE) and return the refresh token."""
    browser = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": INTEROP_CONFIDENTIAL, "response_type": "code", "scope": "openid",
                       "redirect_uri": server.callback_url, "state": secrets.token_urlsafe(8),
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    auth_url = f"{base}/protocol/openid-connect/auth?{query}"
    page = browser.get(auth_url, timeout=10)
    page.raise_for_status()
    action, hidden = sign_in_form(page.text)
    answer = browser.post(urljoin(auth_url, action), allow_redirects=False, timeout=10,
                          data={**hidden, "username": member, "password": MEMBER_PASSWORD})
    if answer.status_code != 302:
        raise SystemExit(f"signing the benchmark member in failed ({answer.status_code}): {answer.text[:300]}")
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    tokens = requests.post(f"{base}/protocol/openid-connect/token", auth=CLIENT_AUTH, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": server.callback_url,
        "code_verifier": verifier})
    tokens.raise_for_status()
    return tokens.json()["refresh_token"]


def client_credentials_loop(base: str, run: Run, deadline: float) -> None:
    http = requests.Session()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        answer = http.post(f"{base}/protocol/openid-connect/token", auth=CLIENT_AUTH, timeout=30,
                           data={"grant_type": "client_credentials"})
        run.record(time.perf_counter() - started if answer.status_code == 200 else None,
                   f"{answer.status_code} {answer.text[:200]}")


def refresh_loop(base: str, refresh_token: str, run: Run, deadline: float) -> None:
    """Each client refreshes its own token family, always with the newest refresh token.

    After a server error the same token is tried again (the failed request rotated nothing);
    a refusal (4xx) means the family is gone, so that client stops.
    """
    http = requests.Session()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        answer = http.post(f"{base}/protocol/openid-connect/token", auth=CLIENT_AUTH, timeout=30,
                           data={"grant_type": "refresh_token", "refresh_token": refresh_token})
        if answer.status_code == 200:
            refresh_token = answer.json()["refresh_token"]
            run.record(time.perf_counter() - started)
            continue
        run.record(None, f"{answer.status_code} {answer.text[:200]}")
        if answer.status_code < 500:
            return


def measure(run: Run, seconds: float, loop, per_thread_args: list[tuple]) -> Run:
    """Run `loop(*args, run, deadline)` in one thread per args tuple until the deadline."""
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=loop, args=(*args, run, deadline)) for args in per_thread_args]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


def bench_server(workers: int, threads: int, seconds: float, env: dict[str, str]) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as folder, \
            IdpServer(Path(folder), workers=workers, env=env) as server:
        # A new member each time: with --database-url the database outlives the server.
        member = f"bench{secrets.token_hex(3)}"
        server.add_member(member, MEMBER_PASSWORD)
        base = f"http://127.0.0.1:{server.port}/realms/kosmo-demo"
        measure(Run(workers, "warm-up", threads), 1.0, client_credentials_loop, [(base,)] * threads)
        credentials = measure(Run(workers, "client_credentials", threads), seconds, client_credentials_loop,
                              [(base,)] * threads)
        seeds = [(base, first_refresh_token(base, server, member)) for _ in range(threads)]
        refresh = measure(Run(workers, "refresh_token", threads), seconds, refresh_loop, seeds)
        runs = [credentials, refresh]
        for run in runs:
            if run.errors:
                run.server_traceback = last_traceback(server.output())
        return runs


def last_traceback(log: str) -> str:
    """The server's last logged traceback, so a failing grant says why."""
    start = log.rfind("Traceback (most recent call last)")
    return log[start:].split("\n127.0.0.1", 1)[0].strip() if start >= 0 else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each grant is measured")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients, one HTTP session each")
    parser.add_argument("--workers", default="1,2", help="comma-separated `idp serve --workers` values")
    parser.add_argument("--database-url", help="IDP_DATABASE_URL for the server (default: a temporary SQLite)")
    parser.add_argument("--redis-url", help="IDP_REDIS_URL for the server (default: ephemeral state in SQL)")
    options = parser.parse_args(argv)
    # All the load comes from one address and one client, far over the production limits: raise
    # them out of the way, so the figures still include the cost of counting every request.
    env = {"IDP_RATE_LIMIT_TOKEN": "100000000/1m", "IDP_RATE_LIMIT_TOKEN_CLIENT": "100000000/1m"}
    if options.database_url:
        env["IDP_DATABASE_URL"] = options.database_url
    if options.redis_url:
        env["IDP_REDIS_URL"] = options.redis_url
    runs = []
    for workers in (int(value) for value in options.workers.split(",")):
        print(f"measuring idp serve --workers {workers} ...", file=sys.stderr, flush=True)
        runs += bench_server(workers, options.threads, options.seconds, env)
    print(HEADER)
    for run in runs:
        print(run.row())
    for run in runs:
        if run.errors:
            print(f"\n{run.grant} with {run.workers} worker(s): first error: {run.first_error[:200]}")
            if run.server_traceback:
                print(f"server's last traceback:\n{run.server_traceback}")


if __name__ == "__main__":
    main()
