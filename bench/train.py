"""The training recipe of the reference models (TASKS.md, "published figures").

GPT-2 (:mod:`bench.model`) trained from scratch on fresh batches of lengths
0-50, each sequence shifted by a random position offset (``offsets=False``
trains the controls that see positions ``0..T-1`` only); loss only at the
scored positions: cross-entropy on the next token for token tasks, binary
cross-entropy on the allowed-next sets for token-set tasks. AdamW (weight decay
0.01), learning rate decaying linearly to 0 over the step budget, no warm-up,
batch 64. Every ``eval_every`` steps the model is checked on a fixed held-out
sample of lengths 0-50; when that is perfect, the frozen ``test_0_50`` split
confirms it and training stops early.

A run is deterministic given its :class:`Recipe` (``torch.manual_seed`` for the
initialisation and dropout, a ``numpy`` Generator for the data) and resumable:
the run folder holds the model (``model/``, the Hugging Face format), the
optimizer moments and the torch RNG state (``optimizer.safetensors``), and the
step, data-RNG state and history (``state.json``); nothing is pickled.
Resuming gives the same weights as an uninterrupted run.

:func:`search` runs the architecture search: a small grid in order of size,
keeping the best ``test_101_150`` accuracy and, among equals, the smallest.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.model import GPT2, GPT2Config, ModelError
from bench.predict import accuracy, model_inputs
from bench.task import TEST_SPLITS, TRAIN_RANGE, Batch, Task, get_task

STATE_NAME = "state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
MODEL_DIR = "model"


class TrainError(ValueError):
    """A bad recipe or an unusable run folder; the message is one line."""


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a training run."""

    task: str
    n_layer: int = 2
    n_head: int = 1
    n_embd: int = 64
    lr: float = 1e-3
    max_steps: int = 30_000  # the step budget; the learning rate decays linearly over it
    batch_size: int = 64
    dropout: float = 0.0  # attention, residual and embedding dropout alike
    weight_decay: float = 0.01
    offsets: bool = True  # random position offsets (False for the controls)
    seed: int = 0
    eval_every: int = 250  # steps between checks on the held-out sample (and checkpoints)
    eval_size: int = 512  # held-out sequences of lengths 0-50 for the early-stop check

    def __post_init__(self):
        if min(self.n_layer, self.n_head, self.n_embd, self.max_steps, self.batch_size, self.eval_every) < 1:
            raise TrainError(f"recipe sizes and counts must be positive: {self}")
        if self.n_embd % self.n_head:
            raise TrainError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}")

    @property
    def arch(self) -> str:
        return f"{self.n_layer}x{self.n_head}x{self.n_embd}"

    def with_arch(self, arch: str) -> "Recipe":
        """A copy with the architecture ``LxHxD`` (layers x heads x width)."""
        return replace(self, **parse_arch(arch))

    def model_config(self, task: Task) -> GPT2Config:
        return GPT2Config(
            vocab_size=task.vocab_size,
            n_positions=task.n_positions,
            n_embd=self.n_embd,
            n_layer=self.n_layer,
            n_head=self.n_head,
            attn_pdrop=self.dropout,
            resid_pdrop=self.dropout,
            embd_pdrop=self.dropout,
            bos_token_id=task.vocab.bos,
            eos_token_id=task.vocab.eos,
            rasp_bench={"task": task.name, "task_version": task.version, "kind": task.kind, "recipe": asdict(self)},
        )


def parse_arch(arch: str) -> dict:
    """``"2x1x64"`` -> ``{"n_layer": 2, "n_head": 1, "n_embd": 64}``."""
    try:
        n_layer, n_head, n_embd = (int(part) for part in arch.lower().split("x"))
    except ValueError:
        raise TrainError(f"bad architecture {arch!r}: expected LAYERSxHEADSxWIDTH, e.g. 2x1x64") from None
    return {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}


@dataclass(frozen=True)
class TrainResult:
    model: GPT2
    recipe: Recipe
    steps: int  # optimizer steps taken
    wall_time_s: float  # training time summed over every session of the run
    stopped_early: bool  # test_0_50 was perfect before the step budget ran out
    finished: bool  # False when stopped by ``stop_after`` (resumable)
    history: list = field(default_factory=list)  # {"step", "loss", "heldout_acc"} per check


# ----- loss and data --------------------------------------------------------------


