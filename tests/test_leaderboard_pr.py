"""``check-pr``: a submission pull request changes only its folder, which is then validated alone.

Each test makes a throwaway git repository: ``main`` holds a copy of the
shipped ``lookup`` submission and a file of code; a branch then changes things,
and ``check-pr --base main`` is run from it (static checks only).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.leaderboard.__main__ import main
from bench.leaderboard.pr import Change, GitError, changed_files, classify, refusal
from bench.models.hub import load_manifest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "submissions" / "lookup"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=60,
                   env={**os.environ, **GIT_ENV})


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(autouse=True)
def own_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_VERDICTS", str(tmp_path / "verdicts"))


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """main: submissions/lookup and bench_code.py; HEAD: a branch 'pr' off main, checked out, cwd."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if not (SHIPPED / "results.json").is_file():
        pytest.skip("submissions/lookup is not shipped")
    repo = tmp_path / "repo"
    shutil.copytree(SHIPPED, repo / "submissions" / "lookup")
    (repo / "bench_code.py").write_text("x = 1\n")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "pr")
    monkeypatch.chdir(repo)
    return repo


def add_submission(repo: Path, name: str, method: str) -> Path:
    folder = Path(shutil.copytree(SHIPPED, repo / "submissions" / name))
    manifest = json.loads((folder / "submission.json").read_text())
    (folder / "submission.json").write_text(json.dumps({**manifest, "method": method}, indent=1))
    return folder


def check_pr(capsys, *extra: str) -> tuple[int, str]:
    status = main(["check-pr", "--base", "main", "--no-rescore", *extra])
    return status, capsys.readouterr().out


def test_a_submission_alone_is_validated_alone(repo, capsys):
    add_submission(repo, "mine", "my method")
    commit(repo, "my submission")
    status, out = check_pr(capsys)
    assert status == 0, out
    assert "a submission pull request: validating submissions/mine only" in out
    assert f"ok        submissions/mine  (my method: {len(load_manifest()['models'])} models)" in out and "submissions/lookup" not in out


def test_a_submission_that_fails_validation_or_takes_a_name(repo, capsys):
    folder = add_submission(repo, "mine", "Lookup")  # the leaderboard's slug of "lookup"
    (folder / "notes.txt").write_text("draft")
    commit(repo, "my submission")
    status, out = check_pr(capsys)
    assert status == 1
    assert "submissions/mine/notes.txt: not part of a submission, remove it" in out
    assert "submissions/mine/submission.json: method: 'Lookup' is already the method of submissions/lookup" in out


def test_a_submission_with_anything_else_is_refused(repo, capsys):
    add_submission(repo, "mine", "my method")
    (repo / "bench_code.py").write_text("x = 2\n")
    (repo / "leaderboard").mkdir()
    (repo / "leaderboard" / "README.md").write_text("rebuilt\n")
    commit(repo, "submission and more")
    status, out = check_pr(capsys)
    assert status == 1
    assert out == ("refused: the pull request changes submissions/mine/ and 2 files outside it (bench_code.py, "
                   "leaderboard/README.md); a submission pull request changes only its folder (leaderboard/ is "
                   "rebuilt after the merge): move the other changes to a pull request of their own\n")


def test_two_submission_folders_are_refused(repo, capsys):
    add_submission(repo, "mine", "my method")
    (repo / "submissions" / "lookup" / "submission.json").write_text("{}")
    commit(repo, "two folders")
    status, out = check_pr(capsys)
    assert status == 1
    assert "changes 2 submission folders (submissions/lookup/, submissions/mine/); send one submission per" in out


def test_code_changes_are_left_to_the_full_ci(repo, capsys):
    (repo / "bench_code.py").write_text("x = 3\n")
    (repo / "submissions" / "README.md").write_text("how to submit\n")  # beside the folders: documentation
    commit(repo, "code")
    status, out = check_pr(capsys)
    assert status == 0
    assert out.startswith("no submission folder changed since main: a code change, checked by the full CI")


def test_renames_and_removals(repo, capsys):
    git(repo, "mv", "submissions/lookup", "submissions/renamed")
    commit(repo, "rename")
    assert changed_files("main", repo)[0].startswith("submissions/lookup/")  # both ends of a rename count
    status, out = check_pr(capsys)
    assert status == 1 and "changes 2 submission folders" in out
    git(repo, "reset", "-q", "--hard", "main")
    git(repo, "rm", "-q", "-r", "submissions/lookup")
    commit(repo, "remove")
    status, out = check_pr(capsys)
    assert status == 0 and out.startswith("submissions/lookup/ is removed by this pull request: nothing to validate")


def test_only_commits_since_the_branch_left_its_base_count(repo, capsys):
    add_submission(repo, "mine", "my method")
    commit(repo, "my submission")
    git(repo, "checkout", "-q", "main")
    (repo / "bench_code.py").write_text("x = 4\n")  # main moves on meanwhile
    commit(repo, "code on main")
    git(repo, "checkout", "-q", "pr")
    assert changed_files("main", repo) == [p.relative_to(repo).as_posix()
                                          for p in sorted((repo / "submissions" / "mine").rglob("*")) if p.is_file()]


def test_git_errors_are_one_line(repo, capsys, tmp_path, monkeypatch):
    assert main(["check-pr", "--base", "no-such-branch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: git diff failed: fatal: ") and err.count("\n") == 1
    assert main(["check-pr", "--base=--output=x"]) == 2  # never passed to git as an option
    assert "is not a revision" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)  # not a repository
    assert main(["check-pr", "--base", "main"]) == 2
    assert capsys.readouterr().err.startswith("error: git rev-parse failed: fatal: not a git repository")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="git is not installed"):
        changed_files("main", tmp_path)


def test_classify_and_refusal_rules():
    assert refusal(classify([])) is None
    assert refusal(Change(("a",), ())) is None and refusal(Change((), ("x.py",))) is None
    assert classify(["submissions/a", "submissions/b/c/d.json"]) == Change(("b",), ("submissions/a",))
    many = classify([f"f{i}.py" for i in range(10)] + ["submissions/a/x"])
    assert refusal(many).startswith("the pull request changes submissions/a/ and 10 files outside it (f0.py, ")
    assert "f7.py, and 2 more)" in refusal(many)
