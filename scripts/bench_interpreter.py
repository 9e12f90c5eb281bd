"""Speed of our vectorized program interpreter against tracr's evaluator and the models' forward pass.

Two comparisons, printed side by side in one run:

1. **tracr**: our interpreter running the `sort` oracle against tracr's
   ``rasp.evaluate`` running tracr's own sort program
   (``tracr.compiler.lib.make_sort_unique(tokens, tokens)``) on the same
   sequences of the sort task's test bin. The two do not do the same amount of
   work, and the output says so: ours evaluates the oracle at every position of
   the whole teacher-forced sequence ``<bos> x <sep> sorted(x) <eos>`` (T = 2L + 3),
   250 sequences per call as scoring batches them; tracr evaluates its program on
   the input ``x`` alone (L values, all distinct, as ``make_sort_unique`` needs),
   one sequence per call (it has no batched mode). Both outputs are checked
   against the gold answer. Per-sequence times are reported, with ours also run
   one sequence per call.

2. **forward pass**: for every oracle of the suite (or ``--tasks``), our
   interpreter running the oracle against the forward pass of the task's main
   zoo model (``bench.models.predict.predict``, as scoring runs it), on the same bin
   and the same batches (250 sequences of similar length, shortest first, as
   ``bench.scoring.score`` makes them).

Times are the best of ``--repeat`` runs, with torch and BLAS on ``--threads``
threads. tracr is not a dependency of the project: the script installs
``tracr-pypi`` (without its jax/haiku dependencies, which ``tracr.rasp`` does
not need) into a virtual environment of its own, cached under the benchmark
cache folder, and runs tracr there in a child process. Without network that
part is skipped, and said so.

    python scripts/bench_interpreter.py                      # everything: all oracles, bin test_101_150
    python scripts/bench_interpreter.py --tasks sort d12 --limit 250 --tracr-sequences 20 --repeat 1
    python scripts/bench_interpreter.py --no-tracr --bin test_0_50
    python scripts/bench_interpreter.py --tracr-python /path/to/env/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate
from threadpoolctl import threadpool_limits

from bench.data.oracles import get_oracle, oracle_names
from bench.data.splits import cache_root, load_splits, split_batches
from bench.data.task import TEST_SPLITS, get_task
from bench.models.hub import load_manifest, load_reference
from bench.models.predict import predict, sequence_correct
from bench.program import run_program
from bench.scoring.score import BATCH_SIZE

#: The tracr release whose API (tracr.compiler.lib.make_sort_unique, tracr.rasp.rasp.evaluate) this script uses.
TRACR_REQUIREMENT = "tracr-pypi==1.0.0"
#: What tracr.rasp imports (tracr's own dependency list adds jax, dm-haiku, chex... for the compiler).
TRACR_RASP_DEPENDENCIES = ("numpy", "absl-py", "typing-extensions")

#: Run in the tracr environment: ``python -c CHILD spec.json`` prints {"seconds", "correct", "version"}.
TRACR_CHILD = r"""
import importlib.metadata, importlib.util, json, os, sys, time, types
import tracr
if importlib.util.find_spec("jax") is None:
    # tracr/compiler/__init__.py imports the compiler (jax, haiku); lib.py itself needs only tracr.rasp
    package = types.ModuleType("tracr.compiler")
    package.__path__ = [os.path.join(os.path.dirname(tracr.__file__), "compiler")]
    sys.modules["tracr.compiler"] = package
from tracr.compiler import lib
from tracr.rasp import rasp

with open(sys.argv[1]) as f:
    spec = json.load(f)
inputs = spec["inputs"]
program = lib.make_sort_unique(rasp.tokens, rasp.tokens)
best = float("inf")
for _ in range(spec["repeat"]):
    start = time.perf_counter()
    outputs = [rasp.evaluate(program, x) for x in inputs]
    best = min(best, time.perf_counter() - start)
correct = sum(list(out) == sorted(x) for out, x in zip(outputs, inputs))
json.dump({"seconds": best, "correct": correct, "version": importlib.metadata.version("tracr-pypi")}, sys.stdout)
"""


def best_seconds(fn, repeat: int) -> float:
    """The shortest of ``repeat`` wall-clock timings of ``fn()``."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bin_batches(task, split: str, limit: int | None) -> list:
    """The frozen split as scoring batches it: BATCH_SIZE sequences of similar length."""
    dataset = load_splits(task)[split]
    return list(split_batches(task, dataset, batch_size=BATCH_SIZE, limit=limit, by_length=True))