def loss_fn(logits: torch.Tensor, batch: Batch, kind: str) -> torch.Tensor:
    """Cross-entropy (token tasks) or BCE on the allowed-next sets, at scored positions only."""
    mask = torch.from_numpy(np.asarray(batch.label_mask, dtype=bool))
    scored = logits[mask]  # (N, V)
    if kind == "token":
        return nn.functional.cross_entropy(scored, torch.from_numpy(batch.labels)[mask])
    return nn.functional.binary_cross_entropy_with_logits(scored, torch.from_numpy(batch.labels)[mask].float())


def heldout_batches(task: Task, recipe: Recipe, chunk: int = 256) -> list[Batch]:
    """The fixed early-stop sample: lengths 0-50, positions from 0, from its own seed."""
    rng = np.random.default_rng([recipe.seed, 1])
    sizes = [min(chunk, recipe.eval_size - start) for start in range(0, recipe.eval_size, chunk)]
    return [task.sample_batch(n, *TRAIN_RANGE, rng, offsets=False) for n in sizes]


def split_accuracy(model: GPT2, task: Task, split: str, batch_size: int = 256) -> float:
    """Sequence accuracy on one frozen test split (``bench.splits``)."""
    from bench.splits import load_splits, split_batches

    dataset = load_splits(task)[split]
    return accuracy(model, split_batches(task, dataset, batch_size), task.kind)


def bin_accuracy(model: GPT2, task: Task, split: str, n: int = 2000, seed: int = 0) -> tuple[float, str]:
    """``(accuracy, what it was measured on)``: the frozen split, or, where ``bench.splits``
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


# ----- checkpoints ------------------------------------------------------------------


def _save_checkpoint(run_dir: Path, model: GPT2, optimizer, state: dict) -> None:
    from safetensors.torch import save_file

    model.save_pretrained(run_dir / MODEL_DIR)
    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {"torch_rng": torch.get_rng_state()}
    for param, moments in optimizer.state.items():
        for key, value in moments.items():
            tensors[f"{names[id(param)]}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    tmp = run_dir / (OPTIMIZER_NAME + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, run_dir / OPTIMIZER_NAME)
    tmp = run_dir / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp, run_dir / STATE_NAME)  # written last: a state.json always has its weights


def _load_checkpoint(run_dir: Path, model: GPT2, optimizer) -> dict:
    from safetensors.torch import load_file

    state = json.loads((run_dir / STATE_NAME).read_text())
    model.load_weights(run_dir / MODEL_DIR / "model.safetensors")
    tensors = load_file(str(run_dir / OPTIMIZER_NAME))
    torch.set_rng_state(tensors.pop("torch_rng"))
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        name, moment = key.rsplit(".", 1)
        optimizer.state[params[name]][moment] = value
    return state


def _make_optimizer(model: GPT2, recipe: Recipe) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)


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
) -> TrainResult:
    """Train (or resume) one model; see the module docstring.

    ``run_dir`` receives checkpoints (none when it is None); an existing run
    there with the same recipe is resumed. ``stop_after`` pauses after that
    many steps in total (for interrupting deliberately). ``confirm_split``
    confirms an early stop on the frozen ``test_0_50`` split; without it the
    held-out sample alone decides.
    """
    from tqdm.auto import tqdm

    if threads:
        torch.set_num_threads(threads)
    task = task or get_task(recipe.task)
    if task.name != recipe.task:
        raise TrainError(f"recipe is for task {recipe.task!r} but the task given is {task.name!r}")
    torch.manual_seed(recipe.seed)
    model = GPT2(recipe.model_config(task)).train()
    optimizer = _make_optimizer(model, recipe)
    rng = np.random.default_rng(recipe.seed)
    state = {"recipe": asdict(recipe), "step": 0, "elapsed_s": 0.0, "history": [], "done": False, "stopped_early": False}

    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and (run_dir / STATE_NAME).is_file():
        saved = json.loads((run_dir / STATE_NAME).read_text())
        if saved.get("recipe") != asdict(recipe):
            raise TrainError(f"{run_dir} holds a run with a different recipe; use another folder")
        state = _load_checkpoint(run_dir, model, optimizer)
        rng.bit_generator.state = state["rng"]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)

    heldout = heldout_batches(task, recipe)
    end = recipe.max_steps if stop_after is None else min(stop_after, recipe.max_steps)
    first_step, clock = state["step"], time.perf_counter()
    bar = tqdm(total=recipe.max_steps, initial=state["step"], desc=f"{task.name} {recipe.arch}", disable=not progress, mininterval=5)

    def checkpoint() -> None:
        nonlocal clock
        state["elapsed_s"] += time.perf_counter() - clock
        clock = time.perf_counter()
        if run_dir is not None:
            state["rng"] = rng.bit_generator.state
            _save_checkpoint(run_dir, model, optimizer, state)

    loss_sum, loss_n = 0.0, 0
    try:
        while not state["done"] and state["step"] < end:
            step = state["step"]
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr * (1 - step / recipe.max_steps)  # linear decay, no warm-up
            batch = task.sample_batch(recipe.batch_size, *TRAIN_RANGE, rng, offsets=recipe.offsets)
            ids, pos = model_inputs(batch, task.n_positions)
            loss = loss_fn(model(torch.from_numpy(ids), torch.from_numpy(pos)), batch, task.kind)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["step"] = step + 1
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            bar.update(1)
            if state["step"] % recipe.eval_every == 0 or state["step"] == recipe.max_steps:
                acc = accuracy(model, heldout, task.kind)
                state["history"].append({"step": state["step"], "loss": loss_sum / loss_n, "heldout_acc": acc})
                bar.set_postfix(loss=f"{loss_sum / loss_n:.4f}", acc=f"{acc:.3f}")
                loss_sum, loss_n = 0.0, 0
                if acc == 1.0 and (not confirm_split or bin_accuracy(model, task, "test_0_50")[0] == 1.0):
                    state["done"] = state["stopped_early"] = True
                state["done"] = state["done"] or state["step"] >= recipe.max_steps
                checkpoint()
        if state["step"] > first_step and state["step"] % recipe.eval_every and state["step"] < recipe.max_steps:
            checkpoint()  # paused between two checks
    except KeyboardInterrupt:
        checkpoint()
        raise
    finally:
        bar.close()
    model.eval()
    return TrainResult(model, recipe, state["step"], state["elapsed_s"], state["stopped_early"], state["done"], state["history"])


# ----- architecture search ------------------------------------------------------------

#: The search grid, smallest first (layers x heads x width), after the published one.
DEFAULT_GRID = ("1x1x16", "1x2x16", "2x1x16", "2x2x16", "1x1x64", "1x4x64", "2x1x64", "2x2x64", "4x4x64")


def n_params(recipe: Recipe, task: Task) -> int:
    """Trainable parameters of the recipe's model for ``task`` (tied embedding counted once)."""
    d, L, V, P = recipe.n_embd, recipe.n_layer, task.vocab_size, task.n_positions
    return V * d + P * d + L * (12 * d * d + 13 * d) + 2 * d


