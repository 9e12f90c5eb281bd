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
starting point, until a run is perfect on ``test_101_150``, keeping the best
``test_101_150`` accuracy (the first in grid order among equals).
:data:`PUBLISHED_BEST` is the configuration the published search chose per task.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.data.task import TEST_SPLITS, TRAIN_RANGE, Batch, Task, get_task
from bench.errors import BenchError
from bench.models.model import CONFIG_NAME, WEIGHTS_NAME, GPT2, GPT2Config, ModelError
from bench.models.predict import accuracy, model_inputs

STATE_NAME = "state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
MODEL_DIR = "model"


class TrainError(BenchError):
    """A bad recipe or an unusable run folder; the message is one line."""


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a training run; the defaults are the published recipe."""

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
    eval_every: int = 3_000  # steps between checks on the held-out sample (and checkpoints)
    eval_size: int = 512  # held-out sequences of lengths 0-50 for the early-stop check
    max_grad_norm: float | None = 1.0  # gradient-norm clipping (None: off, as in the zoo's first version)
    beta1: float = 0.9  # AdamW
    beta2: float = 0.999
    eps: float = 1e-8
    # execution: the same loss and gradient, different float rounding and dropout draws
    length_buckets: int = 1  # micro-batches by length; 1: the whole batch padded to its longest sequence
    compile: bool = False  # torch.compile the forward pass (inductor, dynamic shapes)

    def __post_init__(self):
        if min(self.n_layer, self.n_head, self.n_embd, self.max_steps, self.batch_size, self.eval_every, self.length_buckets) < 1:
            raise TrainError(f"recipe sizes and counts must be positive: {self}")
        if self.n_embd % self.n_head:
            raise TrainError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise TrainError(f"max_grad_norm must be positive or None, got {self.max_grad_norm}")

    @classmethod
    def from_dict(cls, saved: dict) -> "Recipe":
        """The recipe of a saved run (``state.json``, a manifest); fields it predates take
        the values runs had before they existed (:data:`LEGACY_FIELDS`: no clipping)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(saved) - known)
        if unknown:
            raise TrainError(f"unknown recipe field(s) {unknown}")
        return cls(**{**LEGACY_FIELDS, **saved})

    @property
    def published(self) -> bool:
        """True when the optimization is the published one (any size, lr, dropout, seed, offsets)."""
        return all(getattr(self, k) == getattr(Recipe, k) for k in PUBLISHED_FIELDS)

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


#: Values of the fields a run's saved recipe predates (runs of the zoo's first version).
LEGACY_FIELDS = {"max_grad_norm": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "length_buckets": 1, "compile": False}
#: Fields the published recipe fixes for every model (execution options and sizes excluded).
PUBLISHED_FIELDS = ("max_steps", "batch_size", "weight_decay", "eval_every", "max_grad_norm", "beta1", "beta2", "eps")


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


def loss_fn(logits: torch.Tensor, batch: Batch, kind: str, normalizer: int | None = None) -> torch.Tensor:
    """Cross-entropy (token tasks) or BCE on the allowed-next sets, at scored positions only.

    The mean over scored positions (over scored position x vocabulary entry for BCE), or,
    with ``normalizer``, the sum divided by it (a micro-batch's share of a whole batch's mean).
    """
    mask = torch.from_numpy(np.asarray(batch.label_mask, dtype=bool))
    scored = logits[mask]  # (N, V)
    reduction = "mean" if normalizer is None else "sum"
    if kind == "token":
        loss = nn.functional.cross_entropy(scored, torch.from_numpy(batch.labels)[mask], reduction=reduction)
    else:
        loss = nn.functional.binary_cross_entropy_with_logits(scored, torch.from_numpy(batch.labels)[mask].float(), reduction=reduction)
    return loss if normalizer is None else loss / normalizer


def loss_terms(batch: Batch, kind: str, vocab_size: int) -> int:
    """How many terms :func:`loss_fn`'s mean averages over for ``batch``."""
    n = int(np.asarray(batch.label_mask, dtype=bool).sum())
    return n if kind == "token" else n * vocab_size


def length_buckets(batch: Batch, k: int) -> list[Batch]:
    """``batch`` sorted by length (stable) and cut into ``k`` near-equal parts, each cut to
    its longest sequence: the same sequences with less padding."""
    if k <= 1:
        return [batch]
    order = np.argsort(batch.lengths, kind="stable")
    parts = []
    for rows in np.array_split(order, min(k, len(order))):
        width = max(1, int(batch.lengths[rows].max()))
        parts.append(Batch(batch.input_ids[rows, :width], batch.position_ids[rows, :width], batch.lengths[rows],
                           batch.label_mask[rows, :width], batch.labels[rows, :width]))
    return parts


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


