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
        ({"autors": ["Ada"]}, "autors: unknown field. Did you mean 'authors'?"),
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


def test_type_and_content_problems_come_in_one_round(tmp_path):
    """A field of the wrong type does not hide what is wrong with the others."""
    with pytest.raises(SubmissionError) as info:
        read(tmp_path, {**GOOD, "authors": "Ada", "date": "1 June 2025", "lengths_seen": [0, 500],
                        "paper": "ftp://x"})
    found = info.value.problems
    assert found[0] == "authors: expected a list, got str"
    assert "date: '1 June 2025' is not YYYY-MM-DD" in found
    assert "paper: 'ftp://x' is not an http(s) link" in found
    assert any(p.startswith("lengths_seen: [0, 500] is not within the task lengths 0-150") for p in found), found
    assert len(found) == 4
    # the fields that have their type are kept for checks against results.json
    assert info.value.fields["bench_version"] == "0.1.0" and "authors" not in info.value.fields


@pytest.mark.parametrize("lengths, ok", [([0, 150], True), ([51, 100], True), ([0, 0], True), ([0, 151], False),
                                         ([0, 500], False), ([-1, 50], False), ([0, 50, 100], False)])
def test_lengths_seen_lies_within_the_task_lengths(tmp_path, lengths, ok):
    if ok:
        assert read(tmp_path, {**GOOD, "lengths_seen": lengths}).lengths_seen == lengths
        return
    with pytest.raises(SubmissionError) as info:
        read(tmp_path, {**GOOD, "lengths_seen": lengths})
    (problem,) = info.value.problems
    assert problem.startswith(f"lengths_seen: {lengths!r} is not"), problem
    if lengths[1] > 150 and lengths[0] >= 0 and len(lengths) == 2:
        assert "0-50, 51-100, 101-150" in problem and '"all"' in problem


def test_placeholders_left_by_init_are_named(tmp_path):
    with pytest.raises(SubmissionError) as info:
        read(tmp_path, {**GOOD, "authors": ["FILL IN: your name(s)"], "lengths_seen": "FILL IN: [lo, hi] or \"all\"",
                        "description": "Fill in the gaps: a method named after its first step."})
    assert info.value.problems == [
        "authors: still the placeholder 'FILL IN: your name(s)'; fill it in (see submissions/README.md)",
        "lengths_seen: still the placeholder 'FILL IN: [lo, hi] or \"all\"'; fill it in (see submissions/README.md)",
    ]  # only the exact upper-case prefix "FILL IN:" is a placeholder
