"""The training recipe: loss at scored positions only, determinism, resuming, run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.task import get_task
from bench.train import Recipe, TrainError, load_run, loss_fn, parse_arch, train

TINY = dict(n_layer=1, n_head=1, n_embd=8, batch_size=8, eval_every=3, eval_size=16, max_steps=6)


def weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("task_name", ["bin_majority", "tomita1"])
def test_same_seed_gives_identical_weights(task_name):
    recipe = Recipe(task=task_name, **TINY)
    first = train(recipe, progress=False, confirm_split=False)
    second = train(recipe, progress=False, confirm_split=False)
    other = train(Recipe(task=task_name, **{**TINY, "seed": 1}), progress=False, confirm_split=False)
    assert first.steps == second.steps
    assert same_weights(weights(first.model), weights(second.model))
    assert not same_weights(weights(first.model), weights(other.model))


def test_resume_gives_the_uninterrupted_result(tmp_path):
    recipe = Recipe(task="bin_majority", dropout=0.1, **{**TINY, "eval_every": 2})  # dropout: torch RNG state matters too
    whole = train(recipe, tmp_path / "whole", progress=False, confirm_split=False)
    paused = train(recipe, tmp_path / "split", progress=False, confirm_split=False, stop_after=3)
    assert paused.steps == 3 and not paused.finished
    torch.manual_seed(12345)  # the resumed run must not depend on the global RNG
    resumed = train(recipe, tmp_path / "split", progress=False, confirm_split=False)
    assert resumed.steps == whole.steps == 6 and resumed.finished
    assert same_weights(weights(whole.model), weights(resumed.model))
    model, state = load_run(tmp_path / "split")
    assert same_weights(weights(model), weights(whole.model)) and state["step"] == 6


def test_a_run_folder_refuses_another_recipe(tmp_path):
    train(Recipe(task="bin_majority", **TINY), tmp_path, progress=False, confirm_split=False, stop_after=1)
    with pytest.raises(TrainError, match="different recipe"):
        train(Recipe(task="bin_majority", **{**TINY, "lr": 1e-4}), tmp_path, progress=False)


def test_run_folder_holds_safetensors_and_json_only(tmp_path):
    train(Recipe(task="bin_majority", **TINY), tmp_path, progress=False, confirm_split=False)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["model/config.json", "model/model.safetensors", "optimizer.safetensors", "state.json"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["step"] == 6 and [h["step"] for h in state["history"]] == [3, 6]


def test_loss_reads_scored_positions_only():
    rng = np.random.default_rng(0)
    for name in ("bin_majority", "tomita4"):
        task = get_task(name)
        batch = task.sample_batch(4, 3, 10, rng)
        logits = torch.randn(*batch.input_ids.shape, task.vocab_size)
        changed = logits.clone()
        changed[~torch.from_numpy(batch.label_mask)] += 100.0  # unscored positions do not matter
        assert torch.equal(loss_fn(logits, batch, task.kind), loss_fn(changed, batch, task.kind))
        changed[..., 0][torch.from_numpy(batch.label_mask)] += 1.0  # one vocabulary entry, scored positions
        assert not torch.equal(loss_fn(logits, batch, task.kind), loss_fn(changed, batch, task.kind))


def test_controls_train_without_offsets(monkeypatch):
    seen = []
    task = get_task("bin_majority")
    original = type(task).sample_batch

    def spy(self, n, lo, hi, rng, *, offsets=True):
        seen.append(offsets)
        return original(self, n, lo, hi, rng, offsets=offsets)

    monkeypatch.setattr(type(task), "sample_batch", spy)
    train(Recipe(task="bin_majority", offsets=False, **{**TINY, "max_steps": 2}), progress=False, confirm_split=False)
    assert seen.count(False) >= 2 and True not in seen


def test_architecture_strings():
    assert parse_arch("2x1x64") == {"n_layer": 2, "n_head": 1, "n_embd": 64}
    assert Recipe(task="sort").with_arch("1x4x16").arch == "1x4x16"
    with pytest.raises(TrainError, match="LAYERSxHEADSxWIDTH"):
        parse_arch("2-1-64")
    with pytest.raises(TrainError, match="multiple"):
        Recipe(task="sort", n_head=3, n_embd=16)


@pytest.mark.slow
def test_bin_majority_learns_and_stops_early(tmp_path, monkeypatch, split_cache):
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))  # the early stop is confirmed on test_0_50
    result = train(Recipe(task="bin_majority", n_layer=1, n_head=1, n_embd=16, max_steps=1500, eval_every=100), tmp_path, progress=False)
    assert result.stopped_early and result.steps < 1500
