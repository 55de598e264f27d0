"""Operators' YAML files validated by pydantic schemas, with every error at file:line:column.

Realm files and flow files both go through `load_model`, so an operator sees the same kind
of message for either: `realm-config/x.yaml:12:5: clients[0].redirect_uris: ...`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

Model = TypeVar("Model", bound=BaseModel)
# A place in a parsed file: keys and list indexes from the top, as pydantic reports errors.
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ConfigFileError(ValueError):
    """A YAML file that does not validate; `problems` lists every error found."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_yaml(path: Path | str, text: str | None = None) -> Any:
    """Parse YAML keeping each node's position; syntax errors become a ConfigFileError."""
    path = str(path)
    if text is None:
        text = Path(path).read_text(encoding="utf-8-sig")
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigFileError([ConfigProblem(path, line, column, f"YAML syntax: {exc.problem or exc}")]) from None


def position(node: Any, loc: Loc) -> tuple[int, int]:
    """The line and column (1-based) of the deepest node on `loc` that the file has."""
    line, column = 1, 1
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, column = node.lc.key(part)
            line, column = line + 1, column + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, column = node.lc.item(part)
            line, column = line + 1, column + 1
            node = node[part]
        else:
            break
    return line, column


def describe_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def problems_from(error: ValidationError, path: str, document: Any) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        # pydantic adds the name of a tagged-union member to the location; drop what
        # the file does not have so the position points at the operator's own key.
        loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and "[" in part))
        line, column = position(document, loc)
        where = describe_loc(loc)
        message = item["msg"]
        problems.append(ConfigProblem(path, line, column, f"{where}: {message}" if where else message))
    return problems


def load_model(model: type[Model], path: Path | str, text: str | None = None,
               context: dict[str, Any] | None = None) -> Model:
    """Read and validate one YAML file into `model`, or raise ConfigFileError."""
    document = read_yaml(path, text)
    if document is None:
        raise ConfigFileError([ConfigProblem(str(path), 1, 1, "the file is empty")])
    try:
        return model.model_validate(document, context=context)
    except ValidationError as exc:
        raise ConfigFileError(problems_from(exc, str(path), document)) from None
