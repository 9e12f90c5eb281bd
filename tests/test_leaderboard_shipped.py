"""The shipped submissions validate end to end, and leaderboard/ is what build makes of them.

Skipped while ``submissions/`` holds no submission. The static checks and the
leaderboard comparison are fast; re-scoring every program on the whole
splits is marked slow.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from bench.leaderboard import plots
from bench.leaderboard.__main__ import main
from bench.leaderboard.build import build
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, submission_folders, validate_all

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
LEADERBOARD = ROOT / "leaderboard"


def shipped() -> list[Path]:
    folders = submission_folders(SUBMISSIONS) if SUBMISSIONS.is_dir() else []
    if not folders:
        pytest.skip("no submission in submissions/ yet")
    return folders


def relative(folders: list[Path]) -> list[Path]:
    """Paths as the CLI sees them from the repository root, so that messages and pages match."""
    return [f.relative_to(ROOT) for f in folders]


def assert_accepted(verdicts) -> None:
    problems = [str(p) for v in verdicts for p in v.problems]
    assert not problems, "\n".join(problems)


def test_shipped_submissions_pass_the_static_checks():
    assert_accepted(validate_all(shipped(), Harness(), Options(rescore=False)))


def test_committed_leaderboard_is_what_build_produces(tmp_path, monkeypatch):
    folders = shipped()
    monkeypatch.chdir(ROOT)
    verdicts = validate_all(relative(folders), Harness(), Options(rescore=False))
    assert_accepted(verdicts)
    build([v.entry() for v in verdicts], tmp_path)
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(LEADERBOARD).as_posix() for p in LEADERBOARD.rglob("*") if p.is_file())
    assert built == committed, "leaderboard/ is stale: run python -m bench.leaderboard build"
    for name in built:
        if name.endswith(".png"):
            continue  # bytes depend on the matplotlib version; see bench.leaderboard.plots
        assert (tmp_path / name).read_bytes() == (LEADERBOARD / name).read_bytes(), f"leaderboard/{name} is stale"
    assert {plots.MATCH_BY_LENGTH, plots.SIZE_VS_MATCH} <= set(built)


@pytest.mark.slow
def test_shipped_submissions_rescore_exactly():
    threads = torch.get_num_threads()
    try:
        assert_accepted(validate_all(shipped(), Harness(), Options()))
    finally:
        torch.set_num_threads(threads)


def test_init_rewrites_each_shipped_manifest_from_its_results(tmp_path, monkeypatch):
    """init fills method and bench_version from results.json as the shipped manifests have them."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    for folder in shipped():
        shipped_manifest = json.loads((folder / "submission.json").read_text())
        copy = tmp_path / folder.name
        copy.mkdir()
        shutil.copy(folder / "results.json", copy / "results.json")
        lengths = shipped_manifest["lengths_seen"]
        args = ["init", str(copy), "--contact", shipped_manifest["contact"],
                "--description", shipped_manifest["description"],
                "--lengths-seen", lengths if lengths == "all" else "%d-%d" % tuple(lengths)]
        for author in shipped_manifest["authors"]:
            args += ["--author", author]
        assert main(args) == 0
        written = json.loads((copy / "submission.json").read_text())
        assert {**written, "date": shipped_manifest["date"]} == {**shipped_manifest, "paper": None, "code": None}
