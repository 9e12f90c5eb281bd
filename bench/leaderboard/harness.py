"""What validation needs from the rest of the benchmark, in one place.

:class:`Harness` is the bridge between a submission and the live benchmark:
the zoo manifest, the registered tasks and their frozen splits, a reference
model's predictions, parsing a program, and scoring it.

Scoring is :mod:`bench.scoring.score`, the path ``bench.evaluate`` takes, so the
figures are exactly those ``bench.evaluate`` reports
(``tests/test_leaderboard_validate.py`` checks the equality). The model's side
is its stored predictions (:mod:`bench.models.predictions`: the zoo's files, checked
against the manifest), so re-scoring runs programs only; the scored batches
of the current model are built once and reused for every submission's program.

Fresh re-scoring (:meth:`Harness.score_fresh`) samples new test sequences the
submitter never saw: per (task, bin) the same length range and number of
sequences as were scored, positions from 0, drawn with
``numpy.random.default_rng`` seeded by :func:`fresh_seed` from the given seed,
the task name and the bin. Every model of a task sees the same fresh
sequences, so methods stay comparable. Only this runs the model itself.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np

from bench.scoring.results import BINS, BinMetrics

#: The most sequences a fresh re-scoring draws per bin (the frozen splits have 2,000).
MAX_FRESH_SEQUENCES = 2000


def fresh_seed(seed: int, task_name: str, bin_name: str) -> int:
    """The generator seed for fresh sequences of one (task, bin): sha256 of ``fresh/<seed>/<task>/<bin>``."""
    digest = hashlib.sha256(f"fresh/{seed}/{task_name}/{bin_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class Harness:
    """The live benchmark, as validation sees it (the real modules, imported on first use).

    One model is current at a time (:meth:`load_model`); its scored batches
    are kept until another model is made current.
    """

    def __init__(self) -> None:
        self._splits: dict[str, object] = {}
        self._fingerprints: dict[str, dict[str, str]] = {}
        self._longest: dict[str, int] = {}
        self._model_id: str | None = None
        self._model = None  # the network itself, loaded only for fresh re-scoring
        self._scored: dict[tuple, dict] = {}  # (limit or fresh key) -> {bin: [(batch, model prediction)]}

    # ----- the zoo -------------------------------------------------------------------
    @cached_property
    def zoo(self) -> dict:
        """Every reference model of the manifest, by id (:class:`bench.models.model_ref.ModelRef`)."""
        from bench.models.model_ref import zoo_refs

        return zoo_refs()

    def load_model(self, model_id: str) -> str:
        """Make a zoo model current; returns the sha256 of the weights its stored predictions were made with."""
        if model_id not in self.zoo:
            from bench.models.model import ModelError

            raise ModelError(f"{model_id!r} is not a zoo model")
        if model_id != self._model_id:
            self._model_id, self._model, self._scored = model_id, None, {}
        return self.zoo[model_id].weights_sha256

    def _network(self):
        """The current model's network (loaded and verified by :mod:`bench.models.hub` on first use)."""
        if self._model is None:
            import torch

            from bench.models import hub

            torch.set_num_threads(1)  # small models on shared CPUs: more threads mostly wait on each other
            self._model = hub.load_reference(self._model_id).model
        return self._model

    # ----- tasks and splits ----------------------------------------------------------
    def task(self, name: str):
        """The registered task; raises :class:`bench.data.task.TaskError` naming the known ones."""
        from bench.data.task import get_task

        return get_task(name)

    def splits(self, task):
        if task.name not in self._splits:
            from bench.data.splits import load_splits

            self._splits = {task.name: load_splits(task)}  # one task at a time
        return self._splits[task.name]

    def fingerprints(self, task) -> dict[str, str]:
        if task.name not in self._fingerprints:
            from bench.data.splits import split_fingerprint

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
        from bench.scoring.score import check_program_fits

        check_program_fits(program, task)

    def check_cost(self, program, task) -> None:
        """Raise :class:`bench.program.cost.CostError` for a program over the scoring limits on this task's
        longest test sequence (decided from its declared shapes: nothing runs)."""
        from bench.program.cost import check_cost

        check_cost(program, self.longest(task))

    def longest(self, task) -> int:
        """Tokens in the longest sequence of the task's frozen test splits."""
        if task.name not in self._longest:
            import pyarrow.compute as pc

            splits = self.splits(task)
            self._longest[task.name] = max(
                int(pc.max(pc.list_value_length(splits[b].with_format("arrow")["input_ids"])).as_py() or 1) for b in BINS)
        return self._longest[task.name]

    def score(self, program, task, limit: int | None) -> dict[str, BinMetrics]:
        """Per-bin metrics against the current model's stored predictions on the frozen splits."""
        from bench.models import predictions
        from bench.scoring import score as scoring

        if self._model_id is None:
            raise RuntimeError("load_model first: scores are against the current model")
        if limit not in self._scored:
            entry = self.zoo[self._model_id]
            stored = predictions.for_model(entry.id, entry.weights_sha256, task, self.splits(task), self._network,
                                           entry=entry.entry)
            self._scored[limit] = scoring.model_batches(task, self.splits(task), stored, limit)
        return scoring.count_bins(program, self._scored[limit])

    def score_fresh(self, program, task, sizes: dict[str, int], seed: int) -> dict[str, BinMetrics]:
        """Per-bin metrics against the current model on fresh sequences, ``sizes[bin]`` per bin."""
        from bench.models.predict import predict
        from bench.scoring import score as scoring

        key = ("fresh", tuple(sorted(sizes.items())), seed)
        if key not in self._scored:
            model = self._network()
            self._scored[key] = {
                b: [(batch, predict(model, batch, task.kind)) for batch in self._fresh_batches(task, b, sizes[b], seed)]
                for b in BINS
            }
        return scoring.count_bins(program, self._scored[key])

    def _fresh_batches(self, task, bin_name: str, n: int, seed: int) -> list:
        from bench.data.task import TEST_SPLITS
        from bench.scoring.score import BATCH_SIZE

        n = max(0, min(int(n), MAX_FRESH_SEQUENCES))
        lo, hi = TEST_SPLITS[bin_name]
        rng = np.random.default_rng(fresh_seed(seed, task.name, bin_name))
        sequences = [task.sample(task.draw_length(lo, hi, rng), rng) for _ in range(n)]
        return [task.collate(sequences[start : start + BATCH_SIZE]) for start in range(0, n, BATCH_SIZE)]
