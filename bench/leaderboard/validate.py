"""Validating submissions: schema, zoo, tasks, programs, and every figure re-scored.

A submission is accepted only if everything it reports can be reproduced from
the files it ships with the benchmark's own code:

1. ``submission.json`` follows :class:`bench.leaderboard.submission.Submission`;
2. ``results.json`` follows :mod:`bench.scoring.results` (``load_results``), uses the
   published success threshold, whole splits (unless ``allow_limit``) and
   every zoo model once (unless ``allow_partial``);
3. every model is a zoo model whose revision, Hub repo, role, task and weights
   sha256 are the manifest's; every task is registered, at the same version,
   with the same split fingerprints;
4. every program file exists inside the folder, has the recorded sha256,
   parses (:class:`bench.program.ProgramError` rejects it, naming the file)
   with its ``.safetensors`` sidecar if it names one (a plain file beside it
   whose sha256 the program records, so the recorded sha256 covers both),
   fits its task, and has the reported ``n_ops``/``depth``/``n_params``;
5. every program is re-scored against its model on the frozen splits with
   the recorded ``limit`` (:func:`bench.scoring.score.score_program`): counts must
   be equal and fractions equal to 1e-9; so must the success flags and the
   summary.

The folder holds nothing else but, optionally, what ``bench.evaluate`` also
writes and validation ignores (:data:`IGNORED`: the run's plot
``match_acc_by_length.png``, ``errors/`` and ``diagnostics/``); any other file
is a problem naming it.

Optionally (``fresh_seed``) programs are also scored on freshly sampled
sequences (:meth:`bench.leaderboard.harness.Harness.score_fresh`); the
difference is reported per model and bin, and rejects only past ``max_drop``.

Every problem is collected, none raised, in one round: the report lists them
all, each as ``<file>: <field>: <what is wrong>``. A field of the wrong type
in ``submission.json`` does not stop the checks of its other fields nor of
``results.json``; a ``models[i]`` entry (or the summary) of the wrong shape in
``results.json`` is reported and every other model is still checked and
re-scored (the zoo coverage, the summary and the folder's files are checked
once ``results.json`` reads whole). Everything in a submission is untrusted:
its JSON files are read within documented limits (:data:`bench.scoring.results.RESULTS_LIMITS`,
:data:`bench.leaderboard.submission.LIMITS`), file names are checked before they
are opened, every string is shown escaped (:func:`bench.scoring.schema.printable`), and an
unexpected exception while checking one submission becomes an ``internal error``
problem of that submission (:attr:`Problem.internal`), never an abort.

Limits on ``results.json`` beyond its schema (the shipped files in brackets):
``method.parameters`` at most :data:`MAX_PARAMETERS_BYTES` bytes as JSON (under 1 kB);
``method.name`` and ``method.spec`` at most :data:`MAX_METHOD_TEXT` characters of
printable text; ``bench_version`` one of :data:`KNOWN_BENCH_VERSIONS`; ``limit``
at least 1; ``n_sequences`` from 1 to the split size :data:`SPLIT_SIZE`; fractions
in [0, 1]; costs finite and non-negative; ``model.source`` ``"zoo"``; ``program_file``
a relative path of printable text, at most :data:`MAX_PATH_CHARS` characters, each
component at most 255 bytes, naming a regular file of at most
:data:`bench.program.errors.MAX_JSON_CHARS` bytes inside the folder; an ignored file
at most :data:`MAX_IGNORED_BYTES` bytes; at most :data:`bench.leaderboard.verdicts.MAX_FILES`
entries in the folder.

Progress (:mod:`bench.leaderboard.progress`): a bar of the programs re-scored,
and one line per submission. Verdicts of accepted re-scorings can be kept
(:mod:`bench.leaderboard.verdicts`) so that ``build`` does not re-score them again.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import bench
from bench.leaderboard.harness import MAX_FRESH_SEQUENCES
from bench.leaderboard.progress import Progress
from bench.leaderboard.submission import (
    RESULTS_FILE,
    SUBMISSION_FILE,
    Submission,
    SubmissionError,
    read_submission,
    recorded_lengths,
)
from bench.leaderboard.tables import Entry, slug
from bench.leaderboard.verdicts import MAX_FILES, Record, VerdictCache, submission_key
from bench.models.predictions import PredictionsError
from bench.scoring import schema, untrusted_json
from bench.scoring.results import BINS, RESULTS_LIMITS, BinMetrics, ModelResult, Results, ResultsError, load_results
from bench.scoring.score import is_success, summarize

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


# ----- one submission -----------------------------------------------------------------


def validate_submission(folder: Path, harness, options: Options = Options()) -> Verdict:
    """Check one submission folder; never raises for anything wrong in the folder."""
    verdict, checks = _static_checks(Path(folder), harness, options)
    _rescore(checks, harness)
    return verdict


def _internal(verdict: Verdict, exc: BaseException, during: str) -> None:
    """Record an unexpected exception as this submission's problem (the other submissions go on)."""
    verdict.problems.append(Problem(verdict.folder.as_posix(), "", f"internal error while {during}: "
                                    f"{type(exc).__name__}: {exc}", internal=True))


