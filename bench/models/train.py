"""The training recipe of the reference models (``docs/tasks.md``, "Published figures").

GPT-2 (:mod:`bench.models.model`) trained from scratch on fresh batches of lengths
0-50, each sequence shifted by a random position offset (``offsets=False``
trains the controls that see positions ``0..T-1`` only); loss only at the
scored positions: cross-entropy on the next token for token tasks, binary
cross-entropy on the allowed-next sets for token-set tasks.

The default :class:`Recipe` is the published one: AdamW (betas 0.9/0.999, eps
1e-8, weight decay 0.01), gradient-norm clipping at 1.0, learning rate decaying
linearly to 0 over the whole 30,000-step budget, no warm-up, batch 64, fp32.
Every 3,000 steps the model is checked on a fixed held-out sample of lengths
0-50; at the first check where that is exactly 1.0 and the frozen
``test_0_50`` split confirms it, training stops (so a run takes at least 3,000
steps).

Execution options (:attr:`Recipe.length_buckets`, :attr:`Recipe.compile`)
compute the same loss and gradient on the same batches, faster: the batch is
sorted by length and cut into micro-batches, each padded only to its own
longest sequence, whose gradients add up to the whole batch's (the loss is
normalized by the whole batch's scored positions). They change float rounding
and the dropout draws, not the recipe, and are recorded like every other field.

A run is deterministic given its :class:`Recipe` (``torch.manual_seed`` for the
initialisation and dropout, a ``numpy`` Generator for the data) and resumable:
the run folder holds the model (``model/``, the Hugging Face format), the
optimizer moments and the torch RNG state (``optimizer.safetensors``), and the
step, data-RNG state and history (``state.json``); nothing is pickled.
Resuming gives the same weights as an uninterrupted run.

:func:`search` runs the published architecture search: :data:`PUBLISHED_GRID`
in its order (layers, heads, width, learning rate, dropout), from a given
starting point, until a run is perfect on ``test_101_150`` (and, our addition, at
least :data:`IN_DISTRIBUTION_BAR` on ``test_0_50``), keeping the best ``test_101_150``
accuracy among the runs that clear that bar (the first in grid order among equals).
:data:`PUBLISHED_BEST` is the configuration the published search chose per task.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.data.task import TEST_SPLITS, TRAIN_RANGE, Batch, Task, get_task
from bench.models.model import GPT2, ModelError
from bench.models.predict import accuracy
from bench.models.grid import (DEFAULT_GRID, IN_DISTRIBUTION_BAR, PUBLISHED_BEST, PUBLISHED_GRID,
                               PUBLISHED_NOT_GENERALIZING, GridPoint, ends_search, grid_from, search_choice)
from bench.models.recipe import Recipe, TrainError, parse_arch
from bench.models.run_folder import MODEL_DIR, STATE_NAME, load_checkpoint, save_checkpoint, settle
from bench.models.step import Stepper, make_optimizer


@dataclass(frozen=True)
class TrainResult:
    model: GPT2
    recipe: Recipe
    steps: int  # optimizer steps taken
    wall_time_s: float  # training time summed over every session of the run
    stopped_early: bool  # test_0_50 was perfect before the step budget ran out
    finished: bool  # False when stopped by ``stop_after`` (resumable)
    history: list = field(default_factory=list)  # {"step", "loss", "heldout_acc"} per check


# ----- measuring ----------------------------------------------------------------


def heldout_batches(task: Task, recipe: Recipe, chunk: int = 256) -> list[Batch]:
    """The fixed early-stop sample: lengths 0-50, positions from 0, from its own seed."""
    rng = np.random.default_rng([recipe.seed, 1])
    sizes = [min(chunk, recipe.eval_size - start) for start in range(0, recipe.eval_size, chunk)]
    return [task.sample_batch(n, *TRAIN_RANGE, rng, offsets=False) for n in sizes]


def split_accuracy(model: GPT2, task: Task, split: str, batch_size: int = 256) -> float:
    """Sequence accuracy on one frozen test split (``bench.data.splits``)."""
    from bench.data.splits import load_splits, split_batches

    dataset = load_splits(task)[split]
    return accuracy(model, split_batches(task, dataset, batch_size), task.kind)


def bin_accuracy(model: GPT2, task: Task, split: str, n: int = 2000, seed: int = 0) -> tuple[float, str]:
    """``(accuracy, what it was measured on)``: the frozen split, or, where ``bench.data.splits``
    is not installed, ``n`` fresh sequences of the bin's lengths from a fixed seed."""
    try:
        return split_accuracy(model, task, split), split
    except ImportError:
        rng = np.random.default_rng([seed, 7, *TEST_SPLITS[split]])
        batches = [task.sample_batch(min(250, n - i), *TEST_SPLITS[split], rng, offsets=False) for i in range(0, n, 250)]
        return accuracy(model, batches, task.kind), f"sample({n}, seed={seed}) of {split}"


