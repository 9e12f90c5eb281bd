"""The ``submission.json`` schema, written once, and reading a submission folder.

A submission is a folder ``submissions/<anything>/`` holding

- ``submission.json``: who made the method and how (:class:`Submission`);
- ``results.json``: exactly as ``python -m bench.evaluate ... --out`` wrote it
  (schema in :mod:`bench.scoring.results`);
- ``programs/``: the extracted programs that ``results.json`` names.

The folder's name carries no meaning: the leaderboard shows ``method``.
:func:`read_submission` checks the manifest against the schema and reports
every problem at once, in one round: a field of the wrong type is reported and
every other field is still checked for its content (lengths, characters,
dates, links, the length range). Values that ``python -m bench.leaderboard
init`` could not fill in are written as placeholders starting with
:data:`PLACEHOLDER`, which are reported as such. Everything about
``results.json`` and the programs is checked by :mod:`bench.leaderboard.validate`.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_type_hints

from bench.data.task import TEST_SPLITS
from bench.errors import BenchError
from bench.registry import field_hint as _hint
from bench.scoring import schema, untrusted_json

SUBMISSION_FILE = "submission.json"
RESULTS_FILE = "results.json"
SUBMISSION_VERSION = 1

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # matched whole (re.fullmatch): no trailing newline
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")  # the characters RFC 3986 admits

# Limits on submission.json (the shipped manifests are under 1 kB, their longest text 510 characters).
MAX_FILE_BYTES = 256 << 10  # the file; checked before it is read
LIMITS = untrusted_json.JsonLimits(max_bytes=MAX_FILE_BYTES, max_depth=8, max_containers=1000, max_int_digits=30)
MAX_METHOD = 80  # characters of the method name (a table cell)
MAX_AUTHORS = 50  # names in ``authors``
MAX_NAME = 200  # characters of one author name and of ``contact``
MAX_TEXT = 2000  # characters of the description; longer text belongs in the paper
MAX_URL = 500  # characters of ``paper`` and ``code``
MAX_VERSION = 32  # characters of ``bench_version``

#: The longest input the frozen test splits hold (the top of the last bin): ``lengths_seen`` lies within [0, this].
MAX_TEST_LENGTH = max(hi for _, hi in TEST_SPLITS.values())
#: How a value that ``init`` left for the submitter to write begins (``"FILL IN: your name"``; case matters).
PLACEHOLDER = "FILL IN:"


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


class SubmissionError(BenchError):
    """A submission folder that cannot be read; ``problems`` lists every finding.

    ``fields`` holds the fields that have their schema type (whatever else is wrong with them),
    so that checks against ``results.json`` can still run.
    """

    def __init__(self, problems: list[str], fields: dict[str, Any] | None = None):
        self.problems = problems
        self.fields = fields or {}
        super().__init__("; ".join(problems))


def read_submission(path: Path) -> Submission:
    """Parse and check ``path`` (a ``submission.json``); :class:`SubmissionError` lists every problem.

    Problems name the field, without the file (the caller adds it). The file is untrusted: it is
    read within :data:`LIMITS` (size checked before reading, nesting before parsing, duplicate keys
    refused) and nothing else is raised.
    """
    try:
        data = untrusted_json.read_json(path, LIMITS)
    except FileNotFoundError:
        raise SubmissionError([f"missing file (every submission needs a {SUBMISSION_FILE}; "
                               "write one with python -m bench.leaderboard init FOLDER)"]) from None
    except untrusted_json.JsonInputError as exc:
        raise SubmissionError(exc.problems) from None
    if not isinstance(data, dict):
        raise SubmissionError([f"expected a JSON object, got {type(data).__name__}"])
    problems, fields = _typed_fields(data)
    problems += _semantic_problems(fields)
    if problems:
        raise SubmissionError(problems, fields)
    return Submission(**fields)


def _typed_fields(data: dict) -> tuple[list[str], dict[str, Any]]:
    """The type problems of every field (placeholders, missing and unknown fields included), and the
    fields that have their type, with defaults for absent optional ones."""
    hints = get_type_hints(Submission)
    problems, fields = [], {}
    for f in dataclasses.fields(Submission):
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                problems.append(f"{f.name}: missing required field")
            else:
                fields[f.name] = f.default
            continue
        value = data[f.name]
        if is_placeholder(value):
            problems.append(f"{f.name}: still the placeholder {schema.printable(repr(_placeholder_text(value)), 160)}; "
                            f"fill it in (see submissions/README.md)")
            continue
        found = schema.check(value, hints[f.name], f.name)
        if found:
            problems += found
        else:
            fields[f.name] = schema.load(value, hints[f.name], f.name)
    problems += [f"{schema.join('', key)}: unknown field{_hint(key, hints)}" for key in data if key not in hints]
    return problems, fields


def is_placeholder(value) -> bool:
    """Whether ``value`` is (or, for a list, holds) a string left by ``init`` for the submitter to write."""
    if isinstance(value, list):
        return any(is_placeholder(v) for v in value)
    return isinstance(value, str) and value.startswith(PLACEHOLDER)


def _placeholder_text(value) -> str:
    return next(v for v in value if is_placeholder(v)) if isinstance(value, list) else value


def _semantic_problems(fields: dict[str, Any]) -> list[str]:
    """What the type check cannot see, for every field that has its type: lengths and characters of
    the text, date and link formats, the length range.

    Every text field is one line of printable text (the description may hold newlines and tabs):
    no control characters (NUL, ANSI escapes), no bidirectional controls (U+202A-U+202E,
    U+2066-U+2069, ...), no unpaired surrogates; each has a documented maximum length.
    """
    problems = []
    limits = {"method": MAX_METHOD, "contact": MAX_NAME, "description": MAX_TEXT, "bench_version": MAX_VERSION,
              "paper": MAX_URL, "code": MAX_URL}
    texts = [(name, fields[name], limit) for name, limit in limits.items() if fields.get(name) is not None]
    authors = fields.get("authors")
    if authors is not None:
        texts += [(f"authors[{i}]", a, MAX_NAME) for i, a in enumerate(authors[:MAX_AUTHORS])]
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
        if name in fields and name not in unsafe and not fields[name].strip():
            problems.append(f"{name}: must not be empty")
    if authors is not None:
        if len(authors) > MAX_AUTHORS:
            problems.append(f"authors: more than {MAX_AUTHORS} names ({len(authors):,})")
        if not authors or any(not a.strip() for a in authors[:MAX_AUTHORS]):
            problems.append("authors: needs at least one non-empty name")
    if "date" in fields:
        problems += _date_problems(fields["date"])
    for name in ("paper", "code"):
        link = fields.get(name)
        if link is not None and name not in unsafe and not _URL.fullmatch(link):
            problems.append(f"{name}: {schema.printable(repr(link), 100)} is not an http(s) link")
    if "lengths_seen" in fields:
        problems += lengths_problems(fields["lengths_seen"])
    version = fields.get("submission_version", SUBMISSION_VERSION)
    if version != SUBMISSION_VERSION:
        problems.append(f"submission_version: {version} is not the supported version {SUBMISSION_VERSION}")
    return problems


def _date_problems(date: str) -> list[str]:
    if not _DATE.fullmatch(date):
        return [f"date: {schema.printable(repr(date), 40)} is not YYYY-MM-DD"]
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        return [f"date: {date!r} is not a calendar date"]
    return []


def lengths_problems(lengths) -> list[str]:
    """Why ``lengths`` is not a ``lengths_seen`` value: ``"all"``, or ``[lo, hi]`` within the task lengths.

    >>> lengths_problems([0, 50]), lengths_problems("all")
    ([], [])
    >>> lengths_problems([0, 500])  # doctest: +ELLIPSIS
    ['lengths_seen: [0, 500] is not within the task lengths 0-150 ...']
    """
    if lengths == "all":
        return []
    shown = schema.printable(repr(lengths), 60)
    if len(lengths) != 2 or not 0 <= lengths[0] <= lengths[1]:
        return [f"lengths_seen: {shown} is not [lo, hi] with 0 <= lo <= hi, nor \"all\""]
    if lengths[1] > MAX_TEST_LENGTH:
        bins = ", ".join(f"{lo}-{hi}" for lo, hi in TEST_SPLITS.values())
        return [f"lengths_seen: {shown} is not within the task lengths 0-{MAX_TEST_LENGTH} (the frozen test bins "
                f"are {bins}): give [lo, hi] with hi <= {MAX_TEST_LENGTH}, or \"all\" for a method that looked at "
                "inputs of every length"]
    return []


def recorded_lengths(results) -> list[int] | str | None:
    """The lengths that ``results.json`` records the method looked at: ``[lo, hi]``, ``"all"``, or None.

    ``method.lengths_seen`` when the results declare it; else the union of the per-model
    ``lengths_sampled`` ranges (what the method asked of the task's sampler), ``"all"`` when that
    goes past the longest test input; None when nothing is recorded. Malformed ranges are left out.
    """
    declared = getattr(results.method, "lengths_seen", None)
    if declared == "all" or _is_range(declared):
        return declared if declared == "all" else [int(v) for v in declared]
    ranges = [m.lengths_sampled for m in results.models if _is_range(getattr(m, "lengths_sampled", None))]
    if not ranges:
        return None
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    return "all" if hi > MAX_TEST_LENGTH else [int(lo), int(hi)]


def _is_range(value) -> bool:
    return (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
            and 0 <= value[0] <= value[1])


def lengths_label(s: Submission) -> str:
    """``"0-50"`` or ``"all"``: the lengths a method saw, for tables."""
    return "all" if s.lengths_seen == "all" else f"{s.lengths_seen[0]}-{s.lengths_seen[1]}"
