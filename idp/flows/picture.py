"""A picture of a flow for operators (`idp flows show`): a standalone SVG or an HTML page.

Steps run top to bottom; a step with `if:` gets a decision diamond in front of it whose "no"
branch skips to the next step. Everything is drawn with plain shapes and escaped text, so the
file opens in any browser without scripts or network access.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from idp.flows.registry import Registry
from idp.flows.schema import All, Any, ConditionExpression, FlowFile, Not, Step, step_kind_and_name

FONT = 14
SMALL = 11
LINE = 18
SMALL_LINE = 15
PAD = 14
GAP = 34
MARGIN = 24
START_LABEL = "開始: ログイン画面"
END_LABEL = "ポータルへ戻る (コード発行)"
PENDING_NOTE = "管理者が設定した必須アクションを順に実行"
YES = "はい (yes)"
NO = "いいえ (no) → スキップ"

STYLE = """
svg.flow { font-family: "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif; }
.flow text { font-size: 14px; fill: #1d2733; }
.flow text.small { font-size: 11px; fill: #4a5868; }
.flow text.kind { font-size: 11px; fill: #5b6b7d; letter-spacing: 0.05em; }
.flow text.label { font-size: 12px; fill: #5b6b7d; }
.flow .terminal { fill: #e7f1ea; stroke: #2f7a4b; stroke-width: 1.5; }
.flow .step { fill: #ffffff; stroke: #2b4c7e; stroke-width: 1.5; }
.flow .pending { fill: #fff8e6; stroke: #a86a00; stroke-width: 1.5; stroke-dasharray: 6 3; }
.flow .decision { fill: #f3eefb; stroke: #6a4c9c; stroke-width: 1.5; }
.flow .edge { fill: none; stroke: #5b6b7d; stroke-width: 1.5; }
.flow .skip { fill: none; stroke: #8a97a6; stroke-width: 1.5; stroke-dasharray: 4 3; }
.flow .arrowhead { fill: #5b6b7d; }
"""

PAGE_STYLE = """
body { font-family: "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif; margin: 2rem; color: #1d2733; }
h1 { font-size: 1.4rem; }
table { border-collapse: collapse; margin-top: 2rem; }
th, td { border: 1px solid #c9d2dc; padding: 0.4rem 0.7rem; text-align: left; vertical-align: top; }
code { font-size: 0.95em; }
"""


def describe_condition(expression: ConditionExpression) -> str:
    """An `if:` condition in one readable line: "not first-login", "all of: a, b", "any of: (...)"."""
    if isinstance(expression, Not):
        return f"not {_nested(expression.not_)}"
    if isinstance(expression, All):
        return "all of: " + ", ".join(_nested(item) for item in expression.all)
    if isinstance(expression, Any):
        return "any of: " + ", ".join(_nested(item) for item in expression.any)
    return expression.strip()


def _nested(expression: ConditionExpression) -> str:
    text = describe_condition(expression)
    return f"({text})" if isinstance(expression, (All, Any)) else text


def condition_lines(expression: ConditionExpression, indent: str = "") -> list[str]:
    """The condition as an outline, one name per line, for drawing inside a diamond."""
    if isinstance(expression, Not) and isinstance(expression.not_, str):
        return [f"{indent}not {expression.not_.strip()}"]
    if isinstance(expression, Not):
        return [f"{indent}not:"] + condition_lines(expression.not_, indent + "  ")
    if isinstance(expression, (All, Any)):
        items = expression.all if isinstance(expression, All) else expression.any
        head = "all of:" if isinstance(expression, All) else "any of:"
        return [f"{indent}{head}"] + [line for item in items for line in condition_lines(item, indent + "  ")]
    return [f"{indent}{expression.strip()}"]


def condition_names(expression: ConditionExpression) -> list[str]:
    """Every condition name used in an expression (for tooltips and tests)."""
    if isinstance(expression, Not):
        return condition_names(expression.not_)
    if isinstance(expression, (All, Any)):
        items = expression.all if isinstance(expression, All) else expression.any
        return [name for item in items for name in condition_names(item)]
    return [expression.strip().split("(")[0]]


def text_width(text: str, size: int = FONT) -> float:
    """An estimate of rendered width: Japanese characters are square, Latin ones narrower."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


@dataclass
class Node:
    shape: str  # "terminal" | "step" | "pending" | "decision"
    lines: list[tuple[str, str]]  # (css class, text)
    tooltip: str = ""
    width: float = 0
    height: float = 0
    x: float = 0
    y: float = 0

    def measure(self) -> None:
        widest = max(text_width(text, SMALL if css != "" else FONT) for css, text in self.lines)
        tall = sum(SMALL_LINE if css != "" else LINE for css, _ in self.lines)
        if self.shape == "decision":
            # The text block sits in the middle half of the diamond.
            self.width, self.height = max(2 * widest + PAD, 160), max(2 * tall + PAD, 64)
        else:
            self.width, self.height = max(widest + 2 * PAD, 180), tall + 2 * PAD - 4

    @property
    def bottom(self) -> float:
        return self.y + self.height


def _step_nodes(step: Step, registry: Registry | None) -> list[Node]:
    kind, name = step_kind_and_name(step)
    if isinstance(step, str):
        return [Node("pending", [("kind", "PENDING REQUIRED ACTIONS"), ("", name), ("small", PENDING_NOTE)])]
    options = [("small", option_text(key, value)) for key, value in step.with_.items()]
    box = Node("step", [("kind", kind.upper()), ("", name)] + options, tooltip=_step_help(registry, kind, name))
    if step.if_ is None:
        return [box]
    lines = [("", line) for line in condition_lines(step.if_)]
    return [Node("decision", lines, tooltip=_condition_help(registry, step.if_)), box]


def _step_help(registry: Registry | None, kind: str, name: str) -> str:
    plugin = registry.step(kind, name) if registry else None
    doc = (type(plugin).__doc__ or "").strip().splitlines() if plugin else []
    return f"{kind}: {name}" + (f" — {doc[0]}" if doc else "")


def _condition_help(registry: Registry | None, expression: ConditionExpression) -> str:
    lines = [f"if: {describe_condition(expression)}"]
    for name in dict.fromkeys(condition_names(expression)):
        condition = registry.conditions.get(name) if registry else None
        if condition is not None and condition.description:
            lines.append(f"{name}: {condition.description}")
    return "\n".join(lines)


def _layout(flow: FlowFile, registry: Registry | None) -> tuple[list[Node], float, float]:
    nodes = [Node("terminal", [("", START_LABEL)])]
    for step in flow.steps:
        nodes.extend(_step_nodes(step, registry))
    nodes.append(Node("terminal", [("", END_LABEL)]))
    for node in nodes:
        node.measure()
    column = max(node.width for node in nodes)
    y: float = MARGIN
    for node in nodes:
        node.x, node.y = MARGIN + (column - node.width) / 2, y
        y += node.height + GAP
    lane = MARGIN + column + text_width(NO, 12) + 16
    return nodes, lane, y - GAP + MARGIN


def flow_svg(flow: FlowFile, registry: Registry | None = None) -> str:
    """The flow as a standalone SVG document (well-formed XML, every text escaped)."""
    nodes, lane, height = _layout(flow, registry)
    width = lane + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-labelledby="flow-title">',
        f'<title id="flow-title">{escape(f"flow {flow.flow}: {flow.description}".rstrip(": "))}</title>',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path class="arrowhead" d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
    ]
    parts += _edges(nodes, lane)
    parts += [_shape(node) for node in nodes]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _edges(nodes: list[Node], lane: float) -> list[str]:
    edges = []
    for index, (here, following) in enumerate(pairwise(nodes)):
        centre = here.x + here.width / 2
        edges.append(f'<path class="edge" d="M {centre:.1f} {here.bottom:.1f} V {following.y:.1f}" '
                     f'marker-end="url(#arrow)"/>')
        if here.shape == "decision":
            # A decision is always followed by its step and then by something (at least the end).
            edges.append(_label(centre + 6, here.bottom + 14, YES))
            edges.append(_skip(here, nodes[index + 2], lane))
    return edges


def _skip(decision: Node, target: Node, lane: float) -> str:
    """The "no" branch: from the diamond's right corner around the step to the next node."""
    right, middle = decision.x + decision.width, decision.y + decision.height / 2
    join = target.y - GAP / 2
    centre = target.x + target.width / 2
    path = (f'<path class="skip" d="M {right:.1f} {middle:.1f} H {lane:.1f} V {join:.1f} H {centre:.1f}" '
            f'marker-end="url(#arrow)"/>')
    return path + _label(right + 6, middle - 6, NO)


def _label(x: float, y: float, text: str) -> str:
    return f'<text class="label" x="{x:.1f}" y="{y:.1f}">{escape(text)}</text>'


def _shape(node: Node) -> str:
    x, y, w, h = node.x, node.y, node.width, node.height
    if node.shape == "decision":
        outline = (f'<polygon class="decision" points="{x + w / 2:.1f},{y:.1f} {x + w:.1f},{y + h / 2:.1f} '
                   f'{x + w / 2:.1f},{y + h:.1f} {x:.1f},{y + h / 2:.1f}"/>')
    elif node.shape == "terminal":
        outline = f'<rect class="terminal" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{h / 2:.1f}"/>'
    else:
        outline = f'<rect class="{node.shape}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6"/>'
    tooltip = f"<title>{escape(node.tooltip)}</title>" if node.tooltip else ""
    return f'<g class="node">{tooltip}{outline}{_texts(node)}</g>'


def _texts(node: Node) -> str:
    tall = sum(SMALL_LINE if css else LINE for css, _ in node.lines)
    y = node.y + (node.height - tall) / 2
    centre = node.x + node.width / 2
    # A condition outline keeps its indentation, so it is left-aligned as one centred block.
    outline = node.shape == "decision" and len(node.lines) > 1
    left = centre - max(text_width(text) for _, text in node.lines) / 2
    texts = []
    for css, text in node.lines:
        y += SMALL_LINE if css else LINE
        klass = f' class="{css}"' if css else ""
        where = f'x="{left:.1f}" xml:space="preserve"' if outline else f'x="{centre:.1f}" text-anchor="middle"'
        texts.append(f'<text{klass} {where} y="{y - 4:.1f}">{escape(text)}</text>')
    return "".join(texts)


def option_text(key: str, value: object) -> str:
    """A `with:` option as the operator wrote it in YAML (true, not Python's True)."""
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"{key}: {shown}"


def flow_html(flow: FlowFile, registry: Registry | None = None) -> str:
    """A self-contained page: the picture, then the same steps as a table (readable in any browser)."""
    rows = []
    for number, step in enumerate(flow.steps, start=1):
        kind, name = step_kind_and_name(step)
        if_ = None if isinstance(step, str) else step.if_
        condition = "常に (always)" if if_ is None else describe_condition(if_)
        with_ = {} if isinstance(step, str) else step.with_
        options = ", ".join(option_text(key, value) for key, value in with_.items()) or "-"
        rows.append(f"<tr><td>{number}</td><td>{escape(kind)}</td><td><code>{escape(name)}</code></td>"
                    f"<td>{escape(condition)}</td><td>{escape(options)}</td></tr>")
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8"/>\n'
        f"<title>flow {escape(flow.flow)}</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>flow: {escape(flow.flow)}</h1>\n<p>{escape(flow.description)}</p>\n"
        f"{flow_svg(flow, registry)}"
        "<table>\n<thead><tr><th>#</th><th>kind</th><th>step</th><th>if</th><th>with</th></tr></thead>\n"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>\n</body>\n</html>\n"
    )