def test_accuracies(model: GPT2, task: Task) -> dict[str, float]:
    """Accuracy on each frozen test bin: ``{"test_0_50": ..., "test_51_100": ..., "test_101_150": ...}``."""
    return {split: split_accuracy(model, task, split) for split in TEST_SPLITS}


# ----- the loop ---------------------------------------------------------------------


def train(
    recipe: Recipe,
    run_dir: str | Path | None = None,
    *,
    task: Task | None = None,
    progress: bool = True,
    threads: int | None = 1,
    stop_after: int | None = None,
    confirm_split: bool = True,
    checkpoint_every: int | None = None,
) -> TrainResult:
    """Train (or resume) one model; see the module docstring.

    ``run_dir`` receives checkpoints (none when it is None); an existing run
    there with the same recipe is resumed. ``stop_after`` pauses after that
    many steps in total (for interrupting deliberately). ``confirm_split``
    confirms an early stop on the frozen ``test_0_50`` split; without it the
    held-out sample alone decides. ``checkpoint_every`` adds checkpoints between
    the checks (a killed run then loses less; the result is the same).
    """
    from tqdm.auto import tqdm

    task, model, optimizer = _new_model(recipe, task, threads)
    rng = np.random.default_rng(recipe.seed)
    run_dir = Path(run_dir) if run_dir is not None else None
    state = _start_or_resume(run_dir, recipe, model, optimizer, rng)
    heldout, stepper = heldout_batches(task, recipe), Stepper(model, optimizer, task, recipe)
    end, first_step = (recipe.max_steps if stop_after is None else min(stop_after, recipe.max_steps)), state["step"]
    run = _Sitting(run_dir, model, optimizer, rng, state)
    bar = tqdm(total=recipe.max_steps, initial=state["step"], desc=f"{task.name} {recipe.arch}", disable=not progress, mininterval=5)
    stepping = False
    try:
        while not state["done"] and state["step"] < end:
            step = state["step"]
            batch = task.sample_batch(recipe.batch_size, *TRAIN_RANGE, rng, offsets=recipe.offsets)
            stepping = True
            loss = stepper(batch, recipe.lr * (1 - step / recipe.max_steps))  # linear decay, no warm-up
            state["step"] = step + 1
            stepping = False
            run.loss_sum, run.loss_n = run.loss_sum + loss, run.loss_n + 1
            bar.update(1)
            if state["step"] % recipe.eval_every == 0 or state["step"] == recipe.max_steps:
                acc = _check(model, heldout, task, recipe, state, run.loss_sum / run.loss_n, confirm_split)
                bar.set_postfix(loss=f"{run.loss_sum / run.loss_n:.4f}", acc=f"{acc:.3f}")
                run.loss_sum, run.loss_n = 0.0, 0
                run.checkpoint()
            elif checkpoint_every and state["step"] % checkpoint_every == 0 and state["step"] < end:
                run.checkpoint()
        if state["step"] > first_step and state["step"] % recipe.eval_every and state["step"] < recipe.max_steps:
            run.checkpoint()  # paused between two checks
    except KeyboardInterrupt:
        if not stepping:  # an interrupted step leaves weights and step count apart: keep the last checkpoint
            run.checkpoint()
        raise
    finally:
        bar.close()
    model.eval()
    return TrainResult(model, recipe, state["step"], state["elapsed_s"], state["stopped_early"], state["done"], state["history"])


# ----- architecture search ------------------------------------------------------------

