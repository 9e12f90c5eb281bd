"""Time and memory of a full ``bench.evaluate`` run, from a cold split cache.

    python scripts/bench_evaluate.py              # oracle over the whole zoo
    python scripts/bench_evaluate.py lookup --limit 500

Prints the wall time, the peak resident memory (this process and the
extraction children), and how the time splits between building the splits,
the model's forward passes and the program interpreter, side by side with the
targets in ``docs/architecture.md``, "Performance targets" (at most 60 s and
4 GB for ``oracle``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(table: dict, key: str, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            table[key] += time.perf_counter() - start

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", nargs="?", default="oracle")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--warm", action="store_true", help="keep the existing split cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if not args.warm:
            os.environ["RASP_BENCH_CACHE"] = str(Path(tmp) / "cache")
        import bench.evaluate as evaluate
        import bench.models.predictions as predictions
        import bench.program as program
        import bench.scoring.run as run

        seconds: dict[str, float] = defaultdict(float)
        run.load_splits = timed(seconds, "splits (load or build)", run.load_splits)
        # the model's side: stored predictions read (zoo), or the model run once and cached
        predictions.for_model = timed(seconds, "model predictions (load or run)", predictions.for_model)
        program.run_program = timed(seconds, "program interpreter", program.run_program)  # imported at each call
        run.run_extraction = timed(seconds, "extraction (child process)", run.run_extraction)

        argv = [args.method, "--out", str(Path(tmp) / "out")]
        if args.limit:
            argv += ["--limit", str(args.limit)]
        start = time.perf_counter()
        code = evaluate.main(argv)
        wall = time.perf_counter() - start

    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n{args.method}: {'cold' if not args.warm else 'warm'} split cache, torch threads {_threads()}")
    print(f"{'wall time':<30}{wall:8.1f} s   (target for oracle: <= 60 s, ratio {wall / 60:.2f})")
    print(f"{'peak memory (main)':<30}{peak_self:8.0f} MB  (target: < 4096 MB, ratio {peak_self / 4096:.2f})")
    print(f"{'peak memory (children)':<30}{peak_children:8.0f} MB")
    for key, value in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"{key:<30}{value:8.1f} s   ({value / wall:5.1%} of wall time)")
    return code


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