@dataclass(frozen=True)
class SearchEntry:
    recipe: Recipe
    run_dir: str
    steps: int
    wall_time_s: float
    accuracies: dict  # test bin -> sequence accuracy


def search(
    base: Recipe, run_root: str | Path, grid=DEFAULT_GRID, *, progress: bool = True, log=print
) -> tuple[SearchEntry, list[SearchEntry]]:
    """Train each architecture of ``grid`` (smallest first) until one is perfect on test_101_150.

    Returns the chosen entry (best ``test_101_150``, smallest among equals) and every entry.
    Each run folder keeps its measured accuracies (``selection.json``), so a rerun resumes.
    """
    task = get_task(base.task)
    recipes = sorted((base.with_arch(a) for a in grid), key=lambda r: n_params(r, task))
    entries: list[SearchEntry] = []
    for recipe in recipes:
        run_dir = Path(run_root) / f"{task.name}-{recipe.arch}-s{recipe.seed}{'' if recipe.offsets else '-noofs'}"
        result = train(recipe, run_dir, task=task, progress=progress)
        accs = measure_run(result.model, task, run_dir)
        entries.append(SearchEntry(recipe, str(run_dir), result.steps, result.wall_time_s, accs))
        log(f"{task.name} {recipe.arch}: {result.steps} steps, {result.wall_time_s:.0f}s, " + " ".join(f"{k}={v:.3f}" for k, v in accs.items()))
        if accs["test_101_150"] == 1.0:
            break
    best = max(entries, key=lambda e: selection_key(e.accuracies))  # max keeps the first (smallest) of equals
    return best, entries


def selection_key(accuracies: dict) -> tuple[float, float, float]:
    """Order of preference in a search: test_101_150 first, then the shorter bins to break ties."""
    return accuracies["test_101_150"], accuracies["test_51_100"], accuracies["test_0_50"]


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


__all__ = ["Recipe", "TrainResult", "TrainError", "train", "search", "measure_run", "test_accuracies", "load_run", "parse_arch", "DEFAULT_GRID"]