def _static_checks(folder: Path, harness, options: Options) -> tuple[Verdict, list[_ModelCheck]]:
    """Everything but running programs; returns the model checks whose programs can be re-scored."""
    verdict = Verdict(folder)
    try:
        return verdict, _static_checks_of(verdict, harness, options)
    except Exception as exc:  # noqa: BLE001 -- a bug met on hostile input rejects this submission only
        _internal(verdict, exc, "checking the files")
        return verdict, []


def _static_checks_of(verdict: Verdict, harness, options: Options) -> list[_ModelCheck]:
    folder = verdict.folder
    if not folder.is_dir():
        verdict.problems.append(Problem(folder.as_posix(), "", "not a folder"))
        return []
    manifest_file = (folder / SUBMISSION_FILE).as_posix()
    try:
        verdict.submission = read_submission(folder / SUBMISSION_FILE)
        verdict.manifest = dataclasses.asdict(verdict.submission)
    except SubmissionError as exc:
        verdict.problems += [_problem(manifest_file, p) for p in exc.problems]
        verdict.manifest = exc.fields
    read = _read_results(verdict)
    if read is None:
        return []
    indices, whole = read
    _check_run(verdict, harness, options, whole)
    checks = [_ModelCheck(verdict, i, result, harness, options) for i, result in zip(indices, verdict.results.models)]
    ready = [check for check in checks if check.static()]
    repeats = collections.Counter(check.result.model.id for check in ready)
    ready = [check for check in ready if repeats[check.result.model.id] == 1]  # a repeated model is a rejection already
    if whole:
        _check_summary(verdict)
        _check_files(verdict)
    wanted = options.rescore or options.fresh_seed is not None
    return ready if wanted else []


def _read_results(verdict: Verdict) -> tuple[list[int], bool] | None:
    """Load ``results.json`` into the verdict, as much of it as has its schema: the index in the file of
    every model loaded and whether that is the whole file; None when nothing can be checked (the problems
    are recorded)."""
    path = verdict.folder / RESULTS_FILE
    if not os.path.lexists(path):
        verdict.problems.append(Problem(path.as_posix(), "", "missing file (write it with python -m bench.evaluate "
                                        "--out)"))
        return None
    try:
        verdict.results = load_results(path)
        return list(range(len(verdict.results.models))), True
    except ResultsError as exc:
        verdict.problems += [_problem(path.as_posix(), p) for p in exc.problems]
        partial = _partial_results(path, exc.problems)
    if partial is None:
        return None
    verdict.results, indices, total = partial
    verdict.problems.append(Problem(path.as_posix(), "", f"read in part: the model entries without a problem above "
                                    f"({len(indices)} of {total}) were checked; the zoo coverage, the summary and the "
                                    "folder's files are checked once results.json reads whole"))
    return indices, False


_MODEL_FIELD = re.compile(r"models\[([0-9]+)\]")


def _partial_results(path: Path, problems: list[str]) -> tuple[Results, list[int], int] | None:
    """The results without the ``models[i]`` entries (and summary) that ``problems`` name, the indices kept and
    the number of entries; None when a problem lies elsewhere (the run's own fields: nothing can be checked
    without them)."""
    bad_models, bad_summary = set(), False
    for problem in problems:
        field_path = problem.partition(": ")[0]
        found = _MODEL_FIELD.match(field_path)
        if found and field_path[found.end():found.end() + 1] in ("", ".", "["):
            bad_models.add(int(found.group(1)))
        elif field_path == "summary" or field_path.startswith(("summary.", "summary[")):
            bad_summary = True
        else:
            return None
    try:
        data = untrusted_json.read_json(path, RESULTS_LIMITS)
        total = len(data["models"])
        kept = [i for i in range(total) if i not in bad_models]
        data = {**data, "models": [data["models"][i] for i in kept], **({"summary": None} if bad_summary else {})}
        return schema.load(data, Results, "results"), kept, total
    except (untrusted_json.JsonInputError, schema.SchemaError, OSError, KeyError, TypeError):
        return None


