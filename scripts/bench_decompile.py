"""Extraction time and peak memory of the ``decompile`` baseline, per zoo model, against the targets.

    python scripts/bench_decompile.py tomita1 bin_majority [--max-length 50] [--budget 360]
    python scripts/bench_decompile.py --results submissions/decompile/results.json

The first form runs the extraction in a forked child, as the harness does
(bench.scoring.extract). The second reads the cost the harness recorded for every
model of a full run (``python -m bench.evaluate decompile``). Both print, per
model, seconds and peak memory added side by side with their ratio to the
targets of 10 minutes and 4 GB per model on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

import numpy as np
from tabulate import tabulate

TARGET_SECONDS = 600.0
TARGET_MB = 4096.0


def row(model_id: str, arch: str, seconds: float, memory_mb: float, n_ops, outcome: str) -> list:
    return [model_id, arch, f"{seconds:.0f}", f"{seconds / TARGET_SECONDS:.2f}", f"{memory_mb:.0f}",
            f"{memory_mb / TARGET_MB:.2f}", "-" if n_ops is None else n_ops, outcome]


def arch_text(arch: dict) -> str:
    return f"{arch['n_layer']}x{arch['n_head']}x{arch['n_embd']}"


def rows_from_runs(args) -> list[list]:
    import torch

    torch.set_num_threads(1)
    from bench.baselines.decompile import Decompile
    from bench.data.task import get_task
    from bench.models.hub import load_reference
    from bench.scoring.extract import run_extraction
    from bench.scoring.methods import TaskView

    overrides = {"max_length": args.max_length}
    if args.budget is not None:
        overrides["time_budget_s"] = args.budget
    rows = []
    for model_id in args.models:
        ref = load_reference(model_id, prefer_bundled=True)
        view = TaskView(get_task(ref.task_name), np.random.default_rng(0))
        out = run_extraction(Decompile(**overrides), ref.model, view, time_limit=args.time_limit)
        n_ops = out.program.n_ops if out.program is not None else None
        rows.append(row(model_id, ref.model.cfg.arch, out.seconds, out.peak_memory_mb, n_ops, out.error or "ok"))
        print(json.dumps({"model": model_id, "seconds": round(out.seconds, 1),
                          "peak_memory_mb": round(out.peak_memory_mb, 1), "n_ops": n_ops, "error": out.error}))
    return rows


def rows_from_results(path: str) -> list[list]:
    from bench.models.hub import load_manifest
    from bench.scoring.results import load_results

    archs = {k: arch_text(v["arch"]) for k, v in load_manifest()["models"].items()}
    results = load_results(path)
    rows = []
    for m in results.models:
        outcome = m.error if m.status == "error" else ("success" if m.success else "no success")
        rows.append(row(m.model.id, archs.get(m.model.id, "?"), m.cost.extract_seconds, m.cost.peak_memory_mb,
                        m.size.n_ops if m.size else None, outcome))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="zoo ids to extract now")
    parser.add_argument("--results", help="a results.json of `python -m bench.evaluate decompile` to report instead")
    parser.add_argument("--max-length", type=int, default=150, help="pruning lengths [0, N] (50: training lengths)")
    parser.add_argument("--budget", type=float, default=None, help="pruning budget in CPU seconds")
    parser.add_argument("--time-limit", type=float, default=900.0)
    args = parser.parse_args()
    if bool(args.models) == bool(args.results):
        parser.error("give either zoo model ids or --results, not both")
    rows = rows_from_results(args.results) if args.results else rows_from_runs(args)
    headers = ["model", "arch", "seconds", "/ 600 s", "peak MB", "/ 4096 MB", "n_ops", "outcome"]
    print(tabulate(rows, headers=headers, tablefmt="github"))
    seconds = [float(r[2]) for r in rows]
    memory = [float(r[4]) for r in rows]
    print(f"\n{len(rows)} models on {os.cpu_count()} CPUs: seconds median {statistics.median(seconds):.0f}, "
          f"max {max(seconds):.0f} (ratio {max(seconds) / TARGET_SECONDS:.2f}); peak memory max {max(memory):.0f} MB "
          f"(ratio {max(memory) / TARGET_MB:.2f}); total {sum(seconds) / 60:.1f} min")


if __name__ == "__main__":
    main()
