"""Training throughput per architecture on one CPU thread (plans the zoo's step budgets).

    python scripts/bench_training.py                       # synthetic short and long layouts
    python scripts/bench_training.py --tasks sort dyck     # real tasks, when registered
    python scripts/bench_training.py --archs 1x1x16 2x1x64 --steps 20

Prints, per (layout, architecture): milliseconds per step of batch 64 and
tokens per second (padded batch tokens, which is what the model computes on).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import torch
from tabulate import tabulate

from bench.model import GPT2
from bench.predict import model_inputs
from bench.task import Task, get_task
from bench.train import DEFAULT_GRID, Recipe, _make_optimizer, loss_fn


@dataclass(frozen=True)
class SyntheticCopy(Task):
    """A stand-in with a copy layout ``<bos> x <sep> x <eos>`` (``copies=1``) or ``<bos> x <sep> y``."""

    copies: int = 1
    kind = "token"

    def sample(self, length, rng):
        v = self.vocab
        x = [int(t) for t in rng.integers(0, v.n_symbols, length)]
        tail = x + [v.eos] if self.copies else [x[0] if x else 0]
        return [v.bos] + x + [v.sep] + tail

    def offset_max(self, ids):
        return max(0, self.n_positions - len(ids) - 1)

    def labels(self, ids):
        mask = np.zeros(len(ids), bool)
        sep = ids.index(self.vocab.sep)
        mask[sep : len(ids) - 1] = True
        labels = np.full(len(ids), -1, np.int64)
        labels[:-1][mask[:-1]] = np.asarray(ids[1:])[mask[:-1]]
        return mask, labels


def synthetic_tasks() -> list[Task]:
    common = dict(version="0", min_length=1, layout="", length_measure="input length", description="synthetic")
    return [
        SyntheticCopy(name="short (L+3, V=6)", symbols=("0", "1"), n_positions=154, copies=0, **common),
        SyntheticCopy(name="long (2L+3, V=154)", symbols=tuple(map(str, range(150))), n_positions=303, copies=1, **common),
    ]


def time_steps(task: Task, arch: str, steps: int, seed: int = 0) -> tuple[float, float]:
    """(seconds per step, padded tokens per second) for ``steps`` training steps after one warm-up."""
    recipe = Recipe(task=task.name).with_arch(arch)
    torch.manual_seed(seed)
    model = GPT2(recipe.model_config(task)).train()
    optimizer = _make_optimizer(model, recipe)
    rng = np.random.default_rng(seed)
    batches = [task.sample_batch(64, 0, 50, rng) for _ in range(steps + 1)]
    tokens, elapsed = 0, 0.0
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        ids, pos = model_inputs(batch, task.n_positions)
        loss = loss_fn(model(torch.from_numpy(ids), torch.from_numpy(pos)), batch, task.kind)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i:  # the first step warms up the allocator
            elapsed += time.perf_counter() - start
            tokens += ids.size
    return elapsed / steps, tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", help="registered task names (default: synthetic layouts)")
    parser.add_argument("--archs", nargs="*", default=list(DEFAULT_GRID))
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = [get_task(n) for n in args.tasks] if args.tasks else synthetic_tasks()
    rows = []
    for task in tasks:
        for arch in args.archs:
            seconds, rate = time_steps(task, arch, args.steps)
            rows.append([task.name, arch, f"{1000 * seconds:.0f}", f"{rate:,.0f}"])
            print(tabulate([rows[-1]], tablefmt="plain"), flush=True)
    print(tabulate(rows, headers=["layout", "arch", "ms/step (batch 64)", "tokens/s"]))


if __name__ == "__main__":
    main()