# ----- checkpoints ------------------------------------------------------------------


def _save_checkpoint(run_dir: Path, model: GPT2, optimizer, state: dict) -> None:
    """Write model, optimizer and state as one unit: every file goes to ``*.tmp`` first;
    ``state.json.new`` marks the set complete, then each is renamed into place. A run
    killed half-way is completed (or the incomplete set dropped) by :func:`_settle`."""
    from safetensors.torch import save_file

    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {"torch_rng": torch.get_rng_state()}
    for param, moments in optimizer.state.items():
        for key, value in moments.items():
            tensors[f"{names[id(param)]}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    (run_dir / MODEL_DIR).mkdir(parents=True, exist_ok=True)
    config = run_dir / MODEL_DIR / CONFIG_NAME
    config.with_name(CONFIG_NAME + ".tmp").write_text(json.dumps(model.cfg.to_hf_dict(), indent=2) + "\n")
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(run_dir / MODEL_DIR / (WEIGHTS_NAME + ".tmp")), metadata={"format": "pt"})
    save_file(tensors, str(run_dir / (OPTIMIZER_NAME + ".tmp")))
    (run_dir / (STATE_NAME + ".tmp")).write_text(json.dumps(state, indent=1) + "\n")
    os.replace(run_dir / (STATE_NAME + ".tmp"), run_dir / (STATE_NAME + ".new"))  # the set is complete
    _settle(run_dir)


def _checkpoint_files(run_dir: Path) -> list[Path]:
    """The files of a checkpoint, ``state.json`` last."""
    return [run_dir / MODEL_DIR / CONFIG_NAME, run_dir / MODEL_DIR / WEIGHTS_NAME, run_dir / OPTIMIZER_NAME, run_dir / STATE_NAME]


def _settle(run_dir: Path) -> None:
    """Finish an interrupted checkpoint (``state.json.new`` present) or drop an incomplete one."""
    complete = (run_dir / (STATE_NAME + ".new")).is_file()
    for path in _checkpoint_files(run_dir):
        pending = path.with_name(path.name + (".new" if path.name == STATE_NAME else ".tmp"))
        if pending.is_file():
            if complete:
                os.replace(pending, path)
            else:
                pending.unlink()
    stray = run_dir / (STATE_NAME + ".tmp")
    if stray.is_file():
        stray.unlink()


def _load_checkpoint(run_dir: Path, model: GPT2, optimizer) -> dict:
    from safetensors.torch import load_file

    state = json.loads((run_dir / STATE_NAME).read_text())
    model.load_weights(run_dir / MODEL_DIR / WEIGHTS_NAME)
    tensors = load_file(str(run_dir / OPTIMIZER_NAME))
    torch.set_rng_state(tensors.pop("torch_rng"))
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        name, moment = key.rsplit(".", 1)
        optimizer.state[params[name]][moment] = value
    return state


def _make_optimizer(model: GPT2, recipe: Recipe) -> torch.optim.AdamW:
    # foreach: the same numbers as the for-loop implementation, fewer kernel launches
    # (fused=True is faster still but rounds differently)
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(recipe.beta1, recipe.beta2), eps=recipe.eps,
                             weight_decay=recipe.weight_decay, foreach=True)


