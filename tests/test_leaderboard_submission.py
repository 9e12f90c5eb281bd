"""The submission.json schema: what it accepts, and a message naming the field for what it does not."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.leaderboard.submission import Submission, SubmissionError, lengths_label, read_submission

GOOD = {
    "method": "My Method",
    "authors": ["Ada Lovelace"],
    "contact": "ada@example.org",
    "description": "Prunes heads.",
    "date": "2025-06-01",
    "bench_version": "0.1.0",
    "lengths_seen": [0, 50],
    "paper": "https://arxiv.org/abs/0000.00000",
}


def read(tmp_path: Path, data) -> Submission:
    path = tmp_path / "submission.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return read_submission(path)


def test_good_manifest(tmp_path):
    s = read(tmp_path, GOOD)
    assert s.method == "My Method" and s.code is None and s.submission_version == 1
    assert lengths_label(s) == "0-50" and lengths_label(read(tmp_path, {**GOOD, "lengths_seen": "all"})) == "all"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"contact": None}, "contact: expected a string"),
        ({"authors": "Ada"}, "authors: expected a list"),
        ({"authors": []}, "authors: needs at least one non-empty name"),
        ({"date": "1 June 2025"}, "date: '1 June 2025' is not YYYY-MM-DD"),
        ({"paper": "javascript:alert(1)"}, "paper: 'javascript:alert(1)' is not an http(s) link"),
        ({"lengths_seen": [50, 0]}, "lengths_seen: [50, 0] is not [lo, hi]"),
        ({"lengths_seen": "some"}, "lengths_seen: 'some' matches none of"),
        ({"method": "  "}, "method: must not be empty"),
        ({"homepage": "https://x.org"}, "homepage: unknown field"),
        ({"submission_version": 2}, "submission_version: 2 is not the supported version 1"),
    ],
)
def test_each_problem_names_its_field(tmp_path, change, expected):
    with pytest.raises(SubmissionError) as info:
        read(tmp_path, {**GOOD, **change})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_problem_at_once_and_missing_fields(tmp_path):
    data = {k: v for k, v in GOOD.items() if k not in ("method", "date")}
    with pytest.raises(SubmissionError) as info:
        read(tmp_path, {**data, "authors": 3})
    assert info.value.problems == [
        "method: missing required field", "authors: expected a list, got int", "date: missing required field"
    ]


def test_unreadable_files(tmp_path):
    with pytest.raises(SubmissionError, match="missing file"):
        read_submission(tmp_path / "nowhere.json")
    with pytest.raises(SubmissionError, match="cannot read JSON"):
        read(tmp_path, "{not json")


def test_submissions_readme_documents_every_field():
    readme = (Path(__file__).resolve().parents[1] / "submissions" / "README.md").read_text()
    for f in dataclasses.fields(Submission):
        assert f"| `{f.name}` |" in readme, f"submissions/README.md does not document {f.name}"
