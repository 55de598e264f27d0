"""What the references say about a pydantic model, language-free: one section per model, one row
per YAML key with its type, limits and default, found by walking the model's fields.
"""
from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REQUIRED = object()  # a row's default when the key must be written
NESTED = object()  # a row's default when the key holds a section whose keys have their own defaults


@dataclass(frozen=True)
class Kind:
    """A YAML value's type: `name` is str, int, bool, literal, list, dict, model, optional or
    an override's label; `args` are the inner kinds (or the literal's values, or the model)."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class Row:
    """One YAML key; `owner` is the model that declares it (a base class for inherited keys)."""

    key: str
    owner: str
    kind: Kind
    limits: tuple[tuple[str, object], ...]
    default: object


@dataclass
class Section:
    """One model as written at `path` in the YAML (e.g. `clients[].secret`)."""

    path: str
    anchor: str
    model: type[BaseModel]
    rows: list[Row] = field(default_factory=list)


def model_sections(model: type[BaseModel], path: str, anchor_prefix: str,
                   overrides: dict[str, Kind] | None = None) -> list[Section]:
    """`model`'s section, then a section for every model inside it, depth first, each model once."""
    sections: list[Section] = []
    _visit(model, path, anchor_prefix, overrides or {}, sections, {})
    return sections


def section_anchor(prefix: str, path: str) -> str:
    cleaned = path.replace("[]", "").replace(".", "-").replace("_", "-")
    return f"{prefix}-{cleaned}" if cleaned else prefix


def _visit(model, path, prefix, overrides, sections, seen: dict) -> None:
    section = Section(path, section_anchor(prefix, path), model)
    seen[model] = section
    sections.append(section)
    for key, info in model.model_fields.items():
        yaml_key = info.alias or key
        kind = overrides.get(f"{model.__name__}.{yaml_key}") or type_kind(info.annotation)
        section.rows.append(Row(yaml_key, _owner(model, key), kind, field_limits(info), field_default(info)))
        child_path = f"{path}.{yaml_key}" if path else yaml_key
        for inner, suffix in _models_inside(kind):
            if inner not in seen:
                _visit(inner, child_path + suffix, prefix, overrides, sections, seen)


def _owner(model: type[BaseModel], key: str) -> str:
    return next(base.__name__ for base in model.__mro__ if key in base.__dict__.get("__annotations__", {}))


def _models_inside(kind: Kind):
    """Models a value of `kind` contains, with the path suffix a list adds (`[]`)."""
    if kind.name == "model":
        yield kind.args[0], ""
    elif kind.name == "list":
        for inner, suffix in _models_inside(kind.args[0]):
            yield inner, "[]" + suffix
    elif kind.name in ("optional", "dict"):
        for inner_kind in kind.args:
            yield from _models_inside(inner_kind)


def type_kind(annotation) -> Kind:
    """The Kind of a field's annotation (the subset of typing the schemas use)."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_kind(arguments[0])
    if origin in (typing.Union, types.UnionType):
        present = [a for a in arguments if a is not type(None)]
        inner = type_kind(present[0]) if len(present) == 1 else Kind("union", tuple(map(type_kind, present)))
        return Kind("optional", (inner,)) if len(present) < len(arguments) else inner
    if origin is typing.Literal:
        return Kind("literal", arguments)
    if origin is list:
        return Kind("list", (type_kind(arguments[0]),))
    if origin is dict:
        return Kind("dict", (type_kind(arguments[0]), type_kind(arguments[1])))
    if annotation is dict:
        return Kind("dict", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Kind("model", (annotation,))
    if annotation in (str, int, bool, float):
        return Kind(annotation.__name__)
    raise TypeError(f"the references cannot describe the type {annotation!r} yet; teach idp.docs.schema_walk")


LIMITS = ((annotated_types.Ge, "ge"), (annotated_types.Gt, "gt"), (annotated_types.Le, "le"),
          (annotated_types.Lt, "lt"), (annotated_types.MinLen, "min_length"), (annotated_types.MaxLen, "max_length"))


def field_limits(info: FieldInfo) -> tuple[tuple[str, object], ...]:
    """(limit, value) pairs: ge, gt, le, lt, min_length, max_length, pattern."""
    found = []
    for item in info.metadata:
        for limit_type, name in LIMITS:
            if isinstance(item, limit_type):
                found.append((name, getattr(item, name)))
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            found.append(("pattern", pattern))
    return tuple(found)


def field_default(info: FieldInfo):
    if info.default_factory is not None:
        return info.get_default(call_default_factory=True, validated_data={})
    if info.default is PydanticUndefined:
        return REQUIRED
    if isinstance(info.default, BaseModel):
        return NESTED
    return info.default
