"""What validation needs from the rest of the benchmark, in one place.

:class:`Harness` is the bridge between a submission and the live benchmark:
the zoo manifest, the registered tasks and their frozen splits, loading a
reference model (through :mod:`bench.hub`, weights verified), parsing a
program, and scoring it with :func:`bench.evaluate.score_program` -- the same
code that produced the submitted figures. It caches what is expensive and
shared between submissions (splits, models) for the length of one command.

Fresh re-scoring (:meth:`Harness.score_fresh`) samples new test sequences the
submitter never saw: per (task, bin) the same length range and number of
sequences as the frozen split, positions from 0, drawn with
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
    """The live benchmark, as validation sees it (the real modules, imported on first use)."""

    batch_size = 250

    def __init__(self) -> None:
        self._splits: dict[str, object] = {}
        self._fingerprints: dict[str, dict[str, str]] = {}
        self._models: dict[str, tuple[object, str]] = {}
        self._fresh: dict[tuple[str, str, int, int], list] = {}

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

    def load_model(self, model_id: str):
        """``(model, weights_sha256)`` of a zoo model, loaded and verified by :mod:`bench.hub`."""
        if model_id not in self._models:
            import torch

            from bench import hub

            # Small models on shared CPUs: more threads mostly wait on each other (20x slower measured).
            torch.set_num_threads(1)
            ref = hub.load_reference(model_id)
            self._models = {model_id: (ref.model, ref.sha256)}  # one at a time: models can be large
        return self._models[model_id]

    # ----- tasks and splits ----------------------------------------------------------
    def task(self, name: str):
        """The registered task; raises :class:`bench.task.TaskError` naming the known ones."""
        from bench.task import get_task

        return get_task(name)

    def splits(self, task):
        if task.name not in self._splits:
            from bench.splits import load_splits

            self._splits[task.name] = load_splits(task)
        return self._splits[task.name]

    def fingerprints(self, task) -> dict[str, str]:
        if task.name not in self._fingerprints:
            from bench.splits import split_fingerprint

            splits = self.splits(task)
            self._fingerprints[task.name] = {b: split_fingerprint(splits[b]) for b in BINS}
        return self._fingerprints[task.name]

    # ----- programs and scoring --------------------------------------------------------
    def parse_program(self, raw: bytes):
        """A :class:`bench.program.Program` from an untrusted file's bytes; raises only ``ProgramError``."""
        from bench.program import Program

        return Program.from_json(raw)

    def check_program_fits(self, program, task) -> None:
        """Raise ``TaskError`` when the program's vocabulary or kind is not the task's."""
        from bench.evaluate import check_program_fits

        check_program_fits(program, task)

    def score(self, program, model, task, limit: int | None) -> dict[str, BinMetrics]:
        """Per-bin metrics on the frozen splits, exactly as ``bench.evaluate`` computes them."""
        from bench.evaluate import score_program

        return score_program(program, model, task, self.splits(task), limit)

    def score_fresh(self, program, model, task, sizes: dict[str, int], seed: int) -> dict[str, BinMetrics]:
        """Per-bin metrics on fresh sequences: ``sizes[bin]`` of them per bin (see module docstring)."""
        from bench.predict import predict
        from bench.program import run_program
        from bench.scoring import BinCounts

        metrics = {}
        for bin_name in BINS:
            counts = BinCounts()
            for batch in self._fresh_batches(task, bin_name, sizes[bin_name], seed):
                counts.add(batch, predict(model, batch, task.kind), run_program(program, batch))
            metrics[bin_name] = counts.metrics()
        return metrics

    def _fresh_batches(self, task, bin_name: str, n: int, seed: int) -> list:
        key = (task.name, bin_name, n, seed)
        if key not in self._fresh:
            from bench.task import TEST_SPLITS

            lo, hi = TEST_SPLITS[bin_name]
            rng = np.random.default_rng(fresh_seed(seed, task.name, bin_name))
            sequences = [task.sample(task.draw_length(lo, hi, rng), rng) for _ in range(n)]
            self._fresh = {k: v for k, v in self._fresh.items() if k[0] == task.name}  # keep one task's
            self._fresh[key] = [
                task.collate(sequences[start : start + self.batch_size]) for start in range(0, n, self.batch_size)
            ]
        return self._fresh[key]