def _core_logits(model: GPT2, input_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """``model(input_ids, position_ids)`` without the input checks (which need host syncs and
    would break a compiled graph); the same operations in the same order."""
    t = model.transformer
    x = t.drop(model.hook_embed(t.wte(input_ids)) + model.hook_pos_embed(t.wpe(position_ids)))
    for block in t.h:
        x = block(x)
    return t.ln_f(x) @ model.lm_head_weight.T


class Stepper:
    """One optimizer step of a recipe on a batch: gradient (micro-batches by length when
    ``length_buckets > 1``), clipping, AdamW. Returns the batch's loss."""

    def __init__(self, model: GPT2, optimizer, task: Task, recipe: Recipe):
        self.model, self.optimizer, self.task, self.recipe = model, optimizer, task, recipe
        self.params = [p for p in model.parameters() if p.requires_grad]
        if recipe.compile:
            import torch._dynamo

            torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
            self.forward = torch.compile(_core_logits, dynamic=True)
        else:
            self.forward = model  # the plain path: exactly the model's forward

    def _logits(self, batch: Batch) -> torch.Tensor:
        ids, pos = (torch.from_numpy(a) for a in model_inputs(batch, self.task.n_positions))
        return self.forward(self.model, ids, pos) if self.recipe.compile else self.model(ids, pos)

    def compute_gradient(self, batch: Batch) -> float:
        kind = self.task.kind
        self.optimizer.zero_grad(set_to_none=True)
        if self.recipe.length_buckets <= 1:
            loss = loss_fn(self._logits(batch), batch, kind)
            loss.backward()
            return loss.item()
        total = loss_terms(batch, kind, self.task.vocab_size)
        value = 0.0
        for part in length_buckets(batch, self.recipe.length_buckets):
            if not part.label_mask.any():
                continue  # nothing scored: no gradient (and no dropout draws)
            loss = loss_fn(self._logits(part), part, kind, normalizer=total)
            loss.backward()
            value += loss.item()
        return value

    def __call__(self, batch: Batch, lr: float) -> float:
        loss = self.compute_gradient(batch)
        if self.recipe.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.recipe.max_grad_norm, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return loss


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
    if run_dir is not None and run_dir.is_dir():
        _settle(run_dir)
    if run_dir is not None and (run_dir / STATE_NAME).is_file():
        saved = json.loads((run_dir / STATE_NAME).read_text())
        if Recipe.from_dict(saved.get("recipe", {"task": None})) != recipe:
            raise TrainError(f"{run_dir} holds a run with a different recipe; use another folder")
        state = _load_checkpoint(run_dir, model, optimizer)
        rng.bit_generator.state = state["rng"]
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)

    heldout = heldout_batches(task, recipe)
    stepper = Stepper(model, optimizer, task, recipe)
    end = recipe.max_steps if stop_after is None else min(stop_after, recipe.max_steps)
    first_step, clock = state["step"], time.perf_counter()
    bar = tqdm(total=recipe.max_steps, initial=state["step"], desc=f"{task.name} {recipe.arch}", disable=not progress, mininterval=5)

    def checkpoint() -> None:
        nonlocal clock
        state["elapsed_s"] += time.perf_counter() - clock
        clock = time.perf_counter()
        if run_dir is not None:
            state["rng"] = rng.bit_generator.state
            state["since_check"] = {"loss_sum": loss_sum, "steps": loss_n}  # the next check's mean loss
            _save_checkpoint(run_dir, model, optimizer, state)

    since = state.pop("since_check", {"loss_sum": 0.0, "steps": 0})
    loss_sum, loss_n = since["loss_sum"], since["steps"]
    stepping = False
    try:
        while not state["done"] and state["step"] < end:
            step = state["step"]
            batch = task.sample_batch(recipe.batch_size, *TRAIN_RANGE, rng, offsets=recipe.offsets)
            stepping = True
            loss = stepper(batch, recipe.lr * (1 - step / recipe.max_steps))  # linear decay, no warm-up
            state["step"] = step + 1
            stepping = False
            loss_sum, loss_n = loss_sum + loss, loss_n + 1
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
            elif checkpoint_every and state["step"] % checkpoint_every == 0 and state["step"] < end:
                checkpoint()
        if state["step"] > first_step and state["step"] % recipe.eval_every and state["step"] < recipe.max_steps:
            checkpoint()  # paused between two checks
    except KeyboardInterrupt:
        if not stepping:  # an interrupted step leaves weights and step count apart: keep the last checkpoint
            checkpoint()
        raise
    finally:
        bar.close()
    model.eval()
    return TrainResult(model, recipe, state["step"], state["elapsed_s"], state["stopped_early"], state["done"], state["history"])


# ----- architecture search ------------------------------------------------------------

@dataclass(frozen=True)
class GridPoint:
    """One configuration of the architecture search: ``LxHxD`` with a learning rate and dropout."""

    arch: str
    lr: float
    dropout: float

    def recipe(self, base: Recipe) -> Recipe:
        return replace(base.with_arch(self.arch), lr=self.lr, dropout=self.dropout)

    @property
    def label(self) -> str:
        return f"{self.arch}-lr{self.lr:g}-do{self.dropout:g}"

    @classmethod
    def parse(cls, text: str) -> "GridPoint":
        """``"2x1x64-lr0.001-do0.1"`` (the :attr:`label` form)."""
        try:  # split at the markers, not at every "-": ``f"{lr:g}"`` writes 1e-05 for small rates
            arch, marked, rest = text.partition("-lr")
            lr, marked_do, dropout = rest.rpartition("-do")
            if not (marked and marked_do):
                raise ValueError(text)
            parse_arch(arch)
            return cls(arch, float(lr), float(dropout))
        except (ValueError, TrainError):
            raise TrainError(f"bad grid point {text!r}: expected LxHxD-lrLR-doDROPOUT, e.g. 2x1x64-lr0.001-do0.1") from None