def n_params(recipe: Recipe, task: Task) -> int:
    """Trainable parameters of the recipe's model for ``task`` (tied embedding counted once)."""
    d, L, V, P = recipe.n_embd, recipe.n_layer, task.vocab_size, task.n_positions
    return V * d + P * d + L * (12 * d * d + 13 * d) + 2 * d


def run_name(recipe: Recipe) -> str:
    """The run folder name of a recipe in a search: task, grid point, seed, control marker, and
    any non-published optimization or execution option."""
    extra = "".join(f"-{k}{getattr(recipe, k)}" for k in ("max_steps", "eval_every", "max_grad_norm") if getattr(recipe, k) != getattr(Recipe, k))
    extra += f"-b{recipe.length_buckets}" if recipe.length_buckets > 1 else ""
    extra += "-compiled" if recipe.compile else ""
    return f"{recipe.task}-{recipe.arch}-lr{recipe.lr:g}-do{recipe.dropout:g}-s{recipe.seed}{'' if recipe.offsets else '-noofs'}{extra}"


@dataclass(frozen=True)
class SearchEntry:
    recipe: Recipe
    run_dir: str
    steps: int
    wall_time_s: float
    accuracies: dict  # test bin -> sequence accuracy
    stopped_early: bool = False

    def record(self) -> dict:
        """The search record row: grid point, steps, time, accuracy per bin."""
        return {"arch": self.recipe.arch, "lr": self.recipe.lr, "dropout": self.recipe.dropout, "steps": self.steps,
                "stopped_early": self.stopped_early, "wall_time_s": round(self.wall_time_s, 1), "accuracy": self.accuracies}


def search(
    base: Recipe, run_root: str | Path, grid=PUBLISHED_GRID, *, start: GridPoint | str | None = None,
    max_runs: int | None = None, progress: bool = True, log=print, **train_kw,
) -> tuple[SearchEntry, list[SearchEntry]]:
    """The published search: train each grid point in order (from ``start``), stop at the first
    run perfect on test_101_150 (:func:`ends_search`), keep the best test_101_150 accuracy
    (:func:`search_choice`).

    ``grid`` holds :class:`GridPoint` s, or architecture strings that keep ``base``'s lr and
    dropout (the older search). ``max_runs`` bounds the number of grid points trained. Returns
    the chosen entry and every entry, in order (:meth:`SearchEntry.record` gives the search
    record). Each run folder keeps its measured accuracies (``selection.json``), so a rerun resumes.
    """
    task = get_task(base.task)
    points = [GridPoint(p, base.lr, base.dropout) if isinstance(p, str) else p for p in grid]
    points = grid_from(points, start)[:max_runs]
    entries: list[SearchEntry] = []
    for point in points:
        recipe = point.recipe(base)
        run_dir = Path(run_root) / run_name(recipe)
        result = train(recipe, run_dir, task=task, progress=progress, **train_kw)
        accs = measure_run(result.model, task, run_dir)
        entries.append(SearchEntry(recipe, str(run_dir), result.steps, result.wall_time_s, accs, result.stopped_early))
        log(f"{task.name} {point.label}: {result.steps} steps, {result.wall_time_s:.0f}s, " + " ".join(f"{k}={v:.3f}" for k, v in accs.items()))
        if ends_search(accs):
            break
    if not entries:
        raise TrainError("the search grid is empty")
    return entries[search_choice([e.accuracies for e in entries])], entries


class _Sitting:
    """One sitting of a run: its state, the loss summed since the last check, and the checkpoints it writes."""

    def __init__(self, run_dir: Path | None, model: GPT2, optimizer, rng, state: dict):
        self.run_dir, self.model, self.optimizer, self.rng, self.state = run_dir, model, optimizer, rng, state
        since = state.pop("since_check", {"loss_sum": 0.0, "steps": 0})
        self.loss_sum, self.loss_n = since["loss_sum"], since["steps"]
        self.clock = time.perf_counter()

    def checkpoint(self) -> None:
        """Add the time since the last checkpoint to the run's; save everything when the run has a folder."""
        self.state["elapsed_s"] += time.perf_counter() - self.clock
        self.clock = time.perf_counter()
        if self.run_dir is not None:
            self.state["rng"] = self.rng.bit_generator.state
            self.state["since_check"] = {"loss_sum": self.loss_sum, "steps": self.loss_n}  # the next check's mean loss
            save_checkpoint(self.run_dir, self.model, self.optimizer, self.state)


