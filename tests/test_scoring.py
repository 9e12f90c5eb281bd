"""Faithfulness is counted against the model; accuracy against the gold labels."""

from __future__ import annotations

import numpy as np

from bench.data.task import Batch
from bench.scoring.results import BinMetrics, Cost, ModelInfo, ModelResult, Size, TaskInfo
from bench.scoring.score import BinCounts, is_success, summarize


def token_batch():
    # Two sequences of 4 positions; positions 2 and 3 are scored (gold tokens 7, 8).
    mask = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], dtype=bool)
    labels = np.where(mask, np.array([[0, 0, 7, 8], [0, 0, 7, 8]]), -1)
    ids = np.zeros((2, 4), dtype=np.int64)
    return Batch(ids, np.tile(np.arange(4), (2, 1)), np.array([4, 4]), mask, labels)


def test_match_is_against_the_model_not_the_labels():
    batch = token_batch()
    model = np.array([[5, 5, 7, 9], [5, 5, 7, 8]])  # wrong on sequence 0, right on 1
    program = np.array([[1, 1, 7, 9], [1, 1, 7, 8]])  # copies the model, unscored positions differ
    counts = BinCounts()
    counts.add(batch, model, program)
    m = counts.metrics()
    assert m.match_acc == 1.0 and m.match_token_acc == 1.0
    assert m.model_acc == 0.5 and m.program_acc == 0.5


def test_one_wrong_position_fails_the_sequence():
    batch = token_batch()
    model = np.array([[0, 0, 7, 8], [0, 0, 7, 8]])
    program = np.array([[0, 0, 7, 8], [0, 0, 3, 8]])
    counts = BinCounts()
    counts.add(batch, model, program)
    m = counts.metrics()
    assert m.match_acc == 0.5
    assert m.match_token_acc == 0.75
    assert m.program_acc == 0.5 and m.model_acc == 1.0


def test_token_sets_must_agree_on_every_bit():
    mask = np.array([[1, 1, 0]], dtype=bool)
    gold = np.zeros((1, 3, 4), dtype=bool)
    gold[0, 0, [0, 1]] = True
    gold[0, 1, [2]] = True
    batch = Batch(np.zeros((1, 3), np.int64), np.arange(3)[None], np.array([3]), mask, gold)
    model = gold.copy()
    program = gold.copy()
    program[0, 1, 3] = True  # one extra bit at a scored position
    program[0, 2, :] = True  # anything at the unscored position is ignored
    counts = BinCounts()
    counts.add(batch, model, program)
    m = counts.metrics()
    assert m.match_acc == 0.0 and m.match_token_acc == 0.5
    assert m.model_acc == 1.0 and m.program_acc == 0.0


def _result(model_id, accs, n_ops, status="ok"):
    metrics = {
        b: BinMetrics(10, a, a, a, 1.0) for b, a in zip(("test_0_50", "test_51_100", "test_101_150"), accs)
    } if status == "ok" else {}
    return ModelResult(
        model=ModelInfo(model_id, "zoo", None, None, "0" * 64),
        task=TaskInfo("t", "1", "token", {}),
        status=status,
        error=None if status == "ok" else "boom",
        program_file=None,
        program_sha256=None,
        metrics=metrics,
        size=Size(n_ops, 1, 1) if status == "ok" else None,
        cost=Cost(0.0, 0.0),
        success=is_success(metrics, 0.9),
    )


def test_success_needs_every_bin():
    assert _result("a", [1.0, 0.95, 0.9], 3).success
    assert not _result("b", [1.0, 0.95, 0.89], 3).success
    assert not _result("c", [], 3, status="error").success


def test_summary_counts_failures_as_zero():
    models = [_result("a", [1.0, 1.0, 1.0], 4), _result("b", [1.0, 0.5, 0.0], 10), _result("c", [], 0, "error"),
              _result("d", [1.0, 1.0, 0.95], 6)]
    s = summarize(models)
    assert (s.n_models, s.n_success) == (4, 2)
    assert s.success_rate == 0.5
    assert s.mean_match_acc["test_51_100"] == (1.0 + 0.5 + 0 + 1.0) / 4
    assert s.median_n_ops == 5.0  # median of the successes' sizes 4 and 6