def main_model_id(task_name: str) -> str:
    """The zoo id of the task's main model (by convention the task's name)."""
    for model_id, entry in load_manifest()["models"].items():
        if entry["task"] == task_name and entry.get("role") == "main":
            return model_id
    return task_name


def exact_fraction(predictions: list[np.ndarray], batches: list, kind: str) -> float:
    """Fraction of sequences whose every scored position is right."""
    right = sum(int(sequence_correct(p, b, kind).sum()) for p, b in zip(predictions, batches))
    return right / sum(len(b.lengths) for b in batches)


# ----- our interpreter against the forward pass --------------------------------------------


def compare_forward(task_name: str, split: str, limit: int | None, repeat: int) -> dict:
    """One row: our interpreter and the zoo model's forward pass on the same batches of one bin."""
    task = get_task(task_name)
    batches = bin_batches(task, split, limit)
    program = get_oracle(task_name)
    reference = load_reference(main_model_id(task_name), prefer_bundled=True)
    arch = reference.entry["arch"]
    predictions = [run_program(program, b) for b in batches]  # also a warm-up
    ours = best_seconds(lambda: [run_program(program, b) for b in batches], repeat)
    forward = best_seconds(lambda: [predict(reference.model, b, task.kind) for b in batches], repeat)
    return {
        "task": task_name,
        "model": f"{reference.model_id} {arch['n_layer']}x{arch['n_head']}x{arch['n_embd']}",
        "seqs": sum(len(b.lengths) for b in batches),
        "T max": max(b.input_ids.shape[1] for b in batches),
        "ops": program.n_ops,
        "oracle exact": exact_fraction(predictions, batches, task.kind),
        "ours s": ours,
        "forward s": forward,
        "speed-up": forward / ours,
    }


def forward_table(rows: list[dict], split: str, threads: int, repeat: int) -> str:
    table = tabulate(rows, headers="keys", floatfmt=("", "", "", "", "", ".3f", ".3f", ".3f", ".2f"))
    ours, forward = sum(r["ours s"] for r in rows), sum(r["forward s"] for r in rows)
    slower = [f"{r['task']} ({r['speed-up']:.2f}x)" for r in rows if r["ours s"] > r["forward s"]]
    lines = [
        f"Our interpreter (oracle) vs the main zoo model's forward pass, bin {split}, batches of {BATCH_SIZE}; "
        f"best of {repeat}, {threads} thread(s); speed-up = forward s / ours s",
        table,
        f"total: ours {ours:.2f} s, forward {forward:.2f} s (speed-up {forward / ours:.2f}x)",
        f"{len(rows) - len(slower)}/{len(rows)} oracles are at most as slow as the forward pass",
    ]
    if slower:
        lines.append("slower than the forward pass: " + ", ".join(slower))
    return "\n".join(lines)


# ----- our interpreter against tracr ---------------------------------------------------------