def _rescore(checks: list[_ModelCheck], harness, progress: Progress | None = None, jobs: int = 1) -> None:
    """Run the programs, model by model: each model's batches are made once for every submission that uses it.

    With ``jobs > 1`` the programs are scored first in that many worker processes (one model
    at a time per worker, the most expensive first); the checks then compare as usual.
    ``progress`` is told of every program scored and checked.
    """
    progress = progress or Progress(quiet=True)
    by_model: dict[str, list[_ModelCheck]] = {}
    programs: dict[str, int] = {}
    for check in checks:
        by_model.setdefault(check.result.model.id, []).append(check)
        programs[check.folder] = programs.get(check.folder, 0) + 1
    progress.rescoring(programs)
    try:
        ahead = jobs > 1 and any(c.options.rescore for c in checks) and _score_ahead(by_model, harness, jobs, progress)
        for model_id in sorted(by_model):
            if not ahead:
                progress.model(model_id)
            for check in by_model[model_id]:
                try:
                    check.rescore()
                except Exception as exc:  # noqa: BLE001 -- as in _static_checks
                    _internal(check.verdict, exc, f"re-scoring {check.where}")
                if not ahead:
                    progress.scored()
                progress.program_done(check.folder)
    finally:
        progress.close()


_AHEAD: dict[str, list[_ModelCheck]] = {}  # the work of _score_ahead, inherited by its forked workers
_AHEAD_SCORED = None  # the programs the workers scored, shared with the parent (a multiprocessing.Value)


def _score_model(model_id: str) -> tuple[str, list]:
    """Worker: every program of one model scored (outcomes in check order); a model that fails to load gives None."""
    from bench.models.model import ModelError

    checks = _AHEAD[model_id]
    try:
        checks[0].harness.load_model(model_id)
    except ModelError:
        with _AHEAD_SCORED.get_lock():
            _AHEAD_SCORED.value += len(checks)
        return model_id, [None] * len(checks)  # rescore() reports it, in the parent
    outcomes = []
    for check in checks:
        outcomes.append(check.score())
        with _AHEAD_SCORED.get_lock():  # the parent's progress bar reads it
            _AHEAD_SCORED.value += 1
    return model_id, outcomes


def _score_ahead(by_model: dict[str, list[_ModelCheck]], harness, jobs: int, progress: Progress) -> bool:
    """Score every program in ``jobs`` forked processes and keep the outcomes on the checks; False
    where processes cannot be forked (Windows: :func:`_rescore` scores in this process)."""
    import multiprocessing

    global _AHEAD_SCORED
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    cost = {m: sum(c.program.n_params + 1000 for c in cs) * max(c.task.n_positions for c in cs)
            for m, cs in by_model.items()}
    order = sorted(by_model, key=lambda m: -cost[m])
    context = multiprocessing.get_context("fork")
    _AHEAD.clear()
    _AHEAD.update(by_model)
    _AHEAD_SCORED = context.Value("q", 0)
    try:
        with context.Pool(min(jobs, len(order))) as pool:
            pending = pool.imap_unordered(_score_model, order)
            for done in range(1, len(order) + 1):
                model_id, outcomes = _next_outcome(pending, progress)
                for check, outcome in zip(by_model[model_id], outcomes):
                    check.scored = outcome
                progress.scored_until(_AHEAD_SCORED.value)
                progress.model(f"{done}/{len(order)} models done")
    finally:
        _AHEAD.clear()
        _AHEAD_SCORED = None
    return True


def _next_outcome(pending, progress: Progress):
    """The next model a worker finished; meanwhile the bar follows the workers' shared count."""
    import multiprocessing

    while True:
        try:
            return pending.next(timeout=0.5)
        except multiprocessing.TimeoutError:
            progress.scored_until(_AHEAD_SCORED.value)


def _problem(file: str, text: str) -> Problem:
    """``"field: message"`` -> Problem; a text without a field path is a whole-file problem."""
    head, sep, rest = text.partition(": ")
    if sep and head and " " not in head:
        return Problem(file, head, rest)
    return Problem(file, "", text)