def _new_model(recipe: Recipe, task: Task | None, threads: int | None):
    """``(task, model, optimizer)``: the recipe's freshly initialised model (seeded) and its AdamW."""
    if threads:
        torch.set_num_threads(threads)
    task = task or get_task(recipe.task)
    if task.name != recipe.task:
        raise TrainError(f"recipe is for task {recipe.task!r} but the task given is {task.name!r}")
    torch.manual_seed(recipe.seed)
    model = GPT2(recipe.model_config(task)).train()
    return task, model, make_optimizer(model, recipe)


def _start_or_resume(run_dir: Path | None, recipe: Recipe, model: GPT2, optimizer, rng) -> dict:
    """The run's state: fresh, or the checkpoint in ``run_dir`` (loaded into model, optimizer and ``rng``)."""
    state = {"recipe": asdict(recipe), "step": 0, "elapsed_s": 0.0, "history": [], "done": False, "stopped_early": False}
    if run_dir is not None and run_dir.is_dir():
        settle(run_dir)
    if run_dir is not None and (run_dir / STATE_NAME).is_file():
        saved = json.loads((run_dir / STATE_NAME).read_text())
        if Recipe.from_dict(saved.get("recipe", {"task": None})) != recipe:
            raise TrainError(f"{run_dir} holds a run with a different recipe; use another folder")
        state = load_checkpoint(run_dir, model, optimizer)
        rng.bit_generator.state = state["rng"]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    return state


def _check(model: GPT2, heldout: list[Batch], task: Task, recipe: Recipe, state: dict, mean_loss: float,
           confirm_split: bool) -> float:
    """The periodic check: record the held-out accuracy, decide whether training is done; returns the accuracy."""
    acc = accuracy(model, heldout, task.kind)
    state["history"].append({"step": state["step"], "loss": mean_loss, "heldout_acc": acc})
    if acc == 1.0 and (not confirm_split or bin_accuracy(model, task, "test_0_50")[0] == 1.0):
        state["done"] = state["stopped_early"] = True
    state["done"] = state["done"] or state["step"] >= recipe.max_steps
    return acc


def measure_run(model: GPT2, task: Task, run_dir: Path | None = None) -> dict[str, float]:
    """Accuracy per test bin (:func:`bin_accuracy`), cached as ``selection.json`` in the run folder."""
    path = Path(run_dir) / "selection.json" if run_dir is not None else None
    step = json.loads((Path(run_dir) / STATE_NAME).read_text())["step"] if path is not None else None
    if path is not None and path.is_file():
        saved = json.loads(path.read_text())
        if saved["step"] == step:  # measured on these very weights
            return saved["accuracy"]
    measured = {split: bin_accuracy(model, task, split) for split in TEST_SPLITS}
    accs = {split: acc for split, (acc, _) in measured.items()}
    if path is not None:
        on = {s: where for s, (_, where) in measured.items()}
        path.write_text(json.dumps({"step": step, "accuracy": accs, "measured_on": on}, indent=1) + "\n")
    return accs


def load_run(run_dir: str | Path) -> tuple[GPT2, dict]:
    """The model and ``state.json`` of a run folder."""
    run_dir = Path(run_dir)
    if not (run_dir / STATE_NAME).is_file():
        raise TrainError(f"no training run in {run_dir} (missing {STATE_NAME})")
    try:
        model = GPT2.from_pretrained(run_dir / MODEL_DIR)
    except ModelError as err:
        raise TrainError(str(err)) from None
    return model, json.loads((run_dir / STATE_NAME).read_text())


__all__ = [
    "Recipe", "TrainResult", "TrainError", "train", "search", "measure_run", "test_accuracies", "load_run", "parse_arch",
    "GridPoint", "PUBLISHED_GRID", "PUBLISHED_BEST", "PUBLISHED_NOT_GENERALIZING", "DEFAULT_GRID", "grid_from",
    "IN_DISTRIBUTION_BAR", "ends_search", "search_choice",
]
