"""Markdown for the references: key tables (key, type, default, description) in one language."""
from __future__ import annotations

import json

from idp.docs.descriptions import Descriptions
from idp.docs.schema_walk import NESTED, REQUIRED, Kind, Section


class Writer:
    """Renders sections, types, limits and defaults in `language`, with the texts of `words`."""

    def __init__(self, words: Descriptions, language: str):
        self.words = words
        self.language = language
        self.anchors: dict[type, str] = {}

    def label(self, label_name: str, **values) -> str:
        return self.words.text(f"labels.{label_name}", self.language, **values)

    def described(self, path: str) -> str:
        return self.words.text(path, self.language)

    def link_sections(self, sections: list[Section]) -> None:
        for section in sections:
            self.anchors.setdefault(section.model, section.anchor)

    def section(self, section: Section, heading: str, level: int = 2) -> list[str]:
        """A heading with an anchor, the model's description and its key table."""
        lines = [f'<a id="{section.anchor}"></a>', "", f"{'#' * level} {heading}", "",
                 self.described(f"models.{section.model.__name__}"), ""]
        return lines + self.key_table(section.rows) + [""]

    def key_table(self, rows) -> list[str]:
        lines = [table_row([self.label("column_key"), self.label("column_type"), self.label("column_default"),
                            self.label("column_description")]), "|---|---|---|---|"]
        for row in rows:
            kind = self.kind(row.kind)
            limits = self.limits(row.limits)
            shown_kind = f"{kind}{self.label('limit_separator')}{limits}" if limits else kind
            lines.append(table_row([f"`{row.key}`", shown_kind, self.default(row.default),
                                    self.described(f"models.{row.owner}.fields.{row.key}")]))
        return lines

    def kind(self, kind: Kind) -> str:
        if kind.name in ("str", "int", "bool", "float"):
            return self.label(f"type_{kind.name}")
        if kind.name == "literal":
            return self.label("type_one_of", values=self.choices(kind))
        if kind.name == "list" and kind.args[0].name == "literal":
            return self.label("type_list_of_choices", values=self.choices(kind.args[0]))
        if kind.name == "list":
            return self.label("type_list", item=self.kind(kind.args[0]))
        if kind.name == "dict":
            if not kind.args:
                return self.label("type_mapping")
            return self.label("type_dict", key=self.kind(kind.args[0]), value=self.kind(kind.args[1]))
        if kind.name == "optional":
            return self.label("type_optional", inner=self.kind(kind.args[0]))
        if kind.name == "union":
            return self.label("type_or").join(self.kind(inner) for inner in kind.args)
        if kind.name == "model":
            return self.label("type_section", link=f"#{self.anchors[kind.args[0]]}")
        if kind.name == "label":  # a key whose type the page explains in a section of its own
            return self.label(kind.args[0])
        raise TypeError(f"no words for the type {kind!r}")

    def choices(self, literal: Kind) -> str:
        return ", ".join(f"`{value}`" for value in literal.args)

    def limits(self, limits) -> str:
        return self.label("limit_joiner").join(
            self.label(f"limit_{name}", value=f"`{value}`" if name == "pattern" else value) for name, value in limits)

    def default(self, value) -> str:
        if value is REQUIRED:
            return self.label("default_required")
        if value is NESTED:
            return self.label("default_nested")
        return f"`{yaml_inline(value)}`"


def yaml_inline(value) -> str:
    """A default as an operator would write it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = value and value.strip() == value and ":" not in value and "#" not in value
        return value if plain else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(yaml_inline, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {yaml_inline(item)}" for key, item in value.items()) + "}"
    return str(value)


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"
