"""Tests of the λ sweep (baselines/decompile/sweep.py): the grid, accuracy bins, bisection, the frontier,
and the lookup baseline that anchors them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.baselines.decompile import sweep
from bench.baselines.decompile.data import DataBatch
from bench.baselines.decompile.prune import RunResult


def run(lam: float, acc: float, edges: int = 1, graph=True) -> RunResult:
    return RunResult(1, lam, edges, acc, object() if graph else None, None, 10)


def simulate(policy, acc_of, limit: int = 50) -> list[RunResult]:
    """Runs as the stage loop makes them: ask the policy, 'train' at its λ, until it says None."""
    runs: list[RunResult] = []
    while len(runs) < limit:
        lam = policy(runs)
        if lam is None:
            return runs
        runs.append(run(lam, acc_of(lam)))
    raise AssertionError("the policy never stopped")


def falling(threshold: float):
    """A model whose match accuracy falls from 1 to 0 as log λ passes ``threshold`` (over one decade)."""
    return lambda lam: float(np.clip(0.5 - math.log10(lam / threshold), 0.0, 1.0))


def test_the_grid_proposes_its_list_in_order_then_stops():
    assert [r.lam for r in simulate(sweep.Grid([1e-3, 1e-2]), falling(1e-3))] == [1e-3, 1e-2]
    assert simulate(sweep.Grid([]), falling(1e-3)) == []


def test_aim_brackets_the_target_or_steps_out_from_one_side():
    runs = [run(1e-4, 0.95), run(1e-2, 0.3)]
    assert sweep.aim(runs, 0.6, 5.0) == pytest.approx(1e-3)  # geometric mean of the bracket
    assert sweep.aim(runs, 0.2, 5.0) == pytest.approx(5e-2)  # every run reached it: a larger λ
    assert sweep.aim(runs, 0.99, 5.0) == pytest.approx(2e-5)  # none did: a smaller one
    assert sweep.aim([run(1e-4, 0.3), run(1e-2, 0.95)], 0.6, 5.0) is None  # contradictory: no guess
    assert sweep.aim([run(0.0, 1.0)], 0.5, 5.0) is None  # λ = 0 (the un-pruned graph) brackets nothing


def test_bins_start_from_the_list_then_fill_empty_accuracy_bins_with_new_lambdas():
    policy = sweep.Bins([1e-5, 1e-2], baseline=0.5, n_bins=6, max_runs=8, seed=0)
    runs = simulate(policy, falling(1e-3))
    lams = [r.lam for r in runs]
    assert lams[:2] == [1e-5, 1e-2] and len(runs) == 8
    assert all(abs(math.log(a / b)) >= math.log(sweep.NUDGE) / 2 for i, a in enumerate(lams) for b in lams[:i])
    assert len(policy.empty(runs)) < len(policy.empty(runs[:2]))  # the later runs landed in empty bins
    assert all(1e-5 < lam < 1e-2 for lam in lams[2:])  # aimed inside the bracket the first two made


def test_bins_stop_when_every_bin_is_filled():
    policy = sweep.Bins([1e-3], baseline=0.0, n_bins=2, max_runs=10, seed=0)
    assert policy([run(1e-3, 0.0), run(1e-4, 1.0)]) is None


def test_bisection_finds_the_largest_lambda_that_keeps_the_target():
    acc_of = falling(1e-3)  # reaches 0.5 exactly at λ = 1e-3
    runs = simulate(sweep.Bisect(1e-5, target=0.5, max_runs=8), acc_of)
    assert len(runs) == 8 and runs[0].lam == 1e-5
    best = max(r.lam for r in runs if r.acc >= 0.5)
    assert 1e-3 / 1.5 < best <= 1e-3
    assert len(simulate(sweep.Bisect(1e-5, 0.5, max_runs=3), acc_of)) == 3


def test_the_frontier_drops_dominated_runs_and_spread_keeps_both_ends():
    runs = [run(0, 1.0, 20), run(0, 0.9, 10), run(0, 0.95, 12), run(0, 0.9, 15), run(0, 0.5, 2), run(0, 1.0, 25),
            run(0, 0.99, 3, graph=False)]
    front = sweep.frontier(runs)
    assert [(r.n_edges, r.acc) for r in front] == [(2, 0.5), (10, 0.9), (12, 0.95), (20, 1.0)]
    picked = sweep.spread(front, 3)
    assert len(picked) == 3 and picked[0] is front[0] and picked[-1] is front[-1]
    assert sweep.spread(front, 10) == front


def batch(ids: np.ndarray, logits: np.ndarray, kind: str) -> DataBatch:
    ids_t = torch.as_tensor(ids)
    return DataBatch(ids_t, torch.arange(ids.shape[1]).expand(ids.shape), torch.ones(ids.shape, dtype=torch.bool),
                     torch.as_tensor(logits, dtype=torch.float64), kind, torch.full((ids.shape[0],), ids.shape[1]))


def test_lookup_accuracy_is_one_exactly_when_the_current_token_decides():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, (64, 12))
    eye = np.eye(5)
    by_token = batch(ids, eye[(ids + 1) % 5], "token")  # the model predicts token + 1
    assert sweep.lookup_accuracy(by_token, by_token) == 1.0
    previous = np.concatenate([ids[:, :1], ids[:, :-1]], 1)
    by_previous = batch(ids, eye[previous], "token")  # it repeats the previous token
    assert sweep.lookup_accuracy(by_previous, by_previous) < 0.05
    signs = np.where(eye[ids] > 0, 1.0, -1.0)  # token sets: the allowed set is {the current token}
    sets = batch(ids, signs, "token_set")
    assert sweep.lookup_accuracy(sets, sets) == 1.0
    assert sweep.lookup_accuracy(sets, batch(ids, -signs, "token_set")) == 0.0
