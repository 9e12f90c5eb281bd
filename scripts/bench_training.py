"""Training step time on one CPU core: the plain fp32 path against the fast path, per architecture.

    python scripts/bench_training.py --core 1                      # the published architectures
    python scripts/bench_training.py --core 1 --only sort d4 --repeats 3
    python scripts/bench_training.py --paths plain b4 b4+compile   # other execution paths

For each published architecture (``bench.models.train.PUBLISHED_BEST``, on its own task) one
model per path is built from the same seed and the paths take turns, step by step,
on the same batches (batch 64, lengths 0-50, position offsets), so that a machine
busy with other work slows them alike; each path's minimum and median step time
are printed. A path is ``plain`` (the published recipe: the whole batch padded to
its longest sequence) or ``bK`` (``Recipe.length_buckets=K``: micro-batches by
length), with ``+compile`` (``Recipe.compile``) and ``+bf16`` (CPU autocast to
bfloat16, not a recipe option: see the table) as options.

GFLOP/s counts the useful work of a step: matrix products on the real (unpadded)
tokens, forward and backward (``6 N`` per weight, ``N`` real tokens), plus
attention (``12 d sum(T^2)`` over sequences of ``T`` tokens). The matmul limit is
what plain ``torch.mm`` reaches on the same core, measured on the step's own
shapes (every linear layer's forward, input-gradient and weight-gradient product
on ``N`` rows, and the tied output layer): the step can go no faster than its
matrix products at that rate ("mm-only ms").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
from tabulate import tabulate

from bench.data.task import TRAIN_RANGE, Task, get_task
from bench.models.model import GPT2
from bench.models.step import Stepper, make_optimizer
from bench.models.train import PUBLISHED_BEST, Recipe


def published_archs(only=None) -> list[tuple[str, str]]:
    """``(task, arch)`` of each published architecture, one task per architecture, smallest first."""
    seen: dict[str, str] = {}
    for task, point in PUBLISHED_BEST.items():
        if only and task not in only:
            continue
        seen.setdefault(point.arch, task)
    key = lambda a: (int(a.split("x")[2]), int(a.split("x")[0]), int(a.split("x")[1]))  # noqa: E731
    return [(seen[a], a) for a in sorted(seen, key=key)]


def parse_path(path: str) -> tuple[dict, bool]:
    """``"b4+compile"`` -> (recipe fields, bf16 autocast)."""
    fields, bf16 = {}, False
    for part in path.split("+"):
        if part == "plain":
            fields["length_buckets"] = 1
        elif part.startswith("b") and part[1:].isdigit():
            fields["length_buckets"] = int(part[1:])
        elif part == "compile":
            fields["compile"] = True
        elif part == "bf16":
            bf16 = True
        else:
            raise SystemExit(f"unknown path part {part!r} (plain, bK, compile, bf16)")
    return fields, bf16


def step_flops(recipe: Recipe, task: Task, lengths: np.ndarray) -> float:
    """Useful FLOPs of one training step (forward and backward) on sequences of ``lengths`` tokens."""
    d, L, V = recipe.n_embd, recipe.n_layer, task.vocab_size
    n = float(lengths.sum())
    linear = 6 * n * (L * 12 * d * d + d * V)
    attention = 12 * d * L * float((lengths.astype(np.float64) ** 2).sum())
    return linear + attention


def matmul_limit(recipe: Recipe, task: Task, n_tokens: int, repeats: int = 3) -> tuple[float, float]:
    """``(seconds, GFLOP/s)`` of plain ``torch.mm`` doing one step's linear-layer products on
    ``n_tokens`` rows (forward, input gradient, weight gradient), best of ``repeats``."""
    d, L, V = recipe.n_embd, recipe.n_layer, task.vocab_size
    shapes = [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * L + [(d, V)]
    ops = []
    for k, m in shapes:
        x, w, dy = torch.randn(n_tokens, k), torch.randn(k, m), torch.randn(n_tokens, m)
        ops += [(x, w), (dy, w.T), (x.T, dy)]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in ops)
    best = float("inf")
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for a, b in ops:
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best, flops / best / 1e9


def compare(task_name: str, arch: str, paths: list[str], steps: int, seed: int = 0) -> dict:
    """Step times of each path, taking turns on the same batches; see the module docstring."""
    task = get_task(task_name)
    point = PUBLISHED_BEST.get(task_name)
    base = Recipe(task=task_name, lr=point.lr if point else 1e-3, dropout=point.dropout if point else 0.0).with_arch(arch)
    runners = []
    for path in paths:
        fields, bf16 = parse_path(path)
        recipe = replace(base, **fields)
        torch.manual_seed(seed)
        model = GPT2(recipe.model_config(task)).train()
        stepper = Stepper(model, make_optimizer(model, recipe), task, recipe)
        runners.append((path, stepper, bf16))
    rng = np.random.default_rng(seed)
    warm = 3
    batches = [task.sample_batch(base.batch_size, *TRAIN_RANGE, rng) for _ in range(steps + warm)]
    times = {path: [] for path in paths}
    compile_s = {}
    for i, batch in enumerate(batches):
        for path, stepper, bf16 in runners:
            autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            start = time.perf_counter()
            with autocast:
                stepper(batch, base.lr)
            took = time.perf_counter() - start
            if i >= warm:
                times[path].append(took)
            else:
                compile_s[path] = compile_s.get(path, 0.0) + took
    lengths = np.concatenate([b.lengths for b in batches[warm:]])
    flops = step_flops(base, task, lengths) / steps
    padded = sum(b.input_ids.size for b in batches[warm:]) / steps
    mm_s, mm_rate = matmul_limit(base, task, int(lengths.sum() / steps))
    return {"task": task_name, "arch": arch, "tokens": lengths.sum() / steps, "padded": padded, "gflop": flops / 1e9,
            "times": times, "warmup_s": compile_s, "mm_s": mm_s, "mm_gflops": mm_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="tasks (default: one task per published architecture)")
    parser.add_argument("--archs", nargs="*", help="architectures LxHxD (on --task)")
    parser.add_argument("--task", default="sort", help="the task of --archs")
    parser.add_argument("--paths", nargs="*", default=["plain", "b4"], help="the first is the baseline")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per path (after 3 warm-up steps)")
    parser.add_argument("--repeats", type=int, default=1, help="run the whole comparison this many times")
    parser.add_argument("--core", type=int, help="pin the process to this CPU core (like taskset -c)")
    args = parser.parse_args()
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    torch.set_num_threads(1)
    jobs = [(args.task, a) for a in args.archs] if args.archs else published_archs(args.only)
    print(f"cores {sorted(os.sched_getaffinity(0))}, 1 thread, torch {torch.__version__}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    rows = []
    for repeat in range(args.repeats):
        for task_name, arch in jobs:
            r = compare(task_name, arch, args.paths, args.steps)
            row = [repeat, r["arch"], r["task"], f"{r['tokens']:.0f}/{r['padded']:.0f}", f"{r['gflop']:.2f}"]
            for path in args.paths:
                t = r["times"][path]
                row += [f"{1000 * min(t):.0f} / {1000 * statistics.median(t):.0f}", f"{r['gflop'] / min(t):.1f}"]
            row += [f"{r['mm_gflops']:.1f}", f"{1000 * r['mm_s']:.0f}"]
            rows.append(row)
            print(tabulate([row], tablefmt="plain"), flush=True)
    headers = ["rep", "arch", "task", "tokens real/padded", "GFLOP/step"]
    for path in args.paths:
        headers += [f"{path} ms min/med", f"{path} GFLOP/s"]
    headers += ["matmul GFLOP/s", "mm-only ms"]
    print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(tabulate(rows, headers=headers, disable_numparse=True))


if __name__ == "__main__":
    main()
