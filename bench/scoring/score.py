"""Scoring a program against a model on the frozen test bins, and aggregating.

This is the one scoring path: ``bench.evaluate``, ``bench.leaderboard
validate`` and ``build`` all call :func:`score_program` (or its two halves,
:func:`model_batches` and :func:`count_bins`, when several programs are scored
against one model). The model's side is a :class:`bench.models.predictions.ModelPredictions`
(stored or cached predictions, never a forward pass here); the program runs
on the same padded batches of :data:`BATCH_SIZE` sequences of similar length.

Counting and aggregating are separate: :class:`BinCounts` accumulates exact
counts batch by batch (so that a bin can be streamed), then turns them into
:class:`bench.scoring.results.BinMetrics`. Faithfulness is always measured against the
model's predictions, never the gold labels; the labels only give
``program_acc`` and ``model_acc``.

Predictions have the model-prediction form: ``(B, T)`` token ids for token
tasks, ``(B, T, V)`` booleans for token-set tasks. A position agrees when the
token is equal, or when every bit of the set is equal.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from bench.data.task import Batch
from bench.program.cost import MAX_SCORING_BYTES, MAX_WORK_PER_SEQUENCE
from bench.scoring.results import BINS, BinMetrics, ModelResult, Summary

#: Sequences per scored batch (sorted by length, so that a batch pads little).
BATCH_SIZE = 250
#: Wall-clock seconds a program may run while it is scored on all bins: a backstop behind the cost
#: bound (the slowest shipped program, decompile's repeat_copy, takes 108 CPU seconds).
MAX_SCORING_SECONDS = 1800.0


@dataclass(frozen=True)
class ScoringLimits:
    """What running one untrusted program may use while it is scored (see :mod:`bench.program.cost`).

    A program over ``max_bytes`` or ``max_work`` for one sequence of the longest scored length is
    refused before it runs; chunks are sized to stay under ``max_bytes``; after ``seconds`` it is
    stopped. Each raises :class:`bench.program.cost.CostError`, naming what is over.
    """

    max_bytes: int = MAX_SCORING_BYTES
    max_work: int = MAX_WORK_PER_SEQUENCE
    seconds: float = MAX_SCORING_SECONDS

    def budget(self, program, widths: list[int]):
        """The :class:`bench.program.interpret_fast.Budget` of one run of ``program`` on batches of these
        widths, its clock started now; :class:`bench.program.cost.CostError` when one sequence is over."""
        from bench.program.cost import check_cost
        from bench.program.interpret_fast import Budget

        cost = check_cost(program, max(widths, default=1), self.max_bytes, self.max_work)
        return Budget(cost, self.max_bytes, time.monotonic() + self.seconds)


def position_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(B, T)`` bool: where two predictions agree (every bit, for token sets)."""
    if a.shape != b.shape:
        raise ValueError(f"prediction shapes differ: {a.shape} vs {b.shape}")
    equal = a == b
    return equal.all(axis=-1) if equal.ndim == 3 else equal


def gold_predictions(batch: Batch) -> np.ndarray:
    """The gold labels in prediction form (what a perfect model predicts)."""
    return batch.labels


@dataclass
class BinCounts:
    sequences: int = 0
    positions: int = 0
    matched_sequences: int = 0
    matched_positions: int = 0
    program_correct: int = 0
    model_correct: int = 0

    def add(self, batch: Batch, model_pred: np.ndarray, program_pred: np.ndarray) -> None:
        mask = batch.label_mask
        gold = gold_predictions(batch)
        match = position_agreement(program_pred, model_pred) | ~mask
        program_ok = position_agreement(program_pred, gold) | ~mask
        model_ok = position_agreement(model_pred, gold) | ~mask
        self.sequences += len(batch)
        self.positions += int(mask.sum())
        self.matched_sequences += int(match.all(axis=1).sum())
        self.matched_positions += int((match & mask).sum())
        self.program_correct += int(program_ok.all(axis=1).sum())
        self.model_correct += int(model_ok.all(axis=1).sum())

    def metrics(self) -> BinMetrics:
        n, p = max(self.sequences, 1), max(self.positions, 1)
        return BinMetrics(
            n_sequences=self.sequences,
            match_acc=self.matched_sequences / n,
            match_token_acc=self.matched_positions / p,
            program_acc=self.program_correct / n,
            model_acc=self.model_correct / n,
        )


def is_success(metrics: dict[str, BinMetrics], threshold: float) -> bool:
    """The published criterion: ``match_acc >= threshold`` on every bin."""
    return bool(metrics) and all(metrics[b].match_acc >= threshold for b in BINS if b in metrics)


def summarize(models: list[ModelResult]) -> Summary:
    """Aggregates per method: failed extractions count as failures with ``match_acc`` 0."""
    n = len(models)
    successes = [m for m in models if m.success]
    mean_match = {
        b: (sum(m.metrics[b].match_acc if b in m.metrics else 0.0 for m in models) / n if n else 0.0)
        for b in BINS
    }
    sizes = [m.size.n_ops for m in successes if m.size is not None]
    return Summary(
        n_models=n,
        n_success=len(successes),
        success_rate=len(successes) / n if n else 0.0,
        mean_match_acc=mean_match,
        median_n_ops=float(statistics.median(sizes)) if sizes else None,
    )


# ----- one program against one model's predictions --------------------------------------------


def check_program_fits(program, task) -> None:
    """A program for the wrong vocabulary or task kind cannot be scored on this task."""
    from bench.data.task import TaskError

    if program.vocab_size != task.vocab_size:
        raise TaskError(f"program vocab_size {program.vocab_size} != task {task.name} vocab size {task.vocab_size}")
    if program.kind != task.kind:
        raise TaskError(f"program kind {program.kind!r} != task {task.name} kind {task.kind!r}")


def model_batches(task, splits, predictions, limit: int | None = None) -> dict[str, list[tuple[Batch, np.ndarray]]]:
    """Per bin, the scored batches with the model's predictions for each (built once, reused per program)."""
    from bench.data.splits import indexed_batches

    out = {}
    for bin_name in BINS:
        stored = predictions.bins[bin_name]
        batches = indexed_batches(task, splits[bin_name], BATCH_SIZE, limit, by_length=True)
        out[bin_name] = [(batch, stored.for_batch(rows, batch)) for rows, batch in batches]
    return out


def count_bins(program, batches: dict[str, list[tuple[Batch, np.ndarray]]],
               limits: ScoringLimits = ScoringLimits()) -> dict[str, BinMetrics]:
    """Run ``program`` on every batch and count agreement with the model, per bin, within ``limits``.

    Raises :class:`bench.program.cost.CostError` for a program over the limits (before it runs,
    or when its time runs out).
    """
    from bench.program import run_program

    budget = limits.budget(program, [batch.input_ids.shape[1] for pairs in batches.values() for batch, _ in pairs])
    metrics = {}
    for bin_name, pairs in batches.items():
        counts = BinCounts()
        for batch, model_prediction in pairs:
            counts.add(batch, model_prediction, run_program(program, batch, budget=budget))
        metrics[bin_name] = counts.metrics()
    return metrics


def score_program(program, task, splits, predictions, limit: int | None = None,
                  limits: ScoringLimits = ScoringLimits()) -> dict[str, BinMetrics]:
    """Per-bin metrics of ``program`` against a model's predictions on the frozen splits."""
    return count_bins(program, model_batches(task, splits, predictions, limit), limits)