def _check_run(verdict: Verdict, harness, options: Options, whole: bool = True) -> None:
    """Run-level checks: threshold, limit, coverage of the zoo (``whole`` results only), consistency with
    submission.json."""
    results, file = verdict.results, (verdict.folder / RESULTS_FILE).as_posix()
    add = verdict.problems.append
    _check_manifest_against_results(verdict)
    if results.bench_version not in KNOWN_BENCH_VERSIONS:
        add(Problem(file, "bench_version", f"{_shown(results.bench_version)} is not a rasp-bench version "
                    f"(known: {', '.join(KNOWN_BENCH_VERSIONS)})"))
    for name in ("name", "spec"):
        text = getattr(results.method, name)
        bad = schema.bad_character(text)
        if len(text) > MAX_METHOD_TEXT:
            add(Problem(file, f"method.{name}", f"longer than {MAX_METHOD_TEXT} characters ({len(text):,})"))
        elif bad:
            add(Problem(file, f"method.{name}", f"contains {bad}; only printable text is allowed"))
    size = len(json.dumps(results.method.parameters, separators=(",", ":")))
    if size > MAX_PARAMETERS_BYTES:
        add(Problem(file, "method.parameters", f"{size:,} bytes as JSON, over the limit of {MAX_PARAMETERS_BYTES:,}"))
    if results.limit is not None and results.limit < 1:
        add(Problem(file, "limit", f"{results.limit} is not a number of sequences (at least 1, or null)"))
    if results.match_threshold != PUBLISHED_THRESHOLD:
        add(Problem(file, "match_threshold",
                    f"{results.match_threshold!r}; the leaderboard uses the published criterion {PUBLISHED_THRESHOLD}"))
    if results.limit is not None and not options.allow_limit:
        add(Problem(file, "limit", f"scored on the first {results.limit} sequences of each bin; "
                    "the leaderboard needs whole splits (run bench.evaluate without --limit)"))
    if not results.models:
        add(Problem(file, "models", "no model was evaluated"))
    ids = [m.model.id for m in results.models]
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    for model_id in sorted(i for i, n in counts.items() if n > 1):
        add(Problem(file, "models", f"model {_shown(model_id)} appears {counts[model_id]} times"))
    missing = sorted(set(harness.zoo) - set(ids))
    if whole and missing and not options.allow_partial:
        add(Problem(file, "models", f"missing zoo models {', '.join(missing)} (the leaderboard compares "
                    "methods on the whole zoo; run bench.evaluate without --tasks/--models)"))


def _check_manifest_against_results(verdict: Verdict) -> None:
    """submission.json's ``bench_version`` is results.json's; its ``lengths_seen`` covers the lengths that
    results.json records the method looked at (when it records them)."""
    manifest, results = verdict.manifest, verdict.results
    file = (verdict.folder / SUBMISSION_FILE).as_posix()
    version = manifest.get("bench_version")
    if version is not None and version != results.bench_version:
        verdict.problems.append(Problem(file, "bench_version", f"{_shown(version)} differs from results.json's "
                                        f"{_shown(results.bench_version)}"))
    claimed, recorded = manifest.get("lengths_seen"), recorded_lengths(results)
    if claimed is None or recorded is None or claimed == "all":
        return
    if recorded == "all" or not (len(claimed) == 2 and claimed[0] <= recorded[0] and recorded[1] <= claimed[1]):
        shown = "every length" if recorded == "all" else f"lengths {recorded[0]}-{recorded[1]}"
        verdict.problems.append(Problem(file, "lengths_seen", f"{_shown(claimed)}, but results.json records that the "
                                        f"method looked at {shown}; lengths_seen must cover them"))


def _check_files(verdict: Verdict) -> None:
    """Nothing in the folder but the manifest, results.json, its programs and their sidecars, and :data:`IGNORED`."""
    folder = verdict.folder
    expected = {SUBMISSION_FILE, RESULTS_FILE}
    for m in verdict.results.models:
        if m.program_file is not None:
            expected |= _program_files(m.program_file)
    try:
        found = _folder_files(folder)
    except OSError as exc:
        verdict.problems.append(Problem(folder.as_posix(), "", f"cannot be listed ({exc.strerror or exc})"))
        return
    if found is None:
        verdict.problems.append(Problem(folder.as_posix(), "", f"holds more than {MAX_FILES:,} files"))
        return
    unexpected = []
    for name, size in found:
        if name in expected:
            continue
        if any(name == kept or (kept.endswith("/") and name.startswith(kept)) for kept in IGNORED):
            if size > MAX_IGNORED_BYTES:
                verdict.problems.append(Problem((folder / name).as_posix(), "", f"{size:,} bytes, over the limit of "
                                                f"{MAX_IGNORED_BYTES:,} for a file that validation ignores"))
            continue
        unexpected.append(name)
    for name in unexpected[:MAX_UNEXPECTED_SHOWN]:
        verdict.problems.append(Problem((folder / name).as_posix(), "", "not part of a submission, remove it (a "
                                        f"submission holds {SUBMISSION_FILE}, {RESULTS_FILE}, the programs it names "
                                        f"with their .safetensors sidecars, and optionally {', '.join(IGNORED)})"))
    if len(unexpected) > MAX_UNEXPECTED_SHOWN:
        verdict.problems.append(Problem(folder.as_posix(), "", f"{len(unexpected) - MAX_UNEXPECTED_SHOWN} more files "
                                        "that are not part of a submission"))


