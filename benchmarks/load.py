"""The load generator: threads, each with a keep-alive HTTP session of its own, sending only to
127.0.0.1 or localhost, bounded by a number of requests and by time.

A step is one request: it returns None when answered as expected, else what went wrong, and
raises `Exhausted` when it has nothing prepared left to send (codes, sign-in pages)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import requests

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_SECONDS = 30

Step = Callable[[], "str | None"]


class Exhausted(Exception):
    """A step has sent everything prepared for it."""


class LocalSession(requests.Session):
    """A keep-alive session that refuses any address but this machine's loopback."""

    def request(self, method, url, *args, **kwargs):
        if urlsplit(url).hostname not in LOCAL_HOSTS:
            raise ValueError(f"the benchmark only sends to 127.0.0.1 or localhost, not {url}")
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)


@dataclass
class Tally:
    """Answers, failures and latencies of the requests of one run."""

    ok: int = 0
    failed: int = 0
    first_error: str = ""
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, latency: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.ok += 1
                self.latencies.append(latency)
            else:
                self.failed += 1
                self.first_error = self.first_error or error

    def add(self, other: "Tally") -> None:
        self.ok += other.ok
        self.failed += other.failed
        self.first_error = self.first_error or other.first_error
        self.latencies += other.latencies
        self.seconds += other.seconds

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


class _Tickets:
    """Hands out request numbers until `count` are out or the deadline passed."""

    def __init__(self, count: int, seconds: float):
        self.count, self.deadline = count, time.monotonic() + seconds
        self.issued = 0
        self.lock = threading.Lock()

    def next(self) -> int | None:
        with self.lock:
            if self.issued >= self.count or time.monotonic() >= self.deadline:
                return None
            self.issued += 1
            return self.issued - 1


def _drive(steps: list[Step], count: int, seconds: float, due: Callable[[int], float] | None) -> Tally:
    """One thread per step sending requests, each when `due(its number)` says (a perf_counter
    time), or as soon as the thread's last one was answered when `due` is None."""
    tally, tickets = Tally(), _Tickets(count, seconds)

    def work(step: Step) -> None:
        while (number := tickets.next()) is not None:
            sent = due(number) if due else time.perf_counter()
            time.sleep(max(0.0, sent - time.perf_counter()))
            try:
                error = step()
            except Exhausted:
                return
            except requests.RequestException as problem:  # no answer at all: a failure too
                error = f"{type(problem).__name__}: {problem}"
            tally.record(time.perf_counter() - sent, error)

    threads = [threading.Thread(target=work, args=(step,)) for step in steps]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.seconds = time.monotonic() - started
    return tally


def closed_loop(steps: list[Step], count: int, seconds: float) -> Tally:
    """Each step's thread sends its next request as soon as the last is answered."""
    return _drive(steps, count, seconds, None)


def paced(steps: list[Step], rate: float, count: int, seconds: float) -> Tally:
    """Requests at a fixed rate (request k at k/rate seconds), spread over the steps' threads.

    Latency counts from when a request was due, not when it was sent, so a server that falls
    behind shows it in the percentiles instead of slowing the load down."""
    start = time.perf_counter()
    return _drive(steps, count, seconds, lambda number: start + number / rate)
