"""Extraction time and peak memory of the ``decompile`` baseline, per zoo model.

    python scripts/bench_decompile.py tomita1 bin_majority [--max-length 50] [--budget 360]

Runs the extraction in a forked child, as the harness does (bench.extract),
and prints one line per model: seconds, peak memory added (MB), n_ops and the
stage-by-stage accuracies the method measured on its own evaluation set.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--max-length", type=int, default=150, help="pruning lengths [0, N] (50: training lengths)")
    parser.add_argument("--budget", type=float, default=None, help="pruning time budget in seconds")
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from baselines.decompile import Decompile
    from bench.extract import run_extraction
    from bench.hub import load_reference
    from bench.methods import TaskView
    from bench.tasks import get_task

    overrides = {"max_length": args.max_length}
    if args.budget is not None:
        overrides["time_budget_s"] = args.budget
    for model_id in args.models:
        ref = load_reference(model_id, prefer_bundled=True)
        view = TaskView(get_task(ref.task_name), np.random.default_rng(0))
        method = Decompile(**overrides)
        out = run_extraction(method, ref.model, view, time_limit=args.time_limit)
        n_ops = out.program.n_ops if out.program is not None else None
        print(json.dumps({"model": model_id, "arch": ref.model.cfg.arch, "seconds": round(out.seconds, 1),
                          "peak_memory_mb": round(out.peak_memory_mb, 1), "n_ops": n_ops, "error": out.error}))


if __name__ == "__main__":
    main()