def _program_files(name: str) -> set[str]:
    """A program file and the sidecar that ``bench.evaluate`` writes beside it (same stem, ``.safetensors``)."""
    program = PurePosixPath(name)
    try:
        return {program.as_posix(), program.with_suffix(".safetensors").as_posix()}
    except ValueError:  # no file name to give a suffix ("."): check_program reports the path
        return {program.as_posix()}


def _folder_files(folder: Path) -> list[tuple[str, int]] | None:
    """(relative path, size) of every entry under ``folder`` that is not a folder, sorted; links are not
    followed; None past :data:`MAX_FILES` entries."""
    found, stack, seen = [], [folder], 0
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                seen += 1
                if seen > MAX_FILES:
                    return None
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    size = entry.stat(follow_symlinks=False).st_size
                    found.append((Path(entry.path).relative_to(folder).as_posix(), size))
    return sorted(found)


def _check_summary(verdict: Verdict) -> None:
    results, file = verdict.results, (verdict.folder / RESULTS_FILE).as_posix()
    if results.summary is None:
        verdict.problems.append(Problem(file, "summary", "missing"))
        return
    expected = dataclasses.asdict(summarize(results.models))
    reported = dataclasses.asdict(results.summary)
    for name, value in expected.items():
        if isinstance(value, dict):
            for key, v in value.items():
                _compare(verdict, file, f"summary.{name}.{key}", reported[name].get(key), v, "recomputed")
        else:
            _compare(verdict, file, f"summary.{name}", reported[name], value, "recomputed")


def _shown(text, limit: int = 100) -> str:
    """A submitted string in a message: quoted, escaped and shortened."""
    return schema.printable(repr(text), limit)


def _compare(verdict: Verdict, file: str, where: str, reported, actual, how: str) -> bool:
    """Add a problem unless ``reported`` equals ``actual`` (floats to :data:`TOLERANCE`)."""
    if isinstance(actual, float) and isinstance(reported, (int, float)) and not isinstance(reported, bool):
        same = abs(reported - actual) <= TOLERANCE
    else:
        same = reported == actual and type(reported) is type(actual)
    if not same:
        verdict.problems.append(Problem(file, where, f"reported {reported!r}, {how} {actual!r}"))
    return same


