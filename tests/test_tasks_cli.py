"""``python -m bench.tasks``: list, show, export, and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.data.splits import SPLIT_NAMES
from bench.data.task import get_task, task_names
from bench.tasks.__main__ import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli_cache(split_cache, suite_splits, monkeypatch):
    """The CLI reads the session's split cache (already built by ``suite_splits``)."""
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))
    return suite_splits


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_task_and_its_fingerprints(capsys, cli_cache):
    from bench.data.splits import split_fingerprints

    code, out, err = run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:7] == ["name", "kind", "vocab", "min", "L", "length", "rule"]
    for name in task_names():
        row = next(line for line in lines if line.split()[0] == name)
        task = get_task(name)
        assert task.kind in row and task.length_rule in row and f" {task.n_positions} " in row
        for fingerprint in split_fingerprints(cli_cache[name]).values():
            assert fingerprint[:12] in row


def test_list_computes_the_fingerprints_of_a_task_whose_version_is_not_pinned(capsys, cli_cache, tmp_path, monkeypatch):
    import json

    import bench.tasks.__main__ as cli
    from bench.data.splits import split_fingerprints

    pinned = json.loads(cli.PINNED_FINGERPRINTS.read_text())
    pinned["sort"] = {"version": "0.0", "test_0_50": "f" * 64, "test_51_100": "f" * 64, "test_101_150": "f" * 64}
    altered = tmp_path / "split_fingerprints.json"
    altered.write_text(json.dumps(pinned))
    monkeypatch.setattr(cli, "PINNED_FINGERPRINTS", altered)
    monkeypatch.setattr(cli, "pinned_fingerprints", lambda path=altered: json.loads(path.read_text()))
    code, out, _ = run(capsys, "list")
    row = next(line for line in out.splitlines() if line.split()[0] == "sort")
    assert code == 0 and "ffffffffffff" not in row
    assert all(fp[:12] in row for fp in split_fingerprints(cli_cache["sort"]).values())


def test_list_without_fingerprints_needs_no_splits(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_CACHE", str(tmp_path))
    code, out, _ = run(capsys, "list", "--no-fingerprints")
    assert code == 0 and "bin_majority_interleave" in out and "multiple of 3" in out and " 1.0" in out
    assert not any(tmp_path.iterdir())


def test_show_a_token_task(capsys, cli_cache):
    code, out, _ = run(capsys, "show", "sort", "--n", "2", "--split", "test_51_100")
    assert code == 0
    assert out.count("\n[") == 2 and "targets:" in out and "<sep>" in out
    first = cli_cache["sort"]["test_51_100"][0]
    assert " ".join(get_task("sort").vocab.decode(first["targets"])) in out


def test_show_a_language_task(capsys, cli_cache):
    code, out, _ = run(capsys, "show", "d2")
    assert code == 0 and out.count("\n[") == 3
    assert "<bos> -> {a,<eos>}" in out  # the empty prefix may close or open


def test_export(capsys, cli_cache, tmp_path):
    code, out, _ = run(capsys, "export", "parity", str(tmp_path / "parity"))
    assert code == 0 and "parity" in out
    assert sorted(p.name for p in (tmp_path / "parity" / "data").iterdir()) == sorted(
        f"{s}-00000-of-00001.parquet" for s in SPLIT_NAMES
    )
    assert (tmp_path / "parity" / "README.md").read_text().startswith("---\n")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["show", "sortt"], "Did you mean 'sort'?"),
        (["export", "tomita9", "out"], "Known tasks:"),
        (["show", "sort", "--split", "test_0_49"], "unknown split"),
        (["show", "sort", "--n", "-1"], "at least 0"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(capsys, cli_cache, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err


def test_export_into_a_file_is_a_one_line_error(capsys, cli_cache, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "export", "parity", str(blocker))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_the_module_runs_as_a_script(tmp_path):
    env = {**os.environ, "RASP_BENCH_CACHE": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bench.tasks", "show", "no_such_task"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "unknown task 'no_such_task'" in result.stderr
    usage = subprocess.run([sys.executable, "-m", "bench.tasks"], cwd=REPO, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr
