"""The JSON Schema of flow files (`idp flows schema`), so editors autocomplete and check them.

Built from the flow file model and enriched with what is installed: the step names, each
step's own `with:` options, and the condition names with their descriptions. Only draft-07
keywords are used, which the VS Code YAML extension (yaml-language-server) understands.
"""
from __future__ import annotations

import copy
import re
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from idp.flows.api import Condition, Step
from idp.flows.registry import Registry
from idp.flows.schema import CONDITION_ARGUMENT, FlowFile

DRAFT = "http://json-schema.org/draft-07/schema#"


def flow_json_schema(registry: Registry) -> dict[str, Any]:
    """The schema for `flows/*.yaml` given the installed steps and conditions."""
    schema = _draft7(FlowFile.model_json_schema(by_alias=True))
    definitions = schema["definitions"]
    schema["$schema"] = DRAFT
    schema["title"] = "kosmo-idp flow file"
    schema["description"] = ("A sign-in flow: steps run top to bottom, each only while its `if:` holds. "
                             "Check with `idp flows validate`.")
    schema["properties"]["flow"]["description"] = "The flow's name: the file name without .yaml."
    schema["properties"]["steps"]["description"] = (
        "`- authenticate: NAME`, `- action: NAME` or `- pending-required-actions` "
        "(the actions an administrator queued on the member, Keycloak aliases accepted).")
    definitions["ConditionName"] = _condition_names(registry.conditions)
    _use_condition_names(schema)
    _describe_steps(definitions["ActionStep"], "action", registry.actions, definitions)
    _describe_steps(definitions["AuthenticateStep"], "authenticate", registry.authenticators, definitions)
    return schema


def _draft7(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic writes `$defs` (2019-09 and later); draft-07 keeps shared parts in `definitions`."""
    schema = copy.deepcopy(schema)
    schema["definitions"] = schema.pop("$defs", {})
    return _rewrite_refs(schema, "#/$defs/", "#/definitions/")


def _rewrite_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {key: (value.replace(old, new, 1) if key == "$ref" and isinstance(value, str)
                      else _rewrite_refs(value, old, new)) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, old, new) for item in node]
    return node


def _condition_names(conditions: dict[str, Condition]) -> dict[str, Any]:
    choices: list[dict[str, Any]] = []
    for name, condition in sorted(conditions.items()):
        if condition.takes_argument:
            choices.append({"type": "string", "pattern": f"^{_literal(name)}\\({CONDITION_ARGUMENT}\\)$",
                            "description": condition.description, "examples": [f"{name}(UPDATE_PASSWORD)"]})
        else:
            choices.append({"const": name, "description": condition.description})
    return {"description": "An installed condition: " + ", ".join(
        f"{name}(NAME)" if c.takes_argument else name for name, c in sorted(conditions.items())),
        "anyOf": choices}


def _literal(name: str) -> str:
    """`name` as a regular expression; unlike re.escape, leaves `-` alone (invalid to escape in ECMA-262)."""
    return re.sub(r"([.^$*+?()[\]{}|\\/])", r"\\\1", name)


def _use_condition_names(node: Any) -> None:
    """Every place a condition may be a plain string now offers the installed names."""
    if isinstance(node, dict):
        choices = node.get("oneOf")
        if isinstance(choices, list) and {"$ref": "#/definitions/Not"} in choices:
            node["oneOf"] = [{"$ref": "#/definitions/ConditionName"} if choice == {"type": "string"} else choice
                             for choice in choices]
        for value in node.values():
            _use_condition_names(value)
    elif isinstance(node, list):
        for item in node:
            _use_condition_names(item)


def _describe_steps(step_schema: dict[str, Any], key: str, steps: Mapping[str, Step[Any]],
                    definitions: dict[str, Any]) -> None:
    """Name the installed steps, and check each one's `with:` against its own options model."""
    names = sorted(steps)
    step_schema["properties"][key].update(
        enum=names, enumDescriptions=[_summary(steps[name]) for name in names])
    step_schema["properties"]["if"]["description"] = "Run this step only while the condition holds."
    step_schema["properties"]["with"]["description"] = "This step's own options."
    step_schema["allOf"] = [
        {"if": {"properties": {key: {"const": name}}, "required": [key]},
         "then": {"properties": {"with": _options_schema(name, steps[name].Options, definitions)}}}
        for name in names
    ]


def _summary(step: Step[Any]) -> str:
    """The first line of the step's docstring, or else of its module's."""
    doc = type(step).__doc__ or sys.modules[type(step).__module__].__doc__ or ""
    lines = doc.strip().splitlines()
    return lines[0] if lines else ""


def _options_schema(step_name: str, options: type[BaseModel], definitions: dict[str, Any]) -> dict[str, Any]:
    """A step's options schema, its shared parts moved under the step's name to keep them apart."""
    schema = options.model_json_schema()
    prefix = f"{step_name}.options."
    for name, part in schema.pop("$defs", {}).items():
        definitions[prefix + name] = _rewrite_refs(part, "#/$defs/", f"#/definitions/{prefix}")
    return _rewrite_refs(schema, "#/$defs/", f"#/definitions/{prefix}")
