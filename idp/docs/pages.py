"""The two reference pages: realm YAML (from RealmConfig) and flow YAML (from the flow file model
and the built-in steps and conditions), each in one language.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from idp.docs.descriptions import Descriptions
from idp.docs.markdown import Writer, table_row
from idp.docs.schema_walk import Kind, model_sections
from idp.flows.api import NoOptions
from idp.flows.registry import GROUPS, Registry
from idp.flows.schema import ActionStep, AuthenticateStep, FlowFile
from idp.realms.schema import RealmConfig

STEP_KINDS = (("action", "actions"), ("authenticate", "authenticators"))


@dataclass(frozen=True)
class BuiltIns:
    """The steps and conditions kosmo-idp itself registers; a society's plugins are left out,
    so the references do not change with what happens to be installed."""

    actions: dict
    authenticators: dict
    conditions: dict

    @classmethod
    def of(cls, registry: Registry) -> BuiltIns:
        def own(group: str, installed: dict) -> dict:
            names = {point.name for point in entry_points(group=group) if point.module.startswith("idp.")}
            return {name: installed[name] for name in sorted(names) if name in installed}

        return cls(own(GROUPS["action"], registry.actions), own(GROUPS["authenticate"], registry.authenticators),
                   own(GROUPS["condition"], registry.conditions))


def realm_page(words: Descriptions, language: str) -> str:
    page = Writer(words, language)
    sections = model_sections(RealmConfig, "", "realm")
    page.link_sections(sections)
    lines = [f"# {page.label('realm_title')}", "", f"> {page.label('generated')}", "", page.label("realm_intro"), ""]
    for section in sections:
        heading = page.label("top_level") if not section.path else f"`{section.path}`"
        lines += page.section(section, heading)
    return _finish(lines)


def flow_page(words: Descriptions, language: str, builtins: BuiltIns) -> str:
    page = Writer(words, language)
    lines = [f"# {page.label('flow_title')}", "", f"> {page.label('generated')}", "", page.label("flow_intro"), ""]
    lines += _flow_file_section(page)
    lines += _steps_section(page)
    lines += _conditions_section(page, builtins.conditions)
    for kind, plural in STEP_KINDS:
        lines += _step_list(page, kind, plural, getattr(builtins, plural))
    return _finish(lines)


def _flow_file_section(page: Writer) -> list[str]:
    [section] = model_sections(FlowFile, "", "flow", {"FlowFile.steps": Kind("label", ("type_steps",))})
    return page.section(section, page.label("top_level"))


def _steps_section(page: Writer) -> list[str]:
    overrides = {f"{model}.{key}": Kind("label", (label,)) for model in ("ActionStep", "AuthenticateStep")
                 for key, label in (("if", "type_condition"), ("with", "type_options"))}
    [action] = model_sections(ActionStep, "steps[]", "flow", overrides)
    [authenticate] = model_sections(AuthenticateStep, "steps[]", "flow", overrides)
    rows = [action.rows[-1], authenticate.rows[-1]] + [row for row in action.rows if row.key in ("if", "with")]
    return ['<a id="flow-steps"></a>', "", f"## {page.label('steps_title')}", "", page.label("steps_intro"), "",
            *page.key_table(rows), ""]


def _conditions_section(page: Writer, conditions: dict) -> list[str]:
    lines = ['<a id="flow-conditions"></a>', "", f"## {page.label('conditions_title')}", "",
             page.label("conditions_intro"), "",
             table_row([page.label("column_name"), page.label("column_description")]), "|---|---|"]
    for name, condition in conditions.items():
        written = f"`{name}(NAME)`" if condition.takes_argument else f"`{name}`"
        lines.append(table_row([written, page.described(f"conditions.{name}")]))
    return lines + [""]


def _step_list(page: Writer, kind: str, plural: str, steps: dict) -> list[str]:
    """A table of the steps of one kind, then a `with:` table for each step that takes options."""
    lines = [f'<a id="flow-{plural}"></a>', "", f"## {page.label(f'{plural}_title')}", "",
             page.label(f"{plural}_intro"), ""]
    headers = [page.label("column_name")] + ([page.label("column_alias")] if kind == "action" else [])
    lines += [table_row(headers + [page.label("column_description"), page.label("column_options")]),
              "|" + "---|" * (len(headers) + 2)]
    option_sections = []
    for name, step in steps.items():
        sections = [] if step.Options is NoOptions else model_sections(step.Options, "with", f"{kind}-{name}")
        page.link_sections(sections)
        option_sections += [(name, section) for section in sections]
        alias = [f"`{step.alias}`" if step.alias else "—"] if kind == "action" else []
        options = f"[`with:`](#{sections[0].anchor})" if sections else "—"
        lines.append(table_row([f"`{name}`", *alias, page.described(f"steps.{name}"), options]))
    lines.append("")
    for name, section in option_sections:
        lines += page.section(section, page.label("options_heading", kind=kind, name=name), level=3)
    return lines


def _finish(lines: list[str]) -> str:
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"

