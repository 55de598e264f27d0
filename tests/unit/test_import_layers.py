"""The import rule of docs/design.md, read from the source with `ast`: dependencies point one way.

Protocol code (idp.oidc) is handed what it needs and never imports the pages; the step contract's
side (flows, actions, authenticators) never touches Flask nor the web packages; an action finds
another by name, never by import; and no idp modules import each other in a circle.
"""
from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "idp"

PAGES = ("idp.login", "idp.account", "idp.admin")
WEB = ("idp.app", "idp.extensions", "idp.request_context", "idp.errors", "idp.oidc", *PAGES)
STEP_SIDE = ("idp.flows", "idp.actions", "idp.authenticators")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = all_modules()


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(name: str, at_run_time: bool = False) -> Iterator[str]:
    """What module `name` imports: modules by their full name (`from idp.oidc import sessions` is
    idp.oidc.sessions), at the top or inside functions; `at_run_time` leaves out the imports only
    type checkers read (`if TYPE_CHECKING:`)."""
    path = MODULES[name]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = _run_time(tree) if at_run_time else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def _run_time(node: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (its `else:` runs)."""
    for child in ast.iter_child_nodes(node):
        for running in child.orelse if type_checking_only(child) else [child]:
            yield running
            yield from _run_time(running)


def _absolute(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = name.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - level + 1]
    return ".".join([*base, module] if module else base)


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{name} imports {target}" for name in MODULES if within(name, sources)
            for target in imports(name) if within(target, forbidden)]


def test_protocol_code_never_imports_the_pages():
    assert violations(("idp.oidc",), PAGES) == []


def test_steps_never_touch_flask_nor_the_web_packages():
    assert violations(STEP_SIDE, ("flask", "werkzeug", *WEB)) == []


def test_actions_never_import_each_other():
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["idp.actions"]
    actions = {target.split(":")[0] for target in entry_points.values()}
    found = [f"{name} imports {target}" for name in actions for target in imports(name)
             if target in actions and target != name]
    assert found == []


def test_no_idp_modules_import_each_other_in_a_circle():
    """Counting imports inside functions too: one there only hides a circle until it runs."""
    graph = {name: {target for target in imports(name, at_run_time=True) if target in MODULES and target != name}
             for name in MODULES}
    assert cycles(graph) == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_reader_finds_what_the_rules_are_about():
    """A rule that reads nothing cannot fail: the reader sees the imports it is meant to judge."""
    assert "idp.oidc.sessions" in set(imports("idp.oidc.authorize"))
    assert "idp.flows.api" in set(imports("idp.actions.verify_email"))
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
