"""``python -m bench.leaderboard init``: submission.json from results.json, placeholders, prompts, --force."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import bench
from bench.leaderboard.__main__ import main
from bench.leaderboard.init import draft
from bench.leaderboard.submission import read_submission
from bench.scoring.results import MethodInfo, Results, save_results


class Terminal(io.StringIO):
    """Typed answers, on what looks like a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder holding only a results.json, as bench.evaluate --out leaves it (no model: enough for init)."""
    folder = tmp_path / "my-method"
    folder.mkdir()
    save_results(folder / "results.json", Results(1, bench.__version__, None, "2025-01-01T00:00:00+00:00",
                                                  MethodInfo("my_method", "my_method.py", {}), 0, None, 0.9))
    return folder


@pytest.fixture
def no_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def manifest(folder: Path) -> dict:
    return json.loads((folder / "submission.json").read_text(encoding="utf-8"))


def test_without_a_terminal_the_unknowns_are_placeholders_that_validate_names(folder, no_terminal, capsys):
    assert main(["init", str(folder)]) == 0
    data = manifest(folder)
    assert data["method"] == "my_method" and data["bench_version"] == bench.__version__
    assert data["date"] == datetime.date.today().isoformat()
    assert data["authors"][0].startswith("FILL IN: ") and data["contact"].startswith("FILL IN: ")
    assert data["lengths_seen"].startswith("FILL IN: ")  # results.json records no lengths here
    assert data["paper"] is None and data["code"] is None
    out = capsys.readouterr().out
    assert "still to do in submission.json:" in out and "authors: still the placeholder 'FILL IN: your name(s)" in out
    assert main(["validate", str(folder), "--no-rescore", "--allow-partial"]) == 1
    out = capsys.readouterr().out
    for name in ("authors", "contact", "description", "lengths_seen"):
        assert f"submission.json: {name}: still the placeholder 'FILL IN: " in out
    assert "fill it in (see submissions/README.md)" in out


def test_options_fill_everything_without_asking(folder, no_terminal, capsys):
    args = ["init", str(folder), "--author", "Ada Lovelace", "--author", "Kurt Gödel", "--contact", "ada@example.org",
            "--description", "Prunes heads.", "--lengths-seen", "0-50", "--code", "https://example.org/code"]
    assert main(args) == 0
    submission = read_submission(folder / "submission.json")  # complete and valid
    assert submission.authors == ["Ada Lovelace", "Kurt Gödel"] and submission.lengths_seen == [0, 50]
    assert submission.code == "https://example.org/code" and submission.paper is None
    assert "Kurt Gödel" in (folder / "submission.json").read_text(encoding="utf-8")  # written as typed
    assert "still to do" not in capsys.readouterr().out


def test_an_existing_manifest_is_kept_unless_forced(folder, no_terminal, capsys):
    (folder / "submission.json").write_text("{}")
    assert main(["init", str(folder), "--contact", "x@example.org"]) == 2
    assert "submission.json: exists already; edit it, or pass --force" in capsys.readouterr().err
    assert (folder / "submission.json").read_text() == "{}"
    assert main(["init", str(folder), "--contact", "x@example.org", "--force"]) == 0
    assert manifest(folder)["contact"] == "x@example.org"


def test_on_a_terminal_the_missing_values_are_asked_for(folder, monkeypatch, capsys):
    answers = "Ada Lovelace; Alan Turing\nada@example.org\nFits one head per layer.\n0 to 50\n0-50\n\nhttps://x.org/c\n"
    monkeypatch.setattr("sys.stdin", Terminal(answers))
    assert main(["init", str(folder)]) == 0
    submission = read_submission(folder / "submission.json")
    assert submission.authors == ["Ada Lovelace", "Alan Turing"] and submission.contact == "ada@example.org"
    assert submission.lengths_seen == [0, 50] and submission.paper is None and submission.code == "https://x.org/c"
    captured = capsys.readouterr()
    assert "'0 to 50' is not lo-hi (e.g. 0-50) or all" in captured.err  # asked again


def test_lengths_recorded_in_results_json_are_taken():
    results = SimpleNamespace(bench_version="0.1.0", method=SimpleNamespace(name="m", lengths_seen=[0, 150]), models=[])
    assert draft(results, {})["lengths_seen"] == [0, 150]
    assert draft(results, {"lengths_seen": "all"})["lengths_seen"] == "all"  # what the submitter says comes first


def test_folders_without_results_and_bad_arguments(tmp_path, no_terminal, capsys):
    assert main(["init", str(tmp_path)]) == 2
    assert "results.json: missing; score the method into this folder first (python -m bench.evaluate" in \
        capsys.readouterr().err
    assert main(["init", str(tmp_path / "nowhere")]) == 2
    (tmp_path / "results.json").write_text('{"schema_version": 1}')
    assert main(["init", str(tmp_path)]) == 2
    assert "bench_version: missing required field" in capsys.readouterr().err
    assert not (tmp_path / "submission.json").exists()
    with pytest.raises(SystemExit) as info:
        main(["init", str(tmp_path), "--lengths-seen", "short ones"])
    assert info.value.code == 2


def test_a_terminal_is_not_asked_what_the_options_gave(folder, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal(""))  # any question would read an empty answer
    args = ["init", str(folder), "--author", "Ada", "--contact", "ada@example.org", "--description", "Prunes heads.",
            "--lengths-seen", "all"]
    asked = []
    monkeypatch.setattr("builtins.input", lambda text: asked.append(text) or "")
    assert main(args) == 0
    assert asked == [] and read_submission(folder / "submission.json").lengths_seen == "all"
