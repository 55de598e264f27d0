"""An operator's YAML mistake is reported as file:line:column, whatever schema the file follows."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from idp.yamlfile import ConfigFileError, ConfigProblem, load_model


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    retries: int = 0


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    steps: list[Step] = []


def problems(text: str, path: str = "plans/plan.yaml") -> list[str]:
    with pytest.raises(ConfigFileError) as caught:
        load_model(Plan, path, text=text)
    return [str(problem) for problem in caught.value.problems]


def test_a_valid_file_becomes_the_model(tmp_path: Path):
    path = tmp_path / "plan.yaml"
    path.write_text("title: 計画\nsteps:\n  - name: password\n    retries: 2\n", encoding="utf-8")
    plan = load_model(Plan, path)
    assert plan.title == "計画"
    assert plan.steps[0] == Step(name="password", retries=2)


def test_a_file_saved_with_a_byte_order_mark_still_reads(tmp_path: Path):
    path = tmp_path / "plan.yaml"
    path.write_text("title: bom\n", encoding="utf-8-sig")
    assert load_model(Plan, path).title == "bom"


def test_a_wrong_type_deep_in_a_list_points_at_its_key():
    text = "title: t\nsteps:\n  - name: a\n  - name: b\n    retries: often\n"
    assert problems(text) == [
        "plans/plan.yaml:5:5: steps[1].retries: Input should be a valid integer, unable to parse string as an integer"
    ]


def test_an_unknown_key_points_at_the_misspelt_key():
    text = "title: t\nsteps:\n  - name: a\n    retires: 2\n"
    assert problems(text) == ["plans/plan.yaml:4:5: steps[0].retires: Extra inputs are not permitted"]


def test_a_missing_key_points_at_the_mapping_that_lacks_it():
    text = "title: t\nsteps:\n  - retries: 1\n"
    [problem] = problems(text)
    assert problem.startswith("plans/plan.yaml:3:5: steps[0].name: Field required")


def test_every_problem_in_a_file_is_reported_at_once():
    text = "title: [not, text]\nsteps:\n  - name: a\n    colour: red\n"
    reported = problems(text)
    assert len(reported) == 2
    assert any(p.startswith("plans/plan.yaml:1:1: title:") for p in reported)
    assert any(p.startswith("plans/plan.yaml:4:5: steps[0].colour:") for p in reported)


def test_a_yaml_syntax_error_gives_its_line_and_column():
    text = "title: t\nsteps:\n  - name: [a\n"
    [problem] = problems(text)
    assert problem.startswith("plans/plan.yaml:4:1: YAML syntax:")


def test_a_key_given_twice_is_a_syntax_error_at_the_second_one():
    [problem] = problems("title: a\ntitle: b\n")
    assert problem.startswith("plans/plan.yaml:2:1: YAML syntax:")
    assert "duplicate key" in problem


def test_an_empty_file_says_so():
    assert problems("# nothing here\n") == ["plans/plan.yaml:1:1: the file is empty"]


def test_a_file_that_is_not_a_mapping_is_reported_at_its_start():
    [problem] = problems("- title\n- steps\n")
    assert problem.startswith("plans/plan.yaml:1:1:")


def test_a_problem_reads_as_file_line_column_message():
    assert str(ConfigProblem("a.yaml", 3, 7, "bad")) == "a.yaml:3:7: bad"
    error = ConfigFileError([ConfigProblem("a.yaml", 1, 1, "one"), ConfigProblem("a.yaml", 2, 1, "two")])
    assert str(error) == "a.yaml:1:1: one\na.yaml:2:1: two"
