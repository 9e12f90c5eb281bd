"""Interpreter time against chunk size, on a submission's programs, with a check that outputs agree.

The interpreter runs a batch in chunks of rows holding at most ``chunk_pairs``
(query, key) pairs (``bench.program.interpret_fast.CHUNK_PAIRS``). Rows are
independent, so the chunk size may change the time but never a prediction;
this script times each program on one batch per bin at every size given,
prints the seconds side by side with their ratio to the first size, and says
for each program whether the predictions at every size are the same bytes.

    python scripts/bench_chunks.py                                   # decompile, 2**21 against 2**18
    python scripts/bench_chunks.py --submission oracle --sizes 21 18 17 --limit 500
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from tabulate import tabulate

from bench.data.splits import load_splits, split_batches
from bench.data.task import TEST_SPLITS, get_task
from bench.program import run_program
from bench.program.arrays import load
from bench.scoring.score import BATCH_SIZE

ROOT = Path(__file__).resolve().parent.parent


def time_program(program, batches, chunk_pairs: int) -> tuple[float, str]:
    """(seconds, sha256 of the predictions) of one run over ``batches``."""
    start = time.perf_counter()
    outputs = [run_program(program, b, chunk_pairs=chunk_pairs) for b in batches]
    seconds = time.perf_counter() - start
    return seconds, hashlib.sha256(b"".join(o.tobytes() for o in outputs)).hexdigest()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", default="decompile", help="a folder under submissions/ (default decompile)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[21, 18], help="log2 of chunk_pairs (default 21 18)")
    parser.add_argument("--limit", type=int, default=BATCH_SIZE, help="sequences per bin (default one batch)")
    parser.add_argument("--models", nargs="*", help="only these model ids")
    args = parser.parse_args(argv)
    if not all(10 <= size <= 40 for size in args.sizes):
        parser.error(f"--sizes: log2 of chunk_pairs between 10 and 40, not {args.sizes}")
    folder = ROOT / "submissions" / args.submission
    if not (folder / "results.json").is_file():
        parser.error(f"--submission: no results.json in {folder.relative_to(ROOT)} "
                     f"(shipped: {', '.join(p.parent.name for p in sorted(ROOT.glob('submissions/*/results.json')))})")
    results = json.loads((folder / "results.json").read_text())
    unknown = set(args.models or ()) - {entry["model"]["id"] for entry in results["models"]}
    if unknown:
        parser.error(f"--models: not in {args.submission}'s results: {', '.join(sorted(unknown))}")
    rows, totals, differ = [], [0.0] * len(args.sizes), []
    for entry in results["models"]:
        model_id = entry["model"]["id"]
        if entry.get("program_file") is None or (args.models and model_id not in args.models):
            continue
        task = get_task(entry["task"]["name"])
        splits = load_splits(task)
        batches = [b for split in TEST_SPLITS
                   for b in split_batches(task, splits[split], batch_size=BATCH_SIZE, limit=args.limit, by_length=True)]
        program = load(folder / entry["program_file"])
        runs = [time_program(program, batches, 1 << size) for size in args.sizes]
        same = len({digest for _, digest in runs}) == 1
        if not same:
            differ.append(model_id)
        for i, (seconds, _) in enumerate(runs):
            totals[i] += seconds
        rows.append([model_id, *(f"{s:.2f}" for s, _ in runs),
                     *(f"{s / max(runs[0][0], 1e-9):.2f}" for s, _ in runs[1:]), "yes" if same else "NO"])
    heads = [f"2**{s} s" for s in args.sizes] + [f"2**{s} / 2**{args.sizes[0]}" for s in args.sizes[1:]]
    rows.append(["all", *(f"{t:.1f}" for t in totals), *(f"{t / max(totals[0], 1e-9):.2f}" for t in totals[1:]), ""])
    print(tabulate(rows, headers=["model", *heads, "same predictions"], tablefmt="github"))
    if differ:
        raise SystemExit(f"predictions differ between chunk sizes for: {', '.join(differ)}")


if __name__ == "__main__":
    main()
