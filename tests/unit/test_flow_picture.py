"""An operator looking at a flow: every step and condition drawn, branches readable, text escaped."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from idp.config import CHECKOUT
from idp.flows.picture import END_LABEL, START_LABEL, describe_condition, flow_html, flow_svg
from idp.flows.schema import FlowFile
from idp.yamlfile import load_model

SVG = "{http://www.w3.org/2000/svg}"

TRICKY = FlowFile.model_validate({
    "flow": "tricky",
    "description": 'Tags <b>& "quotes"</b>',
    "steps": [
        {"authenticate": "password"},
        {"action": "set-user-id", "if": {"not": {"any": ["first-login", {"all": ["otp-configured",
                                                                                 "has-required-action(UPDATE_PASSWORD)"]}]}},
         "with": {"choose_second_factor": True, "note": "</text><script>alert(1)</script>"}},
        {"action": "update-email", "if": {"not": "first-login"}},
        "pending-required-actions",
    ],
})


def drawn_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text.strip() for element in root.iter(f"{SVG}text")]


def shapes(svg: str, css_class: str) -> list[ET.Element]:
    return [element for element in ET.fromstring(svg).iter() if element.get("class") == css_class]


def test_the_picture_is_well_formed_svg_naming_every_step_condition_and_option():
    texts = drawn_texts(flow_svg(TRICKY))
    for expected in ["password", "set-user-id", "update-email", "pending-required-actions",
                     "first-login", "otp-configured", "has-required-action(UPDATE_PASSWORD)",
                     "not first-login", "choose_second_factor: true"]:
        assert expected in texts, expected


def test_text_from_the_file_is_escaped_never_markup():
    svg = flow_svg(TRICKY)
    root = ET.fromstring(svg)
    assert not [element for element in root.iter() if element.tag.endswith("script")]
    assert "note: </text><script>alert(1)</script>" in drawn_texts(svg)
    assert root.find(f"{SVG}title").text == 'flow tricky: Tags <b>& "quotes"</b>'


def test_the_journey_starts_at_the_sign_in_page_and_ends_back_at_the_portal():
    nodes = shapes(flow_svg(TRICKY), "node")
    first, last = ([text.text for text in node.iter(f"{SVG}text")] for node in (nodes[0], nodes[-1]))
    assert first == [START_LABEL]
    assert last == [END_LABEL] == ["ポータルへ戻る (コード発行)"]
    assert len(shapes(flow_svg(TRICKY), "terminal")) == 2


def test_each_condition_is_a_diamond_with_a_yes_way_in_and_a_no_way_around():
    svg = flow_svg(TRICKY)
    assert len(shapes(svg, "decision")) == 2
    assert len(shapes(svg, "skip")) == 2
    texts = drawn_texts(svg)
    assert texts.count("はい (yes)") == 2
    assert texts.count("いいえ (no) → スキップ") == 2


def test_pending_required_actions_has_its_own_shape():
    svg = flow_svg(TRICKY)
    assert len(shapes(svg, "pending")) == 1
    assert len(shapes(svg, "step")) == 3


@pytest.mark.parametrize("expression, readable", [
    ("first-login", "first-login"),
    ({"not": "first-login"}, "not first-login"),
    ({"all": ["first-login", {"not": "otp-configured"}]}, "all of: first-login, not otp-configured"),
    ({"any": ["a", {"all": ["b", "c(X)"]}]}, "any of: a, (all of: b, c(X))"),
    ({"not": {"any": ["a", "b"]}}, "not (any of: a, b)"),
])
def test_combined_conditions_read_as_words(expression, readable):
    flow = FlowFile.model_validate({"flow": "f", "steps": [{"action": "x", "if": expression}]})
    assert describe_condition(flow.steps[0].if_) == readable


def test_the_html_page_is_self_contained_and_lists_the_steps_as_a_table():
    page = flow_html(TRICKY)
    assert page.startswith("<!DOCTYPE html>\n")
    root = ET.fromstring(page.split("\n", 1)[1])
    assert root.find("body/h1").text == "flow: tricky"
    assert root.find(f"body/{SVG}svg") is not None
    assert not [e for e in root.iter() if e.get("src") or e.get("href") or e.tag.endswith(("script", "link"))]
    rows = [[cell.findtext("code") or cell.text for cell in row] for row in root.iterfind("body/table/tbody/tr")]
    assert rows[1][:4] == ["2", "action", "set-user-id",
                           "not (any of: first-login, (all of: otp-configured, has-required-action(UPDATE_PASSWORD)))"]
    assert rows[3][2] == "pending-required-actions"


@pytest.mark.parametrize("name", ["browser", "kosmo-member"])
def test_the_shipped_flows_can_be_drawn(name):
    flow = load_model(FlowFile, CHECKOUT / "flows" / f"{name}.yaml")
    texts = drawn_texts(flow_svg(flow))
    assert "password" in texts and "pending-required-actions" in texts
    assert len(shapes(flow_svg(flow), "decision")) == sum(1 for step in flow.steps if getattr(step, "if_", None))
