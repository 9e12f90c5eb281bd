"""What validating a submission finds: :class:`Problem`, :class:`Verdict`, :class:`FreshRow`, the
:class:`Options` of a validation, and the limits the checks apply (:mod:`bench.leaderboard.validate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import bench
from bench.leaderboard.harness import MAX_FRESH_SEQUENCES
from bench.leaderboard.submission import Submission
from bench.leaderboard.tables import Entry
from bench.leaderboard.verdicts import Record
from bench.scoring import schema
from bench.scoring.results import Results

PUBLISHED_THRESHOLD = 0.9
TOLERANCE = 1e-9

#: rasp-bench versions whose results the leaderboard reads (every released one; the running one).
KNOWN_BENCH_VERSIONS = tuple(sorted({"0.1.0", bench.__version__}))
MAX_PARAMETERS_BYTES = 64 << 10  # method.parameters as compact JSON
MAX_METHOD_TEXT = 1000  # characters of method.name and method.spec
MAX_PATH_CHARS = 1024  # characters of program_file
MAX_COMPONENT_BYTES = 255  # bytes of one component of program_file (the usual file-system limit)
SPLIT_SIZE = MAX_FRESH_SEQUENCES  # sequences per frozen split (bench.data.splits.N_SEQUENCES)
FRACTIONS = ("match_acc", "match_token_acc", "program_acc", "model_acc")
#: What ``bench.evaluate`` writes beside the results that validation ignores (a folder ends in ``/``):
#: the run's own plot (the leaderboard draws its own), tracebacks of failed extractions, diagnostics.
IGNORED = ("match_acc_by_length.png", "errors/", "diagnostics/")
MAX_IGNORED_BYTES = 8 << 20  # one ignored file (the shipped plots are about 220 kB)
MAX_UNEXPECTED_SHOWN = 5  # unexpected files named one by one; the rest are counted


@dataclass(frozen=True)
class Problem:
    """One reason to reject a submission."""

    file: str  # the file at fault, as a path from where the command was run
    field: str  # the field inside it (``models[2].metrics.test_0_50.match_acc``), or "" for the whole file
    message: str
    internal: bool = False  # an unexpected exception in the checks (a bug here), not a finding about the files

    def __str__(self) -> str:
        """One line, every character a submission chose escaped: it cannot forge another line of the report."""
        file, where = schema.printable(self.file, 500), schema.printable(self.field, 500)
        message = schema.printable(self.message, 2000)
        return f"{file}: {where}: {message}" if where else f"{file}: {message}"


@dataclass(frozen=True)
class Options:
    rescore: bool = True  # run every program and model again (off: static checks only)
    fresh_seed: int | None = None  # also score on fresh sequences drawn from this seed
    max_drop: float | None = None  # reject when fresh match_acc is lower than reported by more than this
    allow_limit: bool = False  # accept results scored on part of each split (--limit)
    allow_partial: bool = False  # accept results that leave out zoo models
    reuse: bool = False  # skip re-scoring a folder that a verdict record says was re-scored and accepted as it is
    shard: tuple[int, int] | None = None  # (K, N): re-score only the programs of part K of N of the models


@dataclass(frozen=True)
class FreshRow:
    """Reported against freshly re-sampled ``match_acc`` for one (model, bin)."""

    model: str
    task: str
    bin: str
    n_sequences: int
    reported: float
    fresh: float

    @property
    def drop(self) -> float:
        return self.reported - self.fresh


@dataclass
class Verdict:
    """Everything validation found out about one submission folder."""

    folder: Path
    problems: list[Problem] = field(default_factory=list)
    submission: Submission | None = None
    results: Results | None = None
    programs: dict = field(default_factory=dict)  # model id -> parsed Program
    fresh: list[FreshRow] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)  # the fields of submission.json that have their type
    key: str | None = None  # verdicts.submission_key of the folder, when verdicts are kept
    rescored: bool = False  # its programs were re-scored in this run
    reused: Record | None = None  # the record whose re-scoring was reused instead

    @property
    def ok(self) -> bool:
        return not self.problems and self.submission is not None and self.results is not None

    def add_internal_error(self, exc: BaseException, during: str) -> None:
        """Record an unexpected exception as this submission's problem (the other submissions go on)."""
        self.problems.append(Problem(self.folder.as_posix(), "", f"internal error while {during}: "
                                     f"{type(exc).__name__}: {exc}", internal=True))

    @property
    def internal_error(self) -> bool:
        """Whether checking this submission hit a bug of the checks (the verdict is then incomplete)."""
        return any(p.internal for p in self.problems)

    def entry(self) -> Entry:
        """The leaderboard's view of an accepted submission."""
        if not self.ok:
            raise ValueError(f"{self.folder}: a rejected submission has no leaderboard entry")
        pretty = {model_id: program.pretty() for model_id, program in sorted(self.programs.items())}
        return Entry(self.folder.as_posix(), self.submission, self.results, pretty)


def problem_from_text(file: str, text: str) -> Problem:
    """``"field: message"`` -> Problem; a text without a field path is a whole-file problem."""
    head, sep, rest = text.partition(": ")
    if sep and head and " " not in head:
        return Problem(file, head, rest)
    return Problem(file, "", text)


def quoted(text, limit: int = 100) -> str:
    """A submitted string in a message: quoted, escaped and shortened."""
    return schema.printable(repr(text), limit)


def compare(verdict: Verdict, file: str, where: str, reported, actual, how: str) -> bool:
    """Add a problem unless ``reported`` equals ``actual`` (floats to :data:`TOLERANCE`)."""
    if isinstance(actual, float) and isinstance(reported, (int, float)) and not isinstance(reported, bool):
        same = abs(reported - actual) <= TOLERANCE
    else:
        same = reported == actual and type(reported) is type(actual)
    if not same:
        verdict.problems.append(Problem(file, where, f"reported {reported!r}, {how} {actual!r}"))
    return same
