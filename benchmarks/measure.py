"""Server CPU per answered request: the server's process-tree CPU over a run of the load
generator, divided by the answers that succeeded; and the same for prepared requests, measured
in rounds so that preparing them (sign-ins, codes) is never counted."""
from __future__ import annotations

import resource
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from benchmarks.load import Step, Tally, closed_loop
from benchmarks.procfs import tree_cpu_seconds


@dataclass(frozen=True)
class Budget:
    """How much load one figure gets: concurrent clients, and a bound in requests and in time."""

    threads: int
    requests: int
    seconds: float
    batch: int  # requests prepared per round


@dataclass
class Cost:
    """What a kind of request cost the server."""

    tally: Tally = field(default_factory=Tally)
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> int:
        return self.tally.ok

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.ok if self.ok else float("nan")

    @property
    def per_core_second(self) -> float:
        return self.ok / self.cpu_seconds if self.cpu_seconds else float("nan")

    @property
    def rate(self) -> float:
        return self.ok / self.tally.seconds if self.tally.seconds else float("nan")

    def add(self, other: "Cost") -> None:
        self.tally.add(other.tally)
        self.cpu_seconds += other.cpu_seconds


def costed(server_pid: int, run: Callable[[], Tally]) -> Cost:
    before = tree_cpu_seconds(server_pid)
    tally = run()
    return Cost(tally, tree_cpu_seconds(server_pid) - before)


def cost_of(server_pid: int, steps: list[Step], budget: Budget) -> Cost:
    return costed(server_pid, lambda: closed_loop(steps, budget.requests, budget.seconds))


def cost_in_rounds(server_pid: int, prepare: Callable[[int], list[Step]], budget: Budget) -> Cost:
    """Rounds of `prepare(n)` (unmeasured: steps holding n prepared requests between them) and
    sending them (measured), until the budget's requests or measured seconds are spent."""
    total = Cost()
    while (sent := total.tally.ok + total.tally.failed) < budget.requests and total.tally.seconds < budget.seconds:
        count = min(budget.batch, budget.requests - sent)
        total.add(cost_of(server_pid, prepare(count), Budget(budget.threads, count,
                                                             budget.seconds - total.tally.seconds, count)))
    return total


def prepared(count: int, threads: int, make: Callable[[int], object]) -> list[list]:
    """`count` results of `make(thread number)`, made concurrently and dealt into one list per thread."""
    with ThreadPoolExecutor(threads) as pool:
        made = list(pool.map(make, [number % threads for number in range(count)]))
    return [made[number::threads] for number in range(threads)]


def cpu_seconds_of_hash(verify: Callable[[], object], times: int) -> float:
    """CPU seconds of one call, measured in this process."""
    started = time.process_time()
    for _ in range(times):
        verify()
    return (time.process_time() - started) / times


@dataclass(frozen=True)
class CommandCost:
    wall_seconds: float
    cpu_seconds: float
    output: str

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.wall_seconds


def run_command(args: list[str], env: dict[str, str], cwd) -> CommandCost:
    """Runs a command to its end; CPU of it and every child it waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed (exit {result.returncode}):\n"
                           f"{result.stdout}{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return CommandCost(wall, cpu, result.stdout)
