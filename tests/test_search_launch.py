"""The search as submitit jobs (bench.models.search_launch) chooses what the sequential search chooses."""

from __future__ import annotations

from dataclasses import replace

import pytest

import bench.models.search_launch as launched
from bench.models.search_launch import LaunchOptions, search_launched
from bench.models.train import Recipe, SearchEntry, search


def entry(recipe, run_dir, acc_101_150):
    return SearchEntry(recipe, run_dir, 10, 1.0, {"test_0_50": 1.0, "test_51_100": 1.0, "test_101_150": acc_101_150})


class FakeExecutor:
    """Runs ``submit``ted calls at once, with canned accuracies per architecture (no training)."""

    def __init__(self, accuracy: dict):
        self.accuracy, self.trained = accuracy, []

    def batch(self):
        import contextlib

        return contextlib.nullcontext()

    def submit(self, fn, recipe, run_dir):
        self.trained.append(recipe.arch)
        done = entry(recipe, run_dir, self.accuracy[recipe.arch])
        return type("Job", (), {"done": lambda self: True, "result": lambda self: done, "job_id": "0"})()


@pytest.mark.parametrize("wave", [1, 2, 3, 5])
def test_waves_choose_what_the_sequential_search_chooses(tmp_path, monkeypatch, wave):
    accuracy = {"1x1x16": 0.4, "1x2x16": 0.7, "2x1x16": 0.7, "2x2x16": 1.0, "1x1x64": 1.0}
    fake = FakeExecutor(accuracy)
    monkeypatch.setattr(launched, "_executor", lambda options, folder: fake)
    base = Recipe(task="bin_majority")
    best, entries = search_launched(base, tmp_path, list(accuracy), LaunchOptions("local", wave), log=lambda _: None)
    # in order: stop at the first perfect point (2x2x16); the best of those: 2x2x16
    assert [e.recipe.arch for e in entries] == ["1x1x16", "1x2x16", "2x1x16", "2x2x16"]
    assert best.recipe.arch == "2x2x16"
    assert len(fake.trained) == min(len(accuracy), -(-4 // wave) * wave)  # whole waves, none after the stop


def test_without_a_perfect_point_the_first_best_is_kept(tmp_path, monkeypatch):
    accuracy = {"1x1x16": 0.4, "1x2x16": 0.7, "2x1x16": 0.7}
    monkeypatch.setattr(launched, "_executor", lambda options, folder: FakeExecutor(accuracy))
    best, entries = search_launched(Recipe(task="bin_majority"), tmp_path, list(accuracy), LaunchOptions("local", 2),
                                    log=lambda _: None)
    assert len(entries) == 3 and best.recipe.arch == "1x2x16"


def test_local_jobs_train_the_runs_the_sequential_search_trains(tmp_path):
    pytest.importorskip("submitit", reason="submitit is not installed (pip install 'rasp-bench[cluster]')")
    base = replace(Recipe(task="bin_majority"), max_steps=4, eval_every=2, eval_size=32, batch_size=16)
    grid = ["1x1x8", "1x2x8"]
    best, entries = search_launched(base, tmp_path / "jobs", grid, LaunchOptions("local", 2), log=lambda _: None)
    in_order, sequential = search(base, tmp_path / "in-order", grid, progress=False, log=lambda _: None)
    assert [e.recipe.arch for e in entries] == [e.recipe.arch for e in sequential] == grid
    assert [e.accuracies for e in entries] == [e.accuracies for e in sequential]  # the same training, bit for bit
    assert best.recipe.arch == in_order.recipe.arch
