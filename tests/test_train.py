"""The training recipe: loss at scored positions only, determinism, resuming, run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.data.task import get_task
from bench.models.step import loss_fn
from bench.models.train import Recipe, TrainError, load_run, parse_arch, train

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


# ----- the published recipe: micro-batches by length, clipping, saved recipes -------------

from dataclasses import asdict, fields  # noqa: E402
from itertools import product  # noqa: E402

import bench.models.run_folder as run_folder  # noqa: E402
import bench.models.train as bt  # noqa: E402
from bench.models.recipe import LEGACY_FIELDS, PUBLISHED_FIELDS  # noqa: E402
from bench.models.run_folder import settle  # noqa: E402
from bench.models.step import Stepper, length_buckets, loss_terms, make_optimizer  # noqa: E402
from bench.models.train import PUBLISHED_BEST, PUBLISHED_GRID, GridPoint, grid_from, search  # noqa: E402

SMALL = dict(n_layer=1, n_head=1, n_embd=16, batch_size=16)


def fresh_stepper(task, **recipe_fields) -> tuple[Stepper, list]:
    """A Stepper on a freshly initialised model (the same weights for the same seed)."""
    torch.set_num_threads(1)
    recipe = Recipe(task=task.name, **{**SMALL, **recipe_fields})
    torch.manual_seed(recipe.seed)
    model = bt.GPT2(recipe.model_config(task)).train()
    return Stepper(model, make_optimizer(model, recipe), task, recipe), list(model.named_parameters())


def rows(batch) -> list:
    """Each sequence of a batch, unpadded: ids, positions, mask and labels up to its length."""
    return sorted(
        (tuple(batch.input_ids[i, :n]), tuple(batch.position_ids[i, :n]), tuple(batch.label_mask[i, :n]), batch.labels[i, :n].tobytes())
        for i, n in enumerate(int(n) for n in batch.lengths)
    )


@pytest.mark.parametrize("task_name", ["sort", "tomita1"])
def test_length_buckets_hold_the_same_sequences_each_cut_to_its_longest(task_name):
    task = get_task(task_name)
    batch = task.sample_batch(13, 0, 50, np.random.default_rng(3))
    assert length_buckets(batch, 1) == [batch]
    for k in (2, 4, 13, 40):
        parts = length_buckets(batch, k)
        assert len(parts) == min(k, len(batch)) and sum(len(p) for p in parts) == len(batch)
        assert rows(batch) == sorted(r for p in parts for r in rows(p))  # the same multiset of sequences
        assert all(p.input_ids.shape[1] == p.lengths.max() for p in parts)  # each padded to its own longest only
        lengths = np.concatenate([p.lengths for p in parts])
        assert (np.diff(lengths) >= 0).all()  # sorted by length
        assert sum(loss_terms(p, task.kind, task.vocab_size) for p in parts) == loss_terms(batch, task.kind, task.vocab_size)


@pytest.mark.parametrize("task_name", ["sort", "tomita1"])
def test_length_buckets_give_the_whole_batch_gradient(task_name):
    task = get_task(task_name)
    batch = task.sample_batch(16, 0, 50, np.random.default_rng(5))
    assert len(set(batch.lengths.tolist())) > 4  # the buckets really differ in width
    plain, plain_params = fresh_stepper(task, length_buckets=1)
    bucketed, bucket_params = fresh_stepper(task, length_buckets=4)
    assert same_weights(weights(plain.model), weights(bucketed.model))
    plain_loss, bucket_loss = plain.compute_gradient(batch), bucketed.compute_gradient(batch)
    assert bucket_loss == pytest.approx(plain_loss, rel=1e-5)
    for (name, a), (_, b) in zip(plain_params, bucket_params):
        assert a.grad is not None and b.grad is not None, name
        assert torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-7), name
    assert any(a.grad.abs().max() > 1e-4 for _, a in plain_params)  # not trivially equal (all zero)


def grad_norm(params) -> float:
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for _, p in params])))


def test_gradient_clipping_bounds_the_gradient_norm():
    task = get_task("bin_majority")
    batch = task.sample_batch(16, 0, 50, np.random.default_rng(1))
    raw, raw_params = fresh_stepper(task, max_grad_norm=None)
    raw.compute_gradient(batch)
    raw_grads = {n: p.grad.clone() for n, p in raw_params}
    raw_norm = grad_norm(raw_params)
    assert raw_norm > 1e-2  # so a limit of 1e-3 really clips

    clipped, clipped_params = fresh_stepper(task, max_grad_norm=1e-3)
    clipped(batch, 1e-3)
    assert grad_norm(clipped_params) <= 1e-3 * (1 + 1e-6)
    for name, p in clipped_params:  # scaled, not changed in direction
        assert torch.allclose(p.grad, raw_grads[name] * (1e-3 / raw_norm), rtol=1e-4, atol=1e-12), name

    unclipped, unclipped_params = fresh_stepper(task, max_grad_norm=None)
    unclipped(batch, 1e-3)
    assert all(torch.equal(p.grad, raw_grads[n]) for n, p in unclipped_params)
    assert not same_weights(weights(clipped.model), weights(unclipped.model))  # and the step used the clipped gradient


def test_train_clips_at_the_recipe_norm(monkeypatch):
    calls = []
    original = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *args, **kwargs):
        calls.append(max_norm)
        return original(params, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    small = {**TINY, "max_steps": 2}
    train(Recipe(task="bin_majority", **small), progress=False, confirm_split=False)
    assert calls == [1.0, 1.0]
    calls.clear()
    train(Recipe(task="bin_majority", max_grad_norm=None, **small), progress=False, confirm_split=False)
    assert calls == []


def test_defaults_are_the_published_recipe():
    recipe = Recipe(task="sort")
    assert (recipe.max_grad_norm, recipe.eval_every, recipe.max_steps, recipe.batch_size) == (1.0, 3000, 30_000, 64)
    assert (recipe.beta1, recipe.beta2, recipe.eps, recipe.weight_decay) == (0.9, 0.999, 1e-8, 0.01)
    assert (recipe.length_buckets, recipe.compile) == (1, False)
    assert recipe.published
    # sizes, lr, dropout, seed, offsets and execution options are free
    for change in (dict(n_layer=4, n_head=4, n_embd=256), dict(lr=1e-4), dict(dropout=0.1), dict(seed=3),
                   dict(offsets=False), dict(length_buckets=4), dict(compile=True)):
        assert Recipe(task="sort", **change).published, change
    for change in (dict(max_grad_norm=None), dict(max_grad_norm=0.5), dict(eval_every=250), dict(max_steps=1000),
                   dict(batch_size=32), dict(weight_decay=0.0), dict(beta1=0.8), dict(beta2=0.99), dict(eps=1e-6)):
        assert not Recipe(task="sort", **change).published, change
    assert set(PUBLISHED_FIELDS) <= {f.name for f in fields(Recipe)}
    with pytest.raises(TrainError, match="max_grad_norm"):
        Recipe(task="sort", max_grad_norm=0.0)
    with pytest.raises(TrainError, match="positive"):
        Recipe(task="sort", length_buckets=0)


def test_saved_recipes_load_and_old_ones_mean_no_clipping():
    recipe = Recipe(task="sort", length_buckets=3, max_grad_norm=0.5, **TINY)
    assert Recipe.from_dict(json.loads(json.dumps(asdict(recipe)))) == recipe
    legacy = {k: v for k, v in asdict(Recipe(task="sort", **TINY)).items() if k not in LEGACY_FIELDS}
    loaded = Recipe.from_dict(legacy)
    assert loaded.max_grad_norm is None and not loaded.published
    assert loaded == Recipe(task="sort", max_grad_norm=None, **TINY)
    with pytest.raises(TrainError, match="warmup"):
        Recipe.from_dict({**asdict(recipe), "warmup": 100})


def test_a_run_saved_before_clipping_resumes_without_it(tmp_path):
    legacy = Recipe(task="bin_majority", max_grad_norm=None, **TINY)
    whole = train(legacy, progress=False, confirm_split=False)
    train(legacy, tmp_path, progress=False, confirm_split=False, stop_after=3)
    state = json.loads((tmp_path / "state.json").read_text())
    state["recipe"] = {k: v for k, v in state["recipe"].items() if k not in LEGACY_FIELDS}  # as the first zoo wrote it
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(TrainError, match="different recipe"):  # the published recipe clips: not the same run
        train(Recipe(task="bin_majority", **TINY), tmp_path, progress=False, confirm_split=False)
    resumed = train(legacy, tmp_path, progress=False, confirm_split=False)
    assert resumed.steps == 6 and same_weights(weights(resumed.model), weights(whole.model))


# ----- checkpoints written as one unit ----------------------------------------------------

CHECKPOINT_FILES = ["model/config.json", "model/model.safetensors", "optimizer.safetensors", "state.json"]


def files_in(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


class Crash(Exception):
    """The process dying (not a KeyboardInterrupt: nothing gets to save)."""


def crash_on(monkeypatch, target: str, nth: int) -> None:
    """Make the ``nth`` ``os.replace`` onto a file named ``target`` die."""
    real, seen = run_folder.os.replace, []

    def replace(src, dst):
        if bt.Path(dst).name == target:
            seen.append(dst)
            if len(seen) == nth:
                raise Crash(dst)
        return real(src, dst)

    monkeypatch.setattr(run_folder.os, "replace", replace)


RESUME = Recipe(task="bin_majority", dropout=0.1, **{**TINY, "eval_every": 2})  # checkpoints at steps 2, 4, 6


def test_a_checkpoint_cut_short_before_it_is_complete_is_dropped(tmp_path, monkeypatch):
    whole = train(RESUME, tmp_path / "whole", progress=False, confirm_split=False)
    run = tmp_path / "run"
    crash_on(monkeypatch, "state.json.new", 2)  # every file of the step-4 set written, the set not yet marked complete
    with pytest.raises(Crash):
        train(RESUME, run, progress=False, confirm_split=False)
    monkeypatch.undo()
    assert files_in(run) == sorted(CHECKPOINT_FILES + ["model/config.json.tmp", "model/model.safetensors.tmp",
                                                       "optimizer.safetensors.tmp", "state.json.tmp"])
    assert json.loads((run / "state.json").read_text())["step"] == 2
    before = {name: (run / name).read_bytes() for name in CHECKPOINT_FILES}
    settle(run)
    assert files_in(run) == CHECKPOINT_FILES and all((run / n).read_bytes() == b for n, b in before.items())
    (run / "optimizer.safetensors.tmp").write_bytes(b"half a file")  # killed while writing: dropped too
    resumed = train(RESUME, run, progress=False, confirm_split=False)
    assert files_in(run) == CHECKPOINT_FILES
    assert resumed.steps == whole.steps == 6 and same_weights(weights(resumed.model), weights(whole.model))
    assert json.loads((run / "state.json").read_text())["history"] == json.loads((tmp_path / "whole" / "state.json").read_text())["history"]


def test_a_complete_checkpoint_cut_short_while_renaming_is_finished(tmp_path, monkeypatch):
    whole = train(RESUME, tmp_path / "whole", progress=False, confirm_split=False)
    run = tmp_path / "run"
    crash_on(monkeypatch, "optimizer.safetensors", 2)  # step-4 model in place, optimizer and state not yet
    with pytest.raises(Crash):
        train(RESUME, run, progress=False, confirm_split=False)
    monkeypatch.undo()
    assert (run / "state.json.new").is_file() and (run / "optimizer.safetensors.tmp").is_file()
    assert json.loads((run / "state.json").read_text())["step"] == 2  # the old state next to the new weights
    settle(run)
    assert files_in(run) == CHECKPOINT_FILES and json.loads((run / "state.json").read_text())["step"] == 4
    resumed = train(RESUME, run, progress=False, confirm_split=False)
    assert resumed.steps == 6 and same_weights(weights(resumed.model), weights(whole.model))


def test_extra_checkpoints_do_not_change_the_run(tmp_path, monkeypatch):
    recipe = Recipe(task="bin_majority", dropout=0.1, **TINY)  # checks at 3 and 6
    whole = train(recipe, progress=False, confirm_split=False)
    crash_on(monkeypatch, "state.json", 2)  # the step-2 set (from checkpoint_every) marked complete, state.json not yet in place
    with pytest.raises(Crash):
        train(recipe, tmp_path, progress=False, confirm_split=False, checkpoint_every=1)
    monkeypatch.undo()
    resumed = train(recipe, tmp_path, progress=False, confirm_split=False, checkpoint_every=1)
    assert resumed.steps == 6 and same_weights(weights(resumed.model), weights(whole.model))
    assert [h["step"] for h in resumed.history] == [3, 6]
    assert resumed.history == [{**h, "loss": pytest.approx(h["loss"])} for h in whole.history]


# ----- the published search grid ---------------------------------------------------------


def test_grid_points_round_trip_their_labels():
    points = [*PUBLISHED_GRID, *PUBLISHED_BEST.values(), GridPoint("3x2x32", 1e-5, 0.25), GridPoint("1x1x8", 3e-4, 0.0)]
    for point in points:
        assert GridPoint.parse(point.label) == point, point.label
    assert GridPoint.parse("2x1x64-lr0.001-do0.1") == GridPoint("2x1x64", 1e-3, 0.1)
    assert GridPoint("1x1x16", 1e-4, 0.0).label == "1x1x16-lr0.0001-do0"
    for bad in ("", "2x1x64", "2x1x64-lr0.001", "2x1x64-0.001-0.1", "2x1-lr0.001-do0.1", "axbxc-lr0.001-do0",
                "2x1x64-lrfast-do0.1", "2x1x64-lr0.001-do0.1-extra", "2x1x64-do0.1-lr0.001"):
        with pytest.raises(TrainError, match="bad grid point"):
            GridPoint.parse(bad)


def test_the_published_grid_and_choices():
    expected = [GridPoint(f"{l}x{h}x{d}", lr, do)
                for l, h, d, lr, do in product((1, 2, 4), (1, 2, 4), (16, 64, 256), (1e-3, 1e-4), (0.0, 0.1))]
    assert list(PUBLISHED_GRID) == expected and len(set(PUBLISHED_GRID)) == 108
    assert PUBLISHED_GRID[0].label == "1x1x16-lr0.001-do0" and PUBLISHED_GRID[-1].label == "4x4x256-lr0.0001-do0.1"
    for task_name, point in PUBLISHED_BEST.items():
        assert point in PUBLISHED_GRID, task_name
        assert get_task(task_name).name == task_name
    assert grid_from(PUBLISHED_GRID, "2x1x64-lr0.001-do0.1")[0] == GridPoint("2x1x64", 1e-3, 0.1)
    assert grid_from(PUBLISHED_GRID, PUBLISHED_GRID[5]) == list(PUBLISHED_GRID[5:])
    with pytest.raises(TrainError, match="not in the search grid"):
        grid_from(PUBLISHED_GRID, "8x1x64-lr0.001-do0")
    recipe = GridPoint("2x2x16", 1e-4, 0.1).recipe(Recipe(task="tomita4", seed=2, offsets=False))
    assert (recipe.arch, recipe.lr, recipe.dropout, recipe.seed, recipe.offsets) == ("2x2x16", 1e-4, 0.1, 2, False)


def test_search_stops_at_the_first_perfect_run_and_keeps_the_first_best(tmp_path, monkeypatch):
    scores = {"1x1x16": 0.5, "1x2x16": 0.9, "2x1x16": 0.9, "2x2x16": 1.0, "4x4x64": 1.0}
    trained = []

    def fake_train(recipe, run_dir, **kw):
        trained.append(recipe.arch)
        return bt.TrainResult(None, recipe, 10, 0.0, False, True)

    def fake_measure(model, task, run_dir):
        return {"test_0_50": 1.0, "test_51_100": 1.0, "test_101_150": scores[trained[-1]]}

    monkeypatch.setattr(bt, "train", fake_train)
    monkeypatch.setattr(bt, "measure_run", fake_measure)
    base = Recipe(task="sort")
    best, entries = search(base, tmp_path, grid=list(scores), log=lambda _: None)
    assert trained == ["1x1x16", "1x2x16", "2x1x16", "2x2x16"] and best.recipe.arch == "2x2x16"
    trained.clear()
    best, entries = search(base, tmp_path, grid=list(scores), max_runs=3, log=lambda _: None)
    assert len(entries) == 3 and best.recipe.arch == "1x2x16"  # the first of the equals
    trained.clear()
    points = [GridPoint(a, 1e-3, 0.0) for a in scores]
    best, entries = search(base, tmp_path, grid=points, start="2x1x16-lr0.001-do0", log=lambda _: None)
    assert trained == ["2x1x16", "2x2x16"]


def test_a_run_perfect_at_length_but_poor_in_distribution_neither_ends_the_search_nor_wins_it(tmp_path, monkeypatch):
    scores = {"1x1x16": (0.70, 1.0), "1x2x16": (0.99, 0.8), "2x1x16": (0.97, 1.0), "2x2x16": (1.0, 1.0)}
    trained = []

    def fake_train(recipe, run_dir, **kw):
        trained.append(recipe.arch)
        return bt.TrainResult(None, recipe, 10, 0.0, False, True)

    def fake_measure(model, task, run_dir):
        short, long = scores[trained[-1]]
        return {"test_0_50": short, "test_51_100": 1.0, "test_101_150": long}

    monkeypatch.setattr(bt, "train", fake_train)
    monkeypatch.setattr(bt, "measure_run", fake_measure)
    best, entries = search(Recipe(task="sort"), tmp_path, grid=list(scores), log=lambda _: None)
    assert trained == ["1x1x16", "1x2x16", "2x1x16"] and best.recipe.arch == "2x1x16"
    trained.clear()
    best, _ = search(Recipe(task="sort"), tmp_path, grid=list(scores), max_runs=2, log=lambda _: None)
    assert best.recipe.arch == "1x2x16"  # 0.8 at length, but the only one good in distribution
    assert bt.search_choice([{"test_0_50": 0.5, "test_101_150": 0.2}, {"test_0_50": 0.6, "test_101_150": 0.4}]) == 1
