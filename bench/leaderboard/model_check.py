"""The checks of one ``models[i]`` entry of a submission's results (:class:`ModelCheck`).

Static checks first (model, task, cost, program file and size, the reported
metrics), then, when re-scoring, the program scored again against the model's
stored predictions and compared with what was reported, and optionally scored
on fresh sequences (:mod:`bench.leaderboard.validate` runs them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import PurePosixPath

from bench.leaderboard.findings import (
    FRACTIONS, MAX_COMPONENT_BYTES, MAX_PATH_CHARS, SPLIT_SIZE, FreshRow, Options, Problem, Verdict, compare, quoted,
)
from bench.leaderboard.submission import RESULTS_FILE
from bench.models.predictions import PredictionsError
from bench.scoring import schema
from bench.scoring.results import BINS, BinMetrics, ModelResult
from bench.scoring.score import is_success


class ModelCheck:
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
            self.add("model.id", f"{quoted(info.id)} is not a zoo model (known: {', '.join(sorted(self.harness.zoo)) or 'none'})")
            return False
        before = len(self.verdict.problems)
        if info.source != "zoo":
            self.add("model.source", f"{info.source!r}, but {info.id} is a zoo model: the source must be 'zoo'")
        for name, expected in (("revision", entry.revision), ("weights_sha256", entry.weights_sha256),
                               ("hub_repo", entry.hub_repo), ("role", entry.role)):
            reported = getattr(info, name)
            if reported != expected:
                self.add(f"model.{name}", f"{quoted(reported)} is not the zoo's {expected!r} for {info.id}")
        if self.result.task.name != entry.task:
            self.add("task.name", f"{quoted(self.result.task.name)}, but zoo model {info.id} is for task {entry.task!r}")
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
            self.add("task.version", f"{quoted(reported.version)} is not the current version {task.version!r} of {task.name}")
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
            self.add("program_sha256", f"{quoted(r.program_sha256[:12])}... but {r.program_file} has sha256 {digest[:12]}...")
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
            self.add("program_file", f"{quoted(name)} contains {bad}; only printable text is allowed")
            return None
        pure = PurePosixPath(name)
        if pure.is_absolute() or "\\" in name or ".." in pure.parts:
            self.add("program_file", f"{quoted(name)} is not a path inside the submission folder")
            return None
        long = [part for part in pure.parts if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES]
        if long:
            self.add("program_file", f"{quoted(name)} has a component of {len(long[0].encode('utf-8')):,} bytes "
                     f"(at most {MAX_COMPONENT_BYTES})")
            return None
        path = self.verdict.folder / name
        try:
            if self.verdict.folder.resolve() not in path.resolve().parents:
                self.add("program_file", f"{quoted(name)} is not a path inside the submission folder")
                return None
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                self.add("program_file", f"{quoted(name)} is not a regular file")
                return None
            if info.st_size > MAX_JSON_CHARS:
                self.add("program_file", f"{quoted(name)} has {info.st_size:,} bytes, over the limit of {MAX_JSON_CHARS:,}")
                return None
            with open(path, "rb") as handle:
                raw = handle.read(MAX_JSON_CHARS + 1)
        except FileNotFoundError:
            self.add("program_file", f"{quoted(name)} does not exist")
            return None
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name the system refuses
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.add("program_file", f"{quoted(name)} cannot be read ({reason})")
            return None
        if len(raw) > MAX_JSON_CHARS:
            self.add("program_file", f"{quoted(name)} has more than {MAX_JSON_CHARS:,} bytes, over the limit")
            return None
        return raw

    def check_size(self, program) -> None:
        if self.result.size is None:
            self.add("size", "missing for a program")
            return
        for name in ("n_ops", "depth", "n_params"):
            compare(self.verdict, self.file, f"{self.where}.size.{name}",
                     getattr(self.result.size, name), int(getattr(program, name)), "recomputed")

    def check_reported_metrics(self) -> bool:
        """Every bin is reported (else there is nothing to re-score), its figures are in range, and the
        success flag follows from them."""
        r = self.result
        if set(r.metrics) != set(BINS):
            self.add("metrics", f"bins {quoted(sorted(r.metrics), 300)} are not {list(BINS)}")
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
        compare(self.verdict, self.file, f"{self.where}.success", r.success, expected, "recomputed")
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
                    compare(self.verdict, self.file, f"{self.where}.metrics.{bin_name}.{f.name}",
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