class _ModelCheck:
    """The checks of one ``models[i]`` entry; each step records problems and says whether to go on."""

    def __init__(self, verdict: Verdict, index: int, result: ModelResult, harness, options: Options):
        self.verdict, self.result, self.harness, self.options = verdict, result, harness, options
        self.where = f"models[{index}]"
        self.file = (verdict.folder / RESULTS_FILE).as_posix()
        self.task = self.program = None
        self.scored = None  # score()'s outcome when it was computed ahead, in a worker process

    @property
    def folder(self) -> str:
        return self.verdict.folder.as_posix()

    def add(self, where: str, message: str, file: str | None = None) -> None:
        self.verdict.problems.append(Problem(file or self.file, f"{self.where}.{where}" if where else self.where, message))

    def static(self) -> bool:
        """Every check short of running the program; whether the program can be re-scored."""
        known_model = self.check_model()
        known_task = self.check_task()
        self.check_cost()
        if self.result.status == "error":
            self.check_failure_record()
            return False
        return self.check_program() and known_model and known_task

    def check_model(self) -> bool:
        info = self.result.model
        entry = self.harness.zoo.get(info.id)
        if entry is None:
            self.add("model.id", f"{_shown(info.id)} is not a zoo model (known: {', '.join(sorted(self.harness.zoo)) or 'none'})")
            return False
        before = len(self.verdict.problems)
        if info.source != "zoo":
            self.add("model.source", f"{info.source!r}, but {info.id} is a zoo model: the source must be 'zoo'")
        for name, expected in (("revision", entry.revision), ("weights_sha256", entry.weights_sha256),
                               ("hub_repo", entry.hub_repo), ("role", entry.role)):
            reported = getattr(info, name)
            if reported != expected:
                self.add(f"model.{name}", f"{_shown(reported)} is not the zoo's {expected!r} for {info.id}")
        if self.result.task.name != entry.task:
            self.add("task.name", f"{_shown(self.result.task.name)}, but zoo model {info.id} is for task {entry.task!r}")
        return len(self.verdict.problems) == before

    def check_task(self) -> bool:
        from bench.data.task import TaskError

        reported = self.result.task
        try:
            task = self.harness.task(reported.name)
        except TaskError as exc:
            self.add("task.name", str(exc))
            return False
        before = len(self.verdict.problems)
        if reported.version != task.version:
            self.add("task.version", f"{_shown(reported.version)} is not the current version {task.version!r} of {task.name}")
        if reported.kind != task.kind:
            self.add("task.kind", f"{reported.kind!r} is not {task.name}'s kind {task.kind!r}")
        current = self.harness.fingerprints(task)
        for bin_name in sorted(set(reported.split_fingerprints) | set(BINS)):
            got, want = reported.split_fingerprints.get(bin_name), current.get(bin_name)
            if got != want:
                what = "unknown bin" if want is None else "missing" if got is None else (
                    f"{schema.printable(got[:12])}... does not match the current frozen split {want[:12]}...")
                self.add(schema.join("task.split_fingerprints", bin_name), what)
        self.task = task
        return len(self.verdict.problems) == before

    def check_cost(self) -> None:
        cost = self.result.cost
        for name in ("extract_seconds", "peak_memory_mb"):
            value = getattr(cost, name) if cost is not None else 0.0
            if not value >= 0.0:  # finite already (the schema)
                self.add(f"cost.{name}", f"{value!r} is negative")

    def check_failure_record(self) -> None:
        r = self.result
        if r.program_file is not None or r.metrics or r.size is not None or r.success:
            self.add("status", "a failed extraction ('error') reports no program, metrics, size or success")
        if not r.error:
            self.add("error", "status 'error' needs the error message")

    def check_program(self) -> bool:
        """The file is inside the folder, unchanged, parses, fits the task and has the reported size."""
        from bench.data.task import TaskError
        from bench.program import ProgramError

        r = self.result
        if r.program_file is None or r.program_sha256 is None:
            self.add("program_file", "status 'ok' needs program_file and program_sha256")
            return False
        raw = self.read_program_file()
        if raw is None:
            return False
        path = self.verdict.folder / r.program_file
        shown = path.as_posix()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != r.program_sha256:
            self.add("program_sha256", f"{_shown(r.program_sha256[:12])}... but {r.program_file} has sha256 {digest[:12]}...")
            return False
        try:
            program = self.harness.parse_program(raw, path.resolve().parent, path.name)
        except ProgramError as exc:
            self.verdict.problems.append(Problem(shown, "", f"program does not parse: {exc}"))
            return False
        if self.task is not None:
            try:
                self.harness.check_program_fits(program, self.task)
            except TaskError as exc:
                self.add("program_file", f"{r.program_file} does not fit the task: {exc}")
                return False
            try:  # from the declared shapes, before anything runs (bench.program.cost)
                self.harness.check_cost(program, self.task)
            except ProgramError as exc:
                self.add("program_file", f"{r.program_file} is over the scoring limits: {exc}")
                return False
        self.check_size(program)
        complete = self.check_reported_metrics()
        self.verdict.programs[r.model.id] = program
        self.program = program
        return complete  # a wrong size or success flag is reported; re-scoring still runs

    def read_program_file(self) -> bytes | None:
        """The bytes of ``program_file``, checked as a name before anything is opened; None after a problem."""
        from bench.program.errors import MAX_JSON_CHARS

        name = self.result.program_file
        if len(name) > MAX_PATH_CHARS:
            self.add("program_file", f"longer than {MAX_PATH_CHARS} characters ({len(name):,})")
            return None
        bad = schema.bad_character(name)
        if bad:
            self.add("program_file", f"{_shown(name)} contains {bad}; only printable text is allowed")
            return None
        pure = PurePosixPath(name)
        if pure.is_absolute() or "\\" in name or ".." in pure.parts:
            self.add("program_file", f"{_shown(name)} is not a path inside the submission folder")
            return None
        long = [part for part in pure.parts if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES]
        if long:
            self.add("program_file", f"{_shown(name)} has a component of {len(long[0].encode('utf-8')):,} bytes "
                     f"(at most {MAX_COMPONENT_BYTES})")
            return None
        path = self.verdict.folder / name
        try:
            if self.verdict.folder.resolve() not in path.resolve().parents:
                self.add("program_file", f"{_shown(name)} is not a path inside the submission folder")
                return None
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                self.add("program_file", f"{_shown(name)} is not a regular file")
                return None
            if info.st_size > MAX_JSON_CHARS:
                self.add("program_file", f"{_shown(name)} has {info.st_size:,} bytes, over the limit of {MAX_JSON_CHARS:,}")
                return None
            with open(path, "rb") as handle:
                raw = handle.read(MAX_JSON_CHARS + 1)
        except FileNotFoundError:
            self.add("program_file", f"{_shown(name)} does not exist")
            return None
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name the system refuses
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.add("program_file", f"{_shown(name)} cannot be read ({reason})")
            return None
        if len(raw) > MAX_JSON_CHARS:
            self.add("program_file", f"{_shown(name)} has more than {MAX_JSON_CHARS:,} bytes, over the limit")
            return None
        return raw

    def check_size(self, program) -> None:
        if self.result.size is None:
            self.add("size", "missing for a program")
            return
        for name in ("n_ops", "depth", "n_params"):
            _compare(self.verdict, self.file, f"{self.where}.size.{name}",
                     getattr(self.result.size, name), int(getattr(program, name)), "recomputed")

    def check_reported_metrics(self) -> bool:
        """Every bin is reported (else there is nothing to re-score), its figures are in range, and the
        success flag follows from them."""
        r = self.result
        if set(r.metrics) != set(BINS):
            self.add("metrics", f"bins {_shown(sorted(r.metrics), 300)} are not {list(BINS)}")
            return False
        in_range = True
        for bin_name in BINS:
            m = r.metrics[bin_name]
            if not 1 <= m.n_sequences <= SPLIT_SIZE:
                self.add(f"metrics.{bin_name}.n_sequences", f"{m.n_sequences} is not a number of sequences "
                         f"from 1 to the split's {SPLIT_SIZE}")
                in_range = False
            for name in FRACTIONS:
                if not 0.0 <= getattr(m, name) <= 1.0:
                    self.add(f"metrics.{bin_name}.{name}", f"{getattr(m, name)!r} is not a fraction in [0, 1]")
                    in_range = False
        expected = is_success(r.metrics, self.verdict.results.match_threshold)
        _compare(self.verdict, self.file, f"{self.where}.success", r.success, expected, "recomputed")
        return in_range

    def rescore(self) -> None:
        """Re-score on the frozen splits (and fresh sequences, if asked) against the loaded model."""
        from bench.models.model import ModelError

        r = self.result
        try:
            digest = self.harness.load_model(r.model.id)
        except ModelError as exc:
            self.add("model.id", f"cannot load the reference model: {exc}")
            return
        if digest != r.model.weights_sha256:
            self.add("model.weights_sha256", f"{r.model.weights_sha256[:12]}... but the loaded weights are {digest[:12]}...")
            return
        if self.options.rescore:
            outcome = self.scored if self.scored is not None else self.score()
            if isinstance(outcome, Problem):
                self.verdict.problems.append(outcome)
                return
            for bin_name in BINS:
                for f in dataclasses.fields(BinMetrics):
                    _compare(self.verdict, self.file, f"{self.where}.metrics.{bin_name}.{f.name}",
                             getattr(r.metrics[bin_name], f.name), getattr(outcome[bin_name], f.name), "re-scored")
        if self.options.fresh_seed is not None:
            self.fresh()

    def score(self) -> dict[str, BinMetrics] | Problem:
        """The program's metrics against the current model's stored predictions, or the problem that stopped it."""
        r = self.result
        try:
            return self.harness.score(self.program, self.task, self.verdict.results.limit)
        except PredictionsError as exc:
            return Problem(self.file, f"{self.where}.model.id", f"cannot use the reference model's stored predictions: {exc}")
        except Exception as exc:  # noqa: BLE001 -- an untrusted program that breaks the interpreter is a rejection
            return Problem(self.file, f"{self.where}.program_file",
                           f"re-scoring {r.program_file} failed: {type(exc).__name__}: {exc}")

    def fresh(self) -> None:
        r = self.result
        sizes = {b: r.metrics[b].n_sequences for b in BINS}
        outside = sorted(b for b, n in sizes.items() if not 1 <= n <= SPLIT_SIZE)
        if outside:  # check_reported_metrics refuses these first; never sample a number a submission chose
            self.add(f"metrics.{outside[0]}.n_sequences", f"{sizes[outside[0]]} is not a number of sequences "
                     f"from 1 to the split's {SPLIT_SIZE}; not scored on fresh sequences")
            return
        try:
            metrics = self.harness.score_fresh(self.program, self.task, sizes, self.options.fresh_seed)
        except Exception as exc:  # noqa: BLE001 -- as in rescore
            self.add("program_file", f"scoring {r.program_file} on fresh sequences failed: {type(exc).__name__}: {exc}")
            return
        for bin_name in BINS:
            row = FreshRow(r.model.id, r.task.name, bin_name, sizes[bin_name],
                           r.metrics[bin_name].match_acc, metrics[bin_name].match_acc)
            self.verdict.fresh.append(row)
            if self.options.max_drop is not None and row.drop > self.options.max_drop:
                self.add(f"metrics.{bin_name}.match_acc",
                         f"reported {row.reported:.4f}, {row.fresh:.4f} on fresh sequences (seed "
                         f"{self.options.fresh_seed}): drop {row.drop:.4f} > --max-drop {self.options.max_drop}")


