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

import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Union

from bench import schema

SUBMISSION_FILE = "submission.json"
RESULTS_FILE = "results.json"
SUBMISSION_VERSION = 1

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # matched whole (re.fullmatch): no trailing newline
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")  # the characters RFC 3986 admits

# Limits on submission.json (the shipped manifests are under 1 kB, their longest text 510 characters).
MAX_FILE_BYTES = 256 << 10  # the file; checked before it is read
LIMITS = schema.JsonLimits(max_bytes=MAX_FILE_BYTES, max_depth=8, max_containers=1000, max_int_digits=30)
MAX_METHOD = 80  # characters of the method name (a table cell)
MAX_AUTHORS = 50  # names in ``authors``
MAX_NAME = 200  # characters of one author name and of ``contact``
MAX_TEXT = 2000  # characters of the description; longer text belongs in the paper
MAX_URL = 500  # characters of ``paper`` and ``code``
MAX_VERSION = 32  # characters of ``bench_version``


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

    Problems name the field, without the file (the caller adds it). The file is untrusted: it is
    read within :data:`LIMITS` (size checked before reading, nesting before parsing, duplicate keys
    refused) and nothing else is raised.
    """
    try:
        data = schema.read_json(path, LIMITS)
    except FileNotFoundError:
        raise SubmissionError([f"missing file (every submission needs a {SUBMISSION_FILE})"]) from None
    except schema.JsonInputError as exc:
        raise SubmissionError(exc.problems) from None
    problems = [_strip_root(p, "Submission") for p in schema.check(data, Submission)]
    if problems:
        raise SubmissionError(problems)
    submission = schema.load(data, Submission)
    problems = _semantic_problems(submission)
    if problems:
        raise SubmissionError(problems)
    return submission


def _semantic_problems(s: Submission) -> list[str]:
    """What the type check cannot see: lengths and characters of the text, date and link formats, the length range.

    Every text field is one line of printable text (the description may hold newlines and tabs):
    no control characters (NUL, ANSI escapes), no bidirectional controls (U+202A-U+202E,
    U+2066-U+2069, ...), no unpaired surrogates; each has a documented maximum length.
    """
    problems = []
    texts = [("method", s.method, MAX_METHOD), ("contact", s.contact, MAX_NAME),
             ("description", s.description, MAX_TEXT), ("bench_version", s.bench_version, MAX_VERSION)]
    texts += [(f"authors[{i}]", a, MAX_NAME) for i, a in enumerate(s.authors[:MAX_AUTHORS])]
    texts += [(name, getattr(s, name), MAX_URL) for name in ("paper", "code") if getattr(s, name) is not None]
    unsafe = set()
    for name, text, limit in texts:
        if len(text) > limit:
            problems.append(f"{name}: longer than {limit} characters ({len(text):,})")
            unsafe.add(name)
            continue
        bad = schema.bad_character(text, multiline=name == "description")
        if bad:
            problems.append(f"{name}: contains {bad}; only printable text is allowed")
            unsafe.add(name)
    for name in ("method", "contact", "description"):
        if name not in unsafe and not getattr(s, name).strip():
            problems.append(f"{name}: must not be empty")
    if len(s.authors) > MAX_AUTHORS:
        problems.append(f"authors: more than {MAX_AUTHORS} names ({len(s.authors):,})")
    if not s.authors or any(not a.strip() for a in s.authors[:MAX_AUTHORS]):
        problems.append("authors: needs at least one non-empty name")
    if not _DATE.fullmatch(s.date):
        problems.append(f"date: {schema.printable(repr(s.date), 40)} is not YYYY-MM-DD")
    else:
        try:
            datetime.date.fromisoformat(s.date)
        except ValueError:
            problems.append(f"date: {s.date!r} is not a calendar date")
    for name in ("paper", "code"):
        link = getattr(s, name)
        if link is not None and name not in unsafe and not _URL.fullmatch(link):
            problems.append(f"{name}: {schema.printable(repr(link), 100)} is not an http(s) link")
    if s.lengths_seen != "all":
        lengths = s.lengths_seen
        if len(lengths) != 2 or not 0 <= lengths[0] <= lengths[1]:
            problems.append(f"lengths_seen: {schema.printable(repr(lengths), 60)} is not [lo, hi] with 0 <= lo <= hi, "
                            "nor \"all\"")
    if s.submission_version != SUBMISSION_VERSION:
        problems.append(f"submission_version: {s.submission_version} is not the supported version {SUBMISSION_VERSION}")
    return problems


def lengths_label(s: Submission) -> str:
    """``"0-50"`` or ``"all"``: the lengths a method saw, for tables."""
    return "all" if s.lengths_seen == "all" else f"{s.lengths_seen[0]}-{s.lengths_seen[1]}"


def _strip_root(problem: str, root: str) -> str:
    """``"Submission.authors: ..."`` -> ``"authors: ..."``: the file already names the object."""
    return problem[len(root) + 1 :] if problem.startswith(root + ".") else problem