#: The published search grid, in its order: layers x heads x width x learning rate x dropout.
PUBLISHED_GRID: tuple[GridPoint, ...] = tuple(
    GridPoint(f"{layers}x{heads}x{width}", lr, dropout)
    for layers in (1, 2, 4) for heads in (1, 2, 4) for width in (16, 64, 256) for lr in (1e-3, 1e-4) for dropout in (0.0, 0.1)
)

#: The configuration the published search chose, per task.
PUBLISHED_BEST: dict[str, GridPoint] = {
    task: GridPoint(arch, lr, dropout)
    for task, arch, lr, dropout in [
        ("bin_majority", "1x1x16", 1e-3, 0.1), ("majority", "1x4x256", 1e-3, 0.1), ("sort", "1x1x256", 1e-3, 0.1),
        ("unique_copy", "2x1x64", 1e-3, 0.1), ("unique_reverse", "2x1x64", 1e-3, 0.1), ("count", "1x4x256", 1e-4, 0.1),
        ("bin_majority_interleave", "2x2x16", 1e-3, 0.0), ("unique_bigram_copy", "2x4x256", 1e-3, 0.1),
        ("repeat_copy", "4x4x256", 1e-3, 0.0), ("parity", "4x4x256", 1e-4, 0.0), ("addition", "4x2x64", 1e-3, 0.0),
        ("tomita1", "1x1x16", 1e-3, 0.0), ("tomita2", "1x1x16", 1e-3, 0.0), ("tomita3", "4x4x64", 1e-3, 0.0),
        ("tomita4", "2x2x16", 1e-3, 0.1), ("tomita5", "2x1x64", 1e-3, 0.0), ("tomita6", "2x2x256", 1e-4, 0.0),
        ("tomita7", "2x1x16", 1e-3, 0.1), ("d2", "1x1x16", 1e-3, 0.0), ("d3", "1x1x16", 1e-4, 0.0),
        ("d4", "1x2x256", 1e-4, 0.0), ("d12", "4x2x256", 1e-3, 0.0), ("aastar", "1x2x16", 1e-3, 0.1),
        ("aaaastar", "2x1x64", 1e-4, 0.1), ("ababstar", "1x1x64", 1e-3, 0.0), ("abcde", "1x1x16", 1e-3, 0.0),
        ("ab_d_bc", "1x1x16", 1e-3, 0.1), ("012_0_2", "1x1x64", 1e-4, 0.0),
    ]
}

#: The zoo's first search grid (architectures only, smallest first); kept for ``--grid`` users.
DEFAULT_GRID = ("1x1x16", "1x2x16", "2x1x16", "2x2x16", "1x1x64", "1x4x64", "2x1x64", "2x2x64", "4x4x64")


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


def grid_from(grid, start: GridPoint | str | None = None) -> list[GridPoint]:
    """``grid`` (grid points, or bare architectures at the base lr and dropout) from ``start`` on."""
    points = list(grid)
    if start is None:
        return points
    start = GridPoint.parse(start) if isinstance(start, str) else start
    if start not in points:
        raise TrainError(f"{start.label} is not in the search grid")
    return points[points.index(start):]


def search(
    base: Recipe, run_root: str | Path, grid=PUBLISHED_GRID, *, start: GridPoint | str | None = None,
    max_runs: int | None = None, progress: bool = True, log=print, **train_kw,
) -> tuple[SearchEntry, list[SearchEntry]]:
    """The published search: train each grid point in order (from ``start``), stop at the first
    run perfect on test_101_150, keep the best test_101_150 accuracy (the first of equals).

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
        if accs["test_101_150"] == 1.0:
            break
    if not entries:
        raise TrainError("the search grid is empty")
    best = max(entries, key=lambda e: e.accuracies["test_101_150"])  # max keeps the first of equals
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


__all__ = [
    "Recipe", "TrainResult", "TrainError", "train", "search", "measure_run", "test_accuracies", "load_run", "parse_arch",
    "GridPoint", "PUBLISHED_GRID", "PUBLISHED_BEST", "DEFAULT_GRID", "Stepper", "length_buckets",
]
