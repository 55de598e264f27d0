"""The one Markdown table `make bench` prints: a row per figure, a column per server, and the
goal issue 12 sets for it. Every measured cell starts with its number; "—" means the figure
does not apply to that column, "skipped: why" that the column could not be measured."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable

from benchmarks.measure import CommandCost, Cost

IDP_COLUMNS = ("SQLite", "PostgreSQL + Redis")
NOT_APPLICABLE = "—"


@dataclass
class Figures:
    """Everything one run measured; `columns` maps an idp column to its figures or why it was skipped."""

    scale_sizes: tuple[int, int]
    imported: int
    exported: int
    hash_seconds: float = math.nan
    columns: dict[str, dict | str] = field(default_factory=dict)
    node: Cost | str | None = None


def _cost(cost: Cost) -> str:
    failed = f", {cost.tally.failed} failed" if cost.tally.failed else ""
    return f"{cost.cpu_ms:.2f} ms ({cost.per_core_second:.0f}/s/core{failed})"


def _share(hash_seconds: float, cost: Cost) -> str:
    return f"{hash_seconds * 1000 / cost.cpu_ms * 100:.0f} % ({hash_seconds * 1000:.1f} of {cost.cpu_ms:.1f} ms)"


def _latency(rate_and_cost: tuple[float, Cost]) -> str:
    rate, cost = rate_and_cost
    tally = cost.tally
    failed = f", {tally.failed} failed" if tally.failed else ""
    return (f"{tally.percentile_ms(0.50):.1f} / {tally.percentile_ms(0.95):.1f} / {tally.percentile_ms(0.99):.1f} ms "
            f"at {rate:.0f}/s{failed}")


def _scale(costs: dict[int, dict[str, Cost]], name: str) -> str:
    few, many = (costs[count][name] for count in sorted(costs))
    return f"{many.cpu_ms / few.cpu_ms:.2f}× ({many.cpu_ms:.2f} vs {few.cpu_ms:.2f} ms)"


def _import(figures: Figures, run: CommandCost) -> str:
    rate = figures.imported / run.wall_seconds
    limit = (os.cpu_count() or 1) / figures.hash_seconds
    return (f"{run.wall_seconds:.1f} s, {run.cores:.2f} cores, {rate:.0f} hashes/s = {rate / limit * 100:.0f} % "
            f"of the hash-bound {limit:.0f}/s")


def _keycloak(figures: Figures, run: CommandCost) -> str:
    return f"{run.wall_seconds:.1f} s ({figures.exported / run.wall_seconds:.0f} users/s, {run.cores:.2f} cores)"


Cell = Callable[[Figures, dict], str]


def _not_applicable(_figures: Figures) -> str:
    return NOT_APPLICABLE


def _node_cost(figures: Figures) -> str:
    return _cost(figures.node) if isinstance(figures.node, Cost) else figures.node or NOT_APPLICABLE


def _scale_cell(name: str) -> Cell:
    """A scale figure's cell: measured on PostgreSQL only."""
    return lambda figures, column: _scale(column["scale"], name) if "scale" in column else NOT_APPLICABLE


def _cost_cell(name: str) -> Cell:
    return lambda figures, column: _cost(column[name])


def _share_cell(name: str) -> Cell:
    return lambda figures, column: _share(figures.hash_seconds, column[name])


def _latency_cell(name: str) -> Cell:
    return lambda figures, column: _latency(column["half_peak"][name])


def rows(figures: Figures) -> list[tuple[str, str, Cell, Callable[[Figures], str]]]:
    """(figure, goal, its idp cell, its node-oidc-provider cell) in table order."""
    few, many = figures.scale_sizes
    none = _not_applicable
    return [
        ("client credentials, CPU per grant", "≥ 360/s/core", _cost_cell("client_credentials"), _node_cost),
        ("refresh (rotating), CPU per grant", "≥ 360/s/core", _cost_cell("refresh"), none),
        ("authorization code (code exchange), CPU per grant", "", _cost_cell("authorization_code"), none),
        ("password grant, CPU per grant", "", _cost_cell("password"), none),
        ("password sign-in step, CPU per step", "", _cost_cell("sign_in_step"), none),
        ("argon2 hash alone (t=5, m=7 MiB, p=1), CPU in-process", "the floor",
         lambda f, c: f"{f.hash_seconds * 1000:.2f} ms", none),
        ("password grant, share in the hash", "≥ 85 %", _share_cell("password"), none),
        ("password sign-in step, share in the hash", "≥ 85 %", _share_cell("sign_in_step"), none),
        ("client credentials, CPU per grant vs node-oidc-provider", "≤ 1.00×", _versus_node, none),
        ("client credentials at half the peak rate, p50 / p95 / p99", "p99 < 50 ms",
         _latency_cell("client credentials"), none),
        ("refresh at half the peak rate, p50 / p95 / p99", "p99 < 50 ms", _latency_cell("refresh"), none),
        ("worker RSS after the load", "< 100 MB", lambda f, c: " / ".join(f"{mib:.0f}" for mib in c["rss"]) + " MiB",
         none),
        ("start: process start to first 200 on /health/live", "< 1 s", lambda f, c: f"{c['start']:.2f} s", none),
        (f"sign-in step, CPU at {many:,} vs {few:,} members", "≤ 1.2×", _scale_cell("sign_in_step"), none),
        (f"refresh, CPU at {many:,} vs {few:,} members", "≤ 1.2×", _scale_cell("refresh"), none),
        (f"Admin API user search, CPU at {many:,} vs {few:,} members", "≤ 1.2×", _scale_cell("user_search"), none),
        (f"idp members import of {figures.imported:,} members", "≥ 85 % of the hash-bound limit",
         lambda f, c: _import(f, c["import"]), none),
        (f"Keycloak export of {figures.exported:,} users, idp realm import", "< 60 s for 100,000",
         lambda f, c: _keycloak(f, c["keycloak_import"]), none),
    ]


def _versus_node(figures: Figures, column: dict) -> str:
    if not isinstance(figures.node, Cost):
        return "skipped (no node-oidc-provider figure)"
    ours, theirs = column["client_credentials"].cpu_ms, figures.node.cpu_ms
    return f"{ours / theirs:.2f}× ({ours:.2f} vs {theirs:.2f} ms)"


def _cell(figures: Figures, name: str, cell: Cell, first_row: bool) -> str:
    column = figures.columns.get(name, "not run")
    if isinstance(column, str):  # why the column was not measured, said once
        return column if first_row or not column.startswith("skipped") else "skipped"
    return cell(figures, column)


def table(figures: Figures) -> str:
    lines = [f"| figure | {' | '.join(IDP_COLUMNS)} | node-oidc-provider | goal (issue 12) |",
             "|---|---|---|---|---|"]
    for number, (label, goal, cell, node_cell) in enumerate(rows(figures)):
        cells = [_cell(figures, name, cell, number == 0) for name in IDP_COLUMNS]
        lines.append(f"| {label} | {' | '.join(cells)} | {node_cell(figures)} | {goal} |")
    return "\n".join(lines)


def first_errors(figures: Figures) -> list[str]:
    """A line per measured figure with a failed request: its first error, so a failure says why."""
    found = []
    for name, column in figures.columns.items():
        if isinstance(column, dict):
            for figure, cost in column.items():
                if isinstance(cost, Cost) and cost.tally.first_error:
                    found.append(f"{name}, {figure}: {cost.tally.first_error}")
    return found


def print_table(figures: Figures) -> None:
    print(table(figures))
    for line in first_errors(figures):
        print(f"\n{line}")
