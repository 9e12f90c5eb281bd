"""``python -m bench.leaderboard check-pr --base REF``: a submission pull request changes only its folder.

The files a pull request changes are ``git diff --name-only REF...HEAD`` (what
was committed since the branch left ``REF``; a rename counts at both ends).
Three cases:

- every file lies in one folder ``submissions/<name>/``: a submission; that
  folder alone is validated (re-scored unless ``--no-rescore``), and its method
  name is compared with the other submissions';
- files in ``submissions/<name>/`` and anywhere else (a second submission
  folder, ``leaderboard/``, code): refused, with the files named; a submission
  comes in a pull request of its own, and ``leaderboard/`` is rebuilt on
  ``main`` after the merge (``.github/workflows/leaderboard.yml``);
- no file in a submission folder: a code change, left to the full checks
  (``.ci/run``), which validate every submission and compare ``leaderboard/``
  with a fresh build.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bench.errors import BenchError

SUBMISSIONS = "submissions"
GIT_TIMEOUT = 120  # seconds for one git command
MAX_SHOWN = 8  # files named in a refusal; the rest are counted


class GitError(BenchError):
    """git cannot answer (not installed, not a repository, an unknown revision); the message is one line."""


class Refused(BenchError):
    """A pull request that mixes a submission with other changes; the message names the files."""


@dataclass(frozen=True)
class Change:
    """The files of a pull request, sorted into submission folders and the rest."""

    folders: tuple[str, ...]  # names of the submission folders it changes, sorted
    others: tuple[str, ...]  # changed files outside every submission folder


def git(args: list[str], repo: Path) -> str:
    """The output of ``git -C repo ARGS`` (bytes decoded as UTF-8, odd bytes kept escaped); :class:`GitError`."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise GitError("git is not installed (check-pr compares the branch with its base through git)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {reason[0] if reason else f'exit status {done.returncode}'}")
    return done.stdout.decode("utf-8", "surrogateescape")


def changed_files(base: str, repo: Path) -> list[str]:
    """Paths (from the repository root) that HEAD changes since it left ``base``."""
    if not base or base.startswith("-"):
        raise GitError(f"--base {base!r} is not a revision (a branch, tag or commit, e.g. origin/main)")
    out = git(["diff", "--name-only", "--no-renames", "-z", f"{base}...HEAD", "--"], repo)
    return sorted(p for p in out.split("\0") if p)


def classify(paths: list[str]) -> Change:
    """Sort changed paths into submission folders (``submissions/<name>/...``) and the rest.

    >>> classify(["submissions/mine/results.json", "submissions/README.md", "bench/x.py"])
    Change(folders=('mine',), others=('bench/x.py', 'submissions/README.md'))
    """
    folders, others = set(), set()
    for path in paths:
        parts = PurePosixPath(path).parts
        if len(parts) >= 3 and parts[0] == SUBMISSIONS:
            folders.add(parts[1])
        else:
            others.add(path)
    return Change(tuple(sorted(folders)), tuple(sorted(others)))


def refusal(change: Change) -> str | None:
    """Why a pull request with these changes is not a submission pull request (None: it is one, or it is code)."""
    if len(change.folders) > 1:
        shown = ", ".join(f"{SUBMISSIONS}/{name}/" for name in change.folders[:MAX_SHOWN])
        return (f"the pull request changes {len(change.folders)} submission folders ({shown}); "
                "send one submission per pull request")
    if change.folders and change.others:
        shown = ", ".join(change.others[:MAX_SHOWN])
        more = len(change.others) - MAX_SHOWN
        return (f"the pull request changes {SUBMISSIONS}/{change.folders[0]}/ and {len(change.others)} file"
                f"{'s' * (len(change.others) != 1)} outside it ({shown}{f', and {more} more' if more > 0 else ''}); "
                "a submission pull request changes only its folder (leaderboard/ is rebuilt after the merge): "
                "move the other changes to a pull request of their own")
    return None


def submission_folder(base: str, cwd: Path | None = None) -> Path | None:
    """The one submission folder this branch changes, as a path from ``cwd``; None for a code change;
    :class:`Refused` for a mix. The folder may no longer exist (the pull request removes it)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    root = Path(git(["rev-parse", "--show-toplevel"], cwd).strip())
    change = classify(changed_files(base, root))
    problem = refusal(change)
    if problem:
        raise Refused(problem)
    if not change.folders:
        return None
    folder = root / SUBMISSIONS / change.folders[0]
    return Path(os.path.relpath(folder, cwd))


def other_methods(folder: Path) -> dict[str, Path]:
    """The method name of every other submission beside ``folder`` (by the leaderboard's slug), for a clash."""
    from bench.leaderboard.submission import SUBMISSION_FILE, SubmissionError, read_submission
    from bench.leaderboard.tables import slug
    from bench.leaderboard.validate import submission_folders

    names = {}
    for other in submission_folders(folder.parent):
        if other.resolve() == folder.resolve():
            continue
        try:
            names[slug(read_submission(other / SUBMISSION_FILE).method)] = other
        except SubmissionError:
            continue  # its own pull request was checked; full CI reports it
    return names