def tracr_python(given: str | None) -> Path | None:
    """A Python with tracr: ``given``, else the cached environment (created on first use); None if impossible."""
    if given:
        return Path(given)
    env = cache_root() / "tracr-venv"
    python = env / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
    check = [python, "-c", "import tracr.rasp.rasp"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python  # made by an earlier run
    print(f"creating tracr's environment in {env} ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(env)],
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--retries", "1", "--timeout", "30",
         "--no-deps", TRACR_REQUIREMENT, *TRACR_RASP_DEPENDENCIES],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            print(f"could not create tracr's environment ({' '.join(map(str, step[:4]))} ...: {tail[0]})")
            return None
    return python


def sort_sample(split: str, n: int, limit: int | None) -> tuple[list[list[int]], list[list[int]]]:
    """``n`` sort sequences of the bin (a fixed random sample): the token ids and their inputs ``x`` as numbers."""
    task = get_task("sort")
    dataset = load_splits(task)[split]
    size = len(dataset) if limit is None else min(limit, len(dataset))
    rows = np.sort(np.random.default_rng(0).choice(size, size=min(n, size), replace=False))
    sequences = [list(dataset[int(i)]["input_ids"]) for i in rows]
    inputs = [[int(symbol) for symbol in task.vocab.decode(task.parts(s)[0])] for s in sequences]
    return sequences, inputs


def time_tracr(python: Path, inputs: list[list[int]], repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.json"
        spec.write_text(json.dumps({"inputs": inputs, "repeat": repeat}))
        done = subprocess.run([python, "-c", TRACR_CHILD, spec], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"tracr's child process failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def compare_tracr(split: str, n: int, limit: int | None, repeat: int, python: Path) -> str:
    """The per-sequence times of our sort oracle and tracr's sort program on the same sequences."""
    task = get_task("sort")
    program = get_oracle("sort")
    sequences, inputs = sort_sample(split, n, limit)
    by_length = sorted(sequences, key=len)
    batches = [task.collate(by_length[i : i + BATCH_SIZE]) for i in range(0, len(by_length), BATCH_SIZE)]
    singles = [task.collate([s]) for s in sequences]
    exact = exact_fraction([run_program(program, b) for b in batches], batches, task.kind)
    batched = best_seconds(lambda: [run_program(program, b) for b in batches], repeat)
    one_by_one = best_seconds(lambda: [run_program(program, b) for b in singles], repeat)
    tracr = time_tracr(python, inputs, repeat)
    k = len(sequences)
    per = {"ours batched": batched / k, "ours 1/call": one_by_one / k, "tracr": tracr["seconds"] / k}
    lengths = [len(x) for x in inputs]
    rows = [
        ["ours, batches of <=250", f"whole sequence, T={min(lengths) * 2 + 3}..{max(lengths) * 2 + 3}", exact,
         per["ours batched"] * 1e3, per["tracr"] / per["ours batched"]],
        ["ours, 1 sequence per call", "whole sequence", exact, per["ours 1/call"] * 1e3,
         per["tracr"] / per["ours 1/call"]],
        [f"tracr {tracr['version']} rasp.evaluate", f"input x only, L={min(lengths)}..{max(lengths)}",
         tracr["correct"] / k, per["tracr"] * 1e3, 1.0],
    ]
    table = tabulate(rows, headers=["evaluator", "evaluated on", "exact", "ms / sequence", "tracr / this"],
                     floatfmt=("", "", ".3f", ".3f", ".1f"))
    return "\n".join([
        f"Sort, bin {split}: {k} sequences (fixed sample); best of {repeat}. Ours: the sort oracle over "
        f"<bos> x <sep> sorted(x) <eos>; tracr: make_sort_unique(tokens, tokens) evaluated on x (distinct values).",
        table,
        f"our interpreter is {per['tracr'] / per['ours batched']:.0f}x faster than tracr's evaluator per sequence "
        f"(target >= 100x) when batched as scoring runs it, {per['tracr'] / per['ours 1/call']:.0f}x one sequence "
        "per call",
    ])


# ----- main ------------------------------------------------------------------------------------


def run_tracr(args: argparse.Namespace) -> str:
    """The tracr comparison's report, or why it was skipped."""
    if args.no_tracr:
        return "tracr comparison skipped (--no-tracr)"
    python = tracr_python(args.tracr_python)
    if python is None:
        return ("tracr comparison skipped: no environment with tracr could be made (no network?); "
                "pass --tracr-python or run where PyPI is reachable")
    try:
        text = compare_tracr(args.bin, args.tracr_sequences, args.limit, args.repeat, python)
    except RuntimeError as err:
        return f"tracr comparison skipped: {err}"
    print("  sort vs tracr: done", flush=True)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="oracles to time (default: all)")
    parser.add_argument("--bin", default="test_101_150", choices=list(TEST_SPLITS),
                        help="test bin (default test_101_150)")
    parser.add_argument("--limit", type=int, help="first LIMIT sequences of the bin only (default: all 2,000)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement; the best is kept (default 3)")
    parser.add_argument("--tracr-sequences", type=int, default=100,
                        help="sort sequences timed against tracr (default 100)")
    parser.add_argument("--tracr-python", help="a Python with tracr-pypi installed (default: a cached environment)")
    parser.add_argument("--no-tracr", action="store_true", help="skip the comparison with tracr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tasks = args.tasks or oracle_names()
    unknown = sorted(set(tasks) - set(oracle_names()))
    if unknown:
        print(f"no oracle for: {', '.join(unknown)}; known: {', '.join(oracle_names())}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        tracr_text = run_tracr(args)
        rows = []
        for name in tasks:
            rows.append(compare_forward(name, args.bin, args.limit, args.repeat))
            print(f"  {name}: ours {rows[-1]['ours s']:.3f} s, forward {rows[-1]['forward s']:.3f} s", flush=True)
    print(f"\n{tracr_text}\n\n{forward_table(rows, args.bin, args.threads, args.repeat)}")
    print(f"\nrun time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
