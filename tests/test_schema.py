"""The dataclass-driven JSON checker behind results.json and submission.json."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from bench.scoring import schema
from bench.scoring.results import SCHEMA_VERSION, Results, ResultsError, load_results, save_results


@dataclass
class Inner:
    score: float
    label: Literal["a", "b"]


@dataclass
class Outer:
    name: str
    count: int
    inner: Inner
    items: list[Inner]
    table: dict[str, float]
    note: Optional[str] = None
    tags: list[str] = field(default_factory=list)


GOOD = {
    "name": "x",
    "count": 3,
    "inner": {"score": 0.5, "label": "a"},
    "items": [{"score": 1, "label": "b"}],
    "table": {"test_0_50": 1.0},
}


def test_valid_data_builds_dataclasses():
    obj = schema.load(GOOD, Outer)
    assert obj.inner == Inner(0.5, "a")
    assert obj.items[0].score == 1.0 and isinstance(obj.items[0].score, float)
    assert schema.dump(obj)["items"][0]["label"] == "b"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"count": "3"}, "Outer.count: expected an integer"),
        ({"count": True}, "Outer.count: expected an integer"),
        ({"inner": {"score": 0.5, "label": "c"}}, "Outer.inner.label: 'c' is not one of"),
        ({"items": [{"score": math.nan, "label": "a"}]}, "Outer.items[0].score: expected a finite number"),
        ({"table": {"test_0_50": "high"}}, "Outer.table.test_0_50: expected a number"),
        ({"extra": 1}, "Outer.extra: unknown field"),
        ({"note": 5}, "Outer.note: "),
    ],
)
def test_each_problem_names_its_field(change, expected):
    problems = schema.check({**GOOD, **change}, Outer)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once():
    bad = dict(GOOD)
    del bad["name"]
    bad["count"] = 1.5
    bad["items"] = "none"
    problems = schema.check(bad, Outer)
    assert "Outer.name: missing required field" in problems
    assert len(problems) == 3, problems


def _results_dict():
    return {
        "schema_version": SCHEMA_VERSION,
        "bench_version": "0.1.0",
        "git_commit": None,
        "date": "2026-11-30T00:00:00+00:00",
        "method": {"name": "m", "spec": "m", "parameters": {"k": [1, 2]}},
        "seed": 0,
        "limit": None,
        "match_threshold": 0.9,
        "models": [],
        "summary": None,
    }


def test_results_round_trip(tmp_path):
    results = schema.load(_results_dict(), Results)
    save_results(tmp_path / "results.json", results)
    assert load_results(tmp_path / "results.json") == results


def test_results_from_another_schema_version_is_refused(tmp_path):
    data = _results_dict()
    data["schema_version"] = 99
    path = tmp_path / "results.json"
    path.write_text(__import__("json").dumps(data))
    with pytest.raises(ResultsError, match="schema_version 99"):
        load_results(path)


def test_unreadable_results_name_the_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="results.json: cannot read JSON"):
        load_results(path)
