"""What validation needs from the rest of the benchmark, in one place.

:class:`Harness` is the bridge between a submission and the live benchmark:
the zoo manifest, the registered tasks and their frozen splits, loading a
reference model (through :mod:`bench.hub`, weights verified), parsing a
program, and scoring it.

Scoring is :func:`bench.evaluate.score_program` taken apart so that the
expensive half is shared: validation re-scores every submission's program for
one model in a row, and the model's predictions on each bin (the same batches
``score_program`` makes: :data:`bench.evaluate.BATCH_SIZE` sequences of
similar length each) are computed once and kept while that model is current.
The counts are the
harness's own :class:`bench.scoring.BinCounts`, so the figures are exactly
those ``bench.evaluate`` reports (``tests/test_leaderboard_validate.py``
checks the equality).

Fresh re-scoring (:meth:`Harness.score_fresh`) samples new test sequences the
submitter never saw: per (task, bin) the same length range and number of
sequences as were scored, positions from 0, drawn with
``numpy.random.default_rng`` seeded by :func:`fresh_seed` from the given seed,
the task name and the bin. Every model of a task sees the same fresh
sequences, so methods stay comparable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bench.results import BINS, BinMetrics


@dataclass(frozen=True)
class ZooEntry:
    """What the manifest pins about one reference model."""

    id: str
    task: str
    hub_repo: str | None
    revision: str | None
    weights_sha256: str
    role: str | None


def fresh_seed(seed: int, task_name: str, bin_name: str) -> int:
    """The generator seed for fresh sequences of one (task, bin): sha256 of ``fresh/<seed>/<task>/<bin>``."""
    digest = hashlib.sha256(f"fresh/{seed}/{task_name}/{bin_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class Harness:
    """The live benchmark, as validation sees it (the real modules, imported on first use).

    One model is current at a time (:meth:`load_model`); its predictions are
    cached until another model is loaded.
    """

    def __init__(self) -> None:
        self._splits: dict[str, object] = {}
        self._fingerprints: dict[str, dict[str, str]] = {}
        self._model_id: str | None = None
        self._model = None
        self._sha256: str | None = None
        self._scored: dict[tuple, list] = {}  # (bin, limit or fresh key) -> [(batch, model prediction)]

    # ----- the zoo -------------------------------------------------------------------
    @cached_property
    def zoo(self) -> dict[str, ZooEntry]:
        """Every reference model of the manifest, by id."""
        from bench import hub

        return {
            model_id: ZooEntry(
                id=model_id,
                task=entry.get("task"),
                hub_repo=entry.get("hub_repo"),
                revision=entry.get("revision"),
                weights_sha256=entry.get("sha256"),
                role=entry.get("role"),
            )
            for model_id, entry in hub.load_manifest()["models"].items()
        }

    def load_model(self, model_id: str) -> str:
        """Make a zoo model current (loaded and verified by :mod:`bench.hub`); returns its weights' sha256."""
        if model_id != self._model_id:
            import torch

            from bench import hub

            # Small models on shared CPUs: more threads mostly wait on each other (20x slower measured).
            torch.set_num_threads(1)
            self._model_id = self._model = self._sha256 = None
            self._scored = {}
            ref = hub.load_reference(model_id)
            self._model_id, self._model, self._sha256 = model_id, ref.model, ref.sha256
        return self._sha256

    # ----- tasks and splits ----------------------------------------------------------
    def task(self, name: str):
        """The registered task; raises :class:`bench.task.TaskError` naming the known ones."""
        from bench.task import get_task

        return get_task(name)

    def splits(self, task):
        if task.name not in self._splits:
            from bench.splits import load_splits

            self._splits = {task.name: load_splits(task)}  # one task at a time
        return self._splits[task.name]

    def fingerprints(self, task) -> dict[str, str]:
        if task.name not in self._fingerprints:
            from bench.splits import split_fingerprint

            splits = self.splits(task)
            self._fingerprints[task.name] = {b: split_fingerprint(splits[b]) for b in BINS}
        return self._fingerprints[task.name]

    # ----- programs and scoring --------------------------------------------------------
    def parse_program(self, raw: bytes, folder=None, name: str = "program"):
        """A :class:`bench.program.Program` from an untrusted file's bytes; raises only ``ProgramError``.

        A program that keeps its arrays in a sidecar (:mod:`bench.program.arrays`)
        has it read from ``folder``, checked against the sha256 the bytes record.
        """
        from bench.program.arrays import from_bytes

        return from_bytes(raw, folder, name)

    def check_program_fits(self, program, task) -> None:
        """Raise ``TaskError`` when the program's vocabulary or kind is not the task's."""
        from bench.evaluate import check_program_fits

        check_program_fits(program, task)

    def score(self, program, task, limit: int | None) -> dict[str, BinMetrics]:
        """Per-bin metrics against the current model on the frozen splits, as ``score_program`` computes them."""
        from bench.evaluate import BATCH_SIZE
        from bench.splits import split_batches

        def batches(bin_name):
            return split_batches(task, self.splits(task)[bin_name], batch_size=BATCH_SIZE, limit=limit, by_length=True)

        return {b: self._count(program, task, (b, limit), lambda b=b: batches(b)) for b in BINS}

    def score_fresh(self, program, task, sizes: dict[str, int], seed: int) -> dict[str, BinMetrics]:
        """Per-bin metrics against the current model on fresh sequences, ``sizes[bin]`` per bin."""
        return {
            b: self._count(program, task, (b, "fresh", sizes[b], seed), lambda b=b: self._fresh_batches(task, b, sizes[b], seed))
            for b in BINS
        }

    def _count(self, program, task, key: tuple, make_batches) -> BinMetrics:
        from bench.predict import predict
        from bench.program import run_program
        from bench.scoring import BinCounts

        if self._model is None:
            raise RuntimeError("load_model first: scores are against the current model")
        if key not in self._scored:
            self._scored[key] = [(batch, predict(self._model, batch, task.kind)) for batch in make_batches()]
        counts = BinCounts()
        for batch, model_prediction in self._scored[key]:
            counts.add(batch, model_prediction, run_program(program, batch))
        return counts.metrics()

    def _fresh_batches(self, task, bin_name: str, n: int, seed: int) -> list:
        from bench.evaluate import BATCH_SIZE
        from bench.task import TEST_SPLITS

        lo, hi = TEST_SPLITS[bin_name]
        rng = np.random.default_rng(fresh_seed(seed, task.name, bin_name))
        sequences = [task.sample(task.draw_length(lo, hi, rng), rng) for _ in range(n)]
        return [task.collate(sequences[start : start + BATCH_SIZE]) for start in range(0, n, BATCH_SIZE)]
