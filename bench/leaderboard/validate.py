"""Validating submissions: schema, zoo, tasks, programs, and every figure re-scored.

A submission is accepted only if everything it reports can be reproduced from
the files it ships with the benchmark's own code:

1. ``submission.json`` follows :class:`bench.leaderboard.submission.Submission`;
2. ``results.json`` follows :mod:`bench.results` (``load_results``), uses the
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
   the recorded ``limit`` (:func:`bench.scoring.score_program`): counts must
   be equal and fractions equal to 1e-9; so must the success flags and the
   summary.

Optionally (``fresh_seed``) programs are also scored on freshly sampled
sequences (:meth:`bench.leaderboard.harness.Harness.score_fresh`); the
difference is reported per model and bin, and rejects only past ``max_drop``.

Every problem is collected, none raised: the report lists them all, each as
``<file>: <field>: <what is wrong>``. Everything in a submission is untrusted:
its JSON files are read within documented limits (:data:`bench.results.RESULTS_LIMITS`,
:data:`bench.leaderboard.submission.LIMITS`), file names are checked before they
are opened, every string is shown escaped (:func:`bench.schema.printable`), and an
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
:data:`bench.program.errors.MAX_JSON_CHARS` bytes inside the folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import bench
from bench import schema
from bench.leaderboard.harness import MAX_FRESH_SEQUENCES
from bench.leaderboard.submission import (
    RESULTS_FILE,
    SUBMISSION_FILE,
    Submission,
    SubmissionError,
    read_submission,
)
from bench.leaderboard.tables import Entry, slug
from bench.predictions import PredictionsError
from bench.results import BINS, BinMetrics, ModelResult, Results, ResultsError, load_results
from bench.scoring import is_success, summarize

PUBLISHED_THRESHOLD = 0.9
TOLERANCE = 1e-9

#: rasp-bench versions whose results the leaderboard reads (every released one; the running one).
KNOWN_BENCH_VERSIONS = tuple(sorted({"0.1.0", bench.__version__}))
MAX_PARAMETERS_BYTES = 64 << 10  # method.parameters as compact JSON
MAX_METHOD_TEXT = 1000  # characters of method.name and method.spec
MAX_PATH_CHARS = 1024  # characters of program_file
MAX_COMPONENT_BYTES = 255  # bytes of one component of program_file (the usual file-system limit)
SPLIT_SIZE = MAX_FRESH_SEQUENCES  # sequences per frozen split (bench.splits.N_SEQUENCES)
FRACTIONS = ("match_acc", "match_token_acc", "program_acc", "model_acc")


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
    except SubmissionError as exc:
        verdict.problems += [_problem(manifest_file, p) for p in exc.problems]
    results_file = (folder / RESULTS_FILE).as_posix()
    if not os.path.lexists(folder / RESULTS_FILE):
        verdict.problems.append(Problem(results_file, "", "missing file (write it with python -m bench.evaluate --out)"))
        return []
    try:
        verdict.results = load_results(folder / RESULTS_FILE)
    except ResultsError as exc:
        verdict.problems += [_problem(results_file, p) for p in exc.problems]
        return []
    _check_run(verdict, harness, options)
    checks = [_ModelCheck(verdict, i, result, harness, options) for i, result in enumerate(verdict.results.models)]
    ready = [check for check in checks if check.static()]
    _check_summary(verdict)
    wanted = options.rescore or options.fresh_seed is not None
    return ready if wanted else []


def _rescore(checks: list[_ModelCheck], harness, progress=None, jobs: int = 1) -> None:
    """Run the programs, model by model: each model's batches are made once for every submission that uses it.

    With ``jobs > 1`` the programs are scored first in that many worker processes (one model
    at a time per worker, the most expensive first); the checks then compare as usual.
    """
    by_model: dict[str, list[_ModelCheck]] = {}
    for check in checks:
        by_model.setdefault(check.result.model.id, []).append(check)
    if jobs > 1 and any(c.options.rescore for c in checks):
        _score_ahead(by_model, harness, jobs, progress)
    for model_id in sorted(by_model):
        if progress:
            progress(f"re-scoring {len(by_model[model_id])} program(s) of {model_id}")
        for check in by_model[model_id]:
            try:
                check.rescore()
            except Exception as exc:  # noqa: BLE001 -- as in _static_checks
                _internal(check.verdict, exc, f"re-scoring {check.where}")


_AHEAD: dict[str, list[_ModelCheck]] = {}  # the work of _score_ahead, inherited by its forked workers


def _score_model(model_id: str) -> tuple[str, list]:
    """Worker: every program of one model scored (outcomes in check order); a model that fails to load gives None."""
    from bench.model import ModelError

    checks = _AHEAD[model_id]
    try:
        checks[0].harness.load_model(model_id)
    except ModelError:
        return model_id, [None] * len(checks)  # rescore() reports it, in the parent
    return model_id, [check.score() for check in checks]


def _score_ahead(by_model: dict[str, list[_ModelCheck]], harness, jobs: int, progress=None) -> None:
    """Score every program in ``jobs`` forked processes and keep the outcomes on the checks."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return  # no fork (Windows): _rescore scores in this process
    cost = {m: sum(c.program.n_params + 1000 for c in cs) * max(c.task.n_positions for c in cs)
            for m, cs in by_model.items()}
    order = sorted(by_model, key=lambda m: -cost[m])
    _AHEAD.clear()
    _AHEAD.update(by_model)
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(order))) as pool:
            for done, (model_id, outcomes) in enumerate(pool.imap_unordered(_score_model, order), 1):
                for check, outcome in zip(by_model[model_id], outcomes):
                    check.scored = outcome
                if progress:
                    progress(f"scored {len(outcomes)} program(s) of {model_id} ({done}/{len(order)})")
    finally:
        _AHEAD.clear()


def _problem(file: str, text: str) -> Problem:
    """``"field: message"`` -> Problem; a text without a field path is a whole-file problem."""
    head, sep, rest = text.partition(": ")
    if sep and head and " " not in head:
        return Problem(file, head, rest)
    return Problem(file, "", text)


def _check_run(verdict: Verdict, harness, options: Options) -> None:
    """Run-level checks: threshold, limit, coverage of the zoo, consistency with submission.json."""
    results, file = verdict.results, (verdict.folder / RESULTS_FILE).as_posix()
    add = verdict.problems.append
    if verdict.submission and verdict.submission.bench_version != results.bench_version:
        add(Problem((verdict.folder / SUBMISSION_FILE).as_posix(), "bench_version",
                    f"{verdict.submission.bench_version!r} differs from results.json's {_shown(results.bench_version)}"))
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
    if missing and not options.allow_partial:
        add(Problem(file, "models", f"missing zoo models {', '.join(missing)} (the leaderboard compares "
                    "methods on the whole zoo; run bench.evaluate without --tasks/--models)"))


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
        from bench.task import TaskError

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
        from bench.program import ProgramError
        from bench.task import TaskError

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
        from bench.model import ModelError

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


def validate_all(folders: list[Path], harness, options: Options = Options(), progress=None,
                 jobs: int = 1) -> list[Verdict]:
    """Validate every folder (programs re-scored model by model), then reject shared method names.

    ``progress``, if given, is called with a line of text before each step; ``jobs`` worker
    processes score the programs (the verdicts do not depend on it).
    """
    verdicts, checks = [], []
    for folder in folders:
        if progress:
            progress(f"checking {Path(folder).as_posix()}")
        verdict, ready = _static_checks(Path(folder), harness, options)
        verdicts.append(verdict)
        checks += ready
    _rescore(checks, harness, progress, jobs)
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
    return verdicts