# ----- many submissions -------------------------------------------------------------------


def submission_folders(root: Path) -> list[Path]:
    """Every submission folder under ``root`` (its subfolders), sorted by name."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def validate_all(folders: list[Path], harness, options: Options = Options(), progress: Progress | None = None,
                 jobs: int = 1, verdicts_kept: VerdictCache | None = None) -> list[Verdict]:
    """Validate every folder (programs re-scored model by model), then reject shared method names.

    ``progress`` shows the bars and one line per submission (none by default); ``jobs`` worker
    processes score the programs (the verdicts do not depend on it). With ``verdicts_kept`` every
    accepted re-scoring is recorded there, and with ``options.reuse`` a folder recorded as it is
    now is not re-scored again (its static checks still run).
    """
    progress = progress or Progress(quiet=True)
    verdicts, checks = [], []
    for folder in progress.checking(list(folders)):
        verdict, ready = _static_checks(Path(folder), harness, options)
        verdicts.append(verdict)
        if verdicts_kept is not None and options.rescore and ready:
            verdict.key = submission_key(verdict.folder, harness.zoo)
            if options.reuse and options.fresh_seed is None:
                verdict.reused = verdicts_kept.find(verdict.key)
                ready = [] if verdict.reused else ready
        verdict.rescored = bool(ready) and options.rescore
        if not ready:
            progress.line(_unscored_line(verdict, options))
        checks += ready
    if options.shard is not None:  # bench.leaderboard.shards: the other parts are other jobs' work
        from bench.leaderboard.shards import shard_models

        part = shard_models([c.result.model.id for c in checks], *options.shard)
        checks = [c for c in checks if c.result.model.id in part]
    _rescore(checks, harness, progress, jobs)
    _reject_shared_names(verdicts)
    if verdicts_kept is not None:
        for v in verdicts:
            if v.ok and v.rescored:
                verdicts_kept.record(v.key, v.folder.as_posix(), v.submission.method, len(v.programs))
    return verdicts


def _unscored_line(verdict: Verdict, options: Options) -> str:
    """The progress line of a submission whose checks end with the static ones."""
    folder = verdict.folder.as_posix()
    if verdict.reused is not None:
        return (f"checked {folder}: re-scoring reused ({verdict.reused.programs} programs re-scored and accepted "
                f"{verdict.reused.validated}, files unchanged)")
    if not options.rescore:
        return f"checked {folder}: static checks only (--no-rescore)"
    n = len(verdict.problems)
    return f"checked {folder}: nothing to re-score ({n} problem{'s' * (n != 1)})"


def _reject_shared_names(verdicts: list[Verdict]) -> None:
    """Two submissions with one method name (as the leaderboard's slug sees it) are both rejected."""
    owners: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.submission is not None:
            owners.setdefault(slug(v.submission.method), []).append(v)
    for shared in owners.values():
        if len(shared) > 1:
            for v in shared:
                others = ", ".join(o.folder.as_posix() for o in shared if o is not v)
                v.problems.append(Problem((v.folder / SUBMISSION_FILE).as_posix(), "method",
                                          f"{v.submission.method!r} is also the method of {others}; names must be unique"))
