"""The ``submission.json`` schema, written once, and reading a submission folder.

A submission is a folder ``submissions/<anything>/`` holding

- ``submission.json``: who made the method and how (:class:`Submission`);
- ``results.json``: exactly as ``python -m bench.evaluate ... --out`` wrote it
  (schema in :mod:`bench.results`);
- ``programs/``: the extracted programs that ``results.json`` names.

The folder's name carries no meaning: the leaderboard shows ``method``.
:func:`read_submission` checks the manifest against the schema and reports
every problem at once; everything about ``results.json`` and the programs is
checked by :mod:`bench.leaderboard.validate`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Union

from bench import schema

SUBMISSION_FILE = "submission.json"
RESULTS_FILE = "results.json"
SUBMISSION_VERSION = 1

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL = re.compile(r"^https?://\S+$")
MAX_TEXT = 2000  # characters of the description; longer text belongs in the paper


@dataclass(frozen=True)
class Submission:
    method: str  # the method's display name on the leaderboard (unique among submissions)
    authors: list[str]  # people or team, in the order they want to be cited
    contact: str  # an e-mail address or a GitHub handle for questions about the entry
    description: str  # what the method does, in a few sentences (plain text)
    date: str  # YYYY-MM-DD the submission was made; the only date the leaderboard shows
    bench_version: str  # rasp-bench version the results were produced with (equals results.json's)
    lengths_seen: Union[Literal["all"], list[int]]  # input lengths the method looked at: [lo, hi] (e.g. [0, 50]) or "all"
    paper: Optional[str] = None  # https link to a paper or preprint describing the method
    code: Optional[str] = None  # https link to the method's code
    submission_version: int = SUBMISSION_VERSION  # version of this manifest format


class SubmissionError(ValueError):
    """A submission folder that cannot be read; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def read_submission(path: Path) -> Submission:
    """Parse and check ``path`` (a ``submission.json``); :class:`SubmissionError` lists every problem.

    Problems name the field, without the file (the caller adds it).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SubmissionError([f"missing file (every submission needs a {SUBMISSION_FILE})"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError([f"cannot read JSON ({exc})"]) from None
    problems = [_strip_root(p, "Submission") for p in schema.check(data, Submission)]
    if problems:
        raise SubmissionError(problems)
    submission = schema.load(data, Submission)
    problems = _semantic_problems(submission)
    if problems:
        raise SubmissionError(problems)
    return submission


def _semantic_problems(s: Submission) -> list[str]:
    """What the type check cannot see: empty names, date and link formats, the length range."""
    problems = []
    for name in ("method", "contact", "description"):
        if not getattr(s, name).strip():
            problems.append(f"{name}: must not be empty")
    if len(s.method) > 80:
        problems.append("method: longer than 80 characters")
    if len(s.description) > MAX_TEXT:
        problems.append(f"description: longer than {MAX_TEXT} characters")
    if not s.authors or any(not a.strip() for a in s.authors):
        problems.append("authors: needs at least one non-empty name")
    if not _DATE.match(s.date):
        problems.append(f"date: {s.date!r} is not YYYY-MM-DD")
    for name in ("paper", "code"):
        link = getattr(s, name)
        if link is not None and not _URL.match(link):
            problems.append(f"{name}: {link!r} is not an http(s) link")
    if s.lengths_seen != "all":
        lengths = s.lengths_seen
        if len(lengths) != 2 or not 0 <= lengths[0] <= lengths[1]:
            problems.append(f"lengths_seen: {lengths!r} is not [lo, hi] with 0 <= lo <= hi, nor \"all\"")
    if s.submission_version != SUBMISSION_VERSION:
        problems.append(f"submission_version: {s.submission_version} is not the supported version {SUBMISSION_VERSION}")
    return problems


def lengths_label(s: Submission) -> str:
    """``"0-50"`` or ``"all"``: the lengths a method saw, for tables."""
    return "all" if s.lengths_seen == "all" else f"{s.lengths_seen[0]}-{s.lengths_seen[1]}"


def _strip_root(problem: str, root: str) -> str:
    """``"Submission.authors: ..."`` -> ``"authors: ..."``: the file already names the object."""
    return problem[len(root) + 1 :] if problem.startswith(root + ".") else problem
