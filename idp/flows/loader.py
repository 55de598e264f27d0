"""Reading flow files: whole-file validation with file:line:column, and safe reloading.

A flow file is checked as a whole (structure, step names, conditions, each step's `with:`)
before it replaces the running one; a file that fails keeps the old version running and the
reason is logged. Each version is identified by a hash of its text, which auth sessions pin.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any as AnyValue

from pydantic import ValidationError

from idp.flows.api import Step
from idp.flows.registry import Registry
from idp.flows.schema import CONDITION_CALL, All, Any, ConditionExpression, FlowFile, Not, step_kind_and_name
from idp.yamlfile import ConfigFileError, ConfigProblem, Loc, describe_loc, position, problems_from, read_yaml

log = logging.getLogger("idp.flows")


@dataclass(frozen=True)
class LoadedFlow:
    name: str
    version: str
    definition: FlowFile
    path: str


def load_flow_file(path: Path | str, registry: Registry, text: str | None = None) -> LoadedFlow:
    """Validate one flow file completely; ConfigFileError lists every problem found."""
    path = str(path)
    text = Path(path).read_text(encoding="utf-8-sig") if text is None else text
    document = read_yaml(path, text)
    if document is None:
        raise ConfigFileError([ConfigProblem(path, 1, 1, "the file is empty")])
    try:
        flow = FlowFile.model_validate(document)
    except ValidationError as exc:
        raise ConfigFileError(problems_from(exc, path, document)) from None
    problems = list(_check_names(flow, registry, path, document))
    expected = Path(path).stem
    if flow.flow != expected:
        line, column = position(document, ("flow",))
        problems.append(ConfigProblem(path, line, column, f"flow: {flow.flow!r} must match the file name {expected!r}"))
    if problems:
        raise ConfigFileError(sorted(problems, key=lambda problem: (problem.line, problem.column)))
    return LoadedFlow(flow.flow, hashlib.sha256(text.encode()).hexdigest()[:16], flow, path)


def _check_names(flow: FlowFile, registry: Registry, path: str, document: AnyValue) -> Iterator[ConfigProblem]:
    for index, step in enumerate(flow.steps):
        if isinstance(step, str):
            continue  # pending-required-actions
        kind, name = step_kind_and_name(step)
        plugin = registry.step(kind, name)
        if plugin is None:
            yield _problem(path, document, ("steps", index, kind), _unknown_step(kind, name, registry))
            continue
        yield from _check_options(plugin, step.with_, path, document, ("steps", index, "with"))
        if step.if_ is not None:
            yield from _check_condition(step.if_, registry, path, document, ("steps", index, "if"))


def _unknown_step(kind: str, name: str, registry: Registry) -> str:
    other = "authenticate" if kind == "action" else "action"
    if registry.step(other, name) is not None:
        return f"{name!r} is not an {kind} step; write `{other}: {name}`"
    known = registry.actions if kind == "action" else registry.authenticators
    return f"unknown {kind} {name!r}{_did_you_mean(name, known)}"


def _check_options(plugin: Step[AnyValue], options: dict[str, AnyValue], path: str, document: AnyValue,
                   loc: Loc) -> Iterator[ConfigProblem]:
    try:
        plugin.Options.model_validate(options)
    except ValidationError as exc:
        for item in exc.errors():
            where = loc + tuple(item["loc"])
            yield _problem(path, document, where, f"{describe_loc(where)}: {item['msg']}")


def _check_condition(expression: ConditionExpression, registry: Registry, path: str, document: AnyValue,
                     loc: Loc) -> Iterator[ConfigProblem]:
    if isinstance(expression, Not):
        yield from _check_condition(expression.not_, registry, path, document, loc + ("not",))
        return
    if isinstance(expression, (All, Any)):
        key = "all" if isinstance(expression, All) else "any"
        for index, item in enumerate(getattr(expression, key)):
            yield from _check_condition(item, registry, path, document, loc + (key, index))
        return
    match = CONDITION_CALL.fullmatch(expression.strip())
    if match is None:
        yield _problem(path, document, loc, f"{expression!r} is not a condition name (like `first-login` or "
                                            "`has-required-action(UPDATE_PASSWORD)`)")
        return
    condition = registry.conditions.get(match["name"])
    if condition is None:
        yield _problem(path, document, loc,
                       f"unknown condition {match['name']!r}{_did_you_mean(match['name'], registry.conditions)}")
    elif condition.takes_argument and not match["argument"]:
        yield _problem(path, document, loc, f"condition {condition.name!r} needs an argument: {condition.name}(NAME)")
    elif not condition.takes_argument and match["argument"]:
        yield _problem(path, document, loc, f"condition {condition.name!r} takes no argument")


def _did_you_mean(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(sorted(known)) or 'none'}"


def _problem(path: str, document: AnyValue, loc: Loc, message: str) -> ConfigProblem:
    line, column = position(document, loc)
    return ConfigProblem(path, line, column, message)


class FlowLibrary:
    """The running flows of a folder, each replaced only by a newer file that validates."""

    def __init__(self, folder: Path, registry: Registry):
        self.folder = Path(folder)
        self.registry = registry
        self._flows: dict[str, LoadedFlow] = {}
        self._seen: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def load_all(self) -> list[ConfigProblem]:
        """Load every flow file now; returns the problems of the files that were not loaded."""
        problems = []
        for path in sorted(self.folder.glob("*.yaml")):
            problems.extend(self._refresh(path))
        return problems

    def get(self, name: str) -> LoadedFlow | None:
        """The flow called `name`, picking up a changed file if the whole file validates."""
        path = self.folder / f"{name}.yaml"
        if path.exists():
            self._refresh(path)
        return self._flows.get(name)

    def _refresh(self, path: Path) -> list[ConfigProblem]:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return []
        # Not the time alone: a file moved into place may carry an old one (cp -p, rsync -t).
        modified = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._seen.get(str(path)) == modified:
            return []
        with self._lock:
            self._seen[str(path)] = modified
            try:
                flow = load_flow_file(path, self.registry)
            except ConfigFileError as exc:
                kept = "keeping the version already running" if path.stem in self._flows else "it is not loaded"
                log.error("flow file %s does not validate; %s:\n%s", path, kept, exc)
                return exc.problems
            self._flows[flow.name] = flow
            return []
