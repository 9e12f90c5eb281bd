"""Do programs give the same predictions, bit for bit, whatever the CPU features numpy/torch/BLAS use?

Runs every program of the given submissions (``submissions/<name>/programs``,
with the task from the submission's ``results.json``) over the frozen test
splits (``bench.data.splits``, batches of 250 by length, as ``bench.evaluate``
scores them) once per CPU-feature setting, each in a fresh subprocess, and
prints per submission how many real positions' predictions differ from the
first setting, and how many programs' raw output values (sha256 per batch)
differ. Settings (environment variables, read when numpy/torch/BLAS load):

- ``default``: nothing disabled;
- ``npy-baseline``: ``NPY_DISABLE_CPU_FEATURES`` = every dispatchable numpy
  target this numpy reports (e.g. ``X86_V3 X86_V4 AVX512_ICL AVX512_SPR``);
- ``aten-default``: ``ATEN_CPU_CAPABILITY=default`` (torch's scalar kernels);
- ``blas-old``: ``OPENBLAS_CORETYPE=Sandybridge`` (no FMA kernels) and
  ``MKL_ENABLE_INSTRUCTIONS=SSE4_2``, 1 BLAS thread;
- ``all-off``: all of the above at once.

    python scripts/check_simd_independence.py oracle lookup
    python scripts/check_simd_independence.py decompile --programs sort,d4 --bins test_0_50
    python scripts/check_simd_independence.py oracle --save old.npz      # one run, predictions saved
    python scripts/check_simd_independence.py oracle --compare old.npz   # one run, compared with a saved one

``--save``/``--compare`` run once in this process (no settings) to compare
two versions of the code: the predictions and the sha256 of every batch's raw
output values (so a change to the interpreter that should change no bit can be
checked on every shipped program).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
BINS = ("test_0_50", "test_51_100", "test_101_150")
BLAS_OLD = {"OPENBLAS_CORETYPE": "Sandybridge", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def numpy_targets() -> str:
    """Every dispatchable SIMD target of this numpy (the names NPY_DISABLE_CPU_FEATURES accepts)."""
    code = ("import numpy as np, json; from numpy._core import _multiarray_umath as m; "
            "print(json.dumps(sorted(set(m.__cpu_dispatch__))))")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        return " ".join(json.loads(out))
    except (subprocess.CalledProcessError, json.JSONDecodeError):
        return "AVX512F AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR AVX2 FMA3 F16C AVX"


def settings() -> dict[str, dict[str, str]]:
    npy = {"NPY_DISABLE_CPU_FEATURES": numpy_targets()}
    aten = {"ATEN_CPU_CAPABILITY": "default"}
    return {"default": {}, "npy-baseline": npy, "aten-default": aten, "blas-old": BLAS_OLD,
            "all-off": {**npy, **aten, **BLAS_OLD}}


def programs_of(submission: str, only: set[str] | None) -> list[tuple[str, str, Path]]:
    """(model id, task name, program path) of every scored program of a submission."""
    folder = SUBMISSIONS / submission
    results = json.loads((folder / "results.json").read_text())
    out = []
    for model in results["models"]:
        if model.get("program_file") and (only is None or model["model"]["id"] in only):
            out.append((model["model"]["id"], model["task"]["name"], folder / model["program_file"]))
    return out


def run_submission(submission: str, only: set[str] | None, bins: tuple[str, ...]) -> dict:
    """Predictions (real positions) and raw-output digests of every program, by model id and bin."""
    import bench.program as rasp
    from bench.data.splits import load_splits, split_batches
    from bench.data.task import get_task

    try:
        from bench.program.interpret_fast import run_program_with_outputs
    except ImportError:  # an older version of the code: predictions only
        run_program_with_outputs = None
    out = {}
    for model_id, task_name, path in programs_of(submission, only):
        program = rasp.Program.load(path)
        task = get_task(task_name)
        splits = load_splits(task)
        for bin_name in bins:
            preds, digest = [], hashlib.sha256()
            for batch in split_batches(task, splits[bin_name], batch_size=250, by_length=True):
                if run_program_with_outputs is None:
                    pred = rasp.run_program(program, batch)
                else:
                    pred, raw = run_program_with_outputs(program, batch)
                    digest.update(np.ascontiguousarray(raw).tobytes())
                real = np.arange(pred.shape[1]) < batch.lengths[:, None]
                preds.append(pred[real].reshape(-1))
            out[f"{submission}/{model_id}/{bin_name}"] = np.concatenate(preds)
            out[f"{submission}/{model_id}/{bin_name}/raw"] = np.frombuffer(digest.digest(), dtype=np.uint8)
    return out


def compare(reference: dict, other: dict) -> dict[str, list[int]]:
    """Per submission: [positions compared, positions differing, programs whose raw values differ]."""
    report: dict[str, list[int]] = {}
    for key, value in reference.items():
        if key.endswith("/raw"):
            continue
        submission = key.split("/")[0]
        row = report.setdefault(submission, [0, 0, 0])
        got = other.get(key)
        row[0] += value.size
        row[1] += value.size if got is None or got.shape != value.shape else int(np.sum(got != value))
        raw, raw_other = reference.get(key + "/raw"), other.get(key + "/raw")
        if raw is not None and raw_other is not None and not np.array_equal(raw, raw_other):
            row[2] += 1
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="+", help="folder names under submissions/")
    parser.add_argument("--programs", help="comma-separated model ids (default: all)")
    parser.add_argument("--bins", default=",".join(BINS), help="comma-separated test bins")
    parser.add_argument("--save", help="run once here and save predictions to this .npz")
    parser.add_argument("--compare", help="run once here and compare with predictions saved by --save")
    parser.add_argument("--settings", default="all", help="comma-separated setting names (default: all)")
    parser.add_argument("--submissions-dir", help="where the submission folders are (default: submissions/)")
    parser.add_argument("--_worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global SUBMISSIONS
    SUBMISSIONS = Path(args.submissions_dir).resolve() if args.submissions_dir else SUBMISSIONS
    only = set(args.programs.split(",")) if args.programs else None
    bins = tuple(args.bins.split(","))
    if args.save or args.compare or args._worker:
        results = {}
        for submission in args.submissions:
            results.update(run_submission(submission, only, bins))
        if args._worker or args.save:
            np.savez_compressed(args._worker or args.save, **results)
        if args.compare:
            print_report({"this code": compare(dict(np.load(args.compare)), results)}, "saved")
        return
    chosen = settings()
    if args.settings != "all":
        chosen = {name: chosen[name] for name in args.settings.split(",")}
    print("settings:", "; ".join(f"{name}: {env or '-'}" for name, env in chosen.items()), flush=True)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in chosen.items():
            target = os.path.join(tmp, f"{name}.npz")
            command = [sys.executable, __file__, *args.submissions, "--bins", args.bins, "--_worker", target]
            command += ["--programs", args.programs] if args.programs else []
            command += ["--submissions-dir", str(SUBMISSIONS)]
            subprocess.run(command, env={**os.environ, **env}, check=True, cwd=ROOT)
            runs[name] = dict(np.load(target))
            print(f"  ran {name}", flush=True)
    first = next(iter(runs))
    print_report({name: compare(runs[first], run) for name, run in runs.items() if name != first}, first)


def print_report(reports: dict[str, dict[str, list[int]]], against: str) -> None:
    for setting, report in reports.items():
        for submission, (n, differing, raw) in sorted(report.items()):
            print(f"{setting} vs {against}: {submission}: {differing} of {n} positions differ"
                  + (f"; raw outputs differ in {raw} (program, bin) pairs" if raw else ""))


if __name__ == "__main__":
    try:
        import bench  # noqa: F401  (installed, or on PYTHONPATH: an older copy of the code to compare with)
    except ImportError:
        sys.path.insert(0, str(ROOT))
    main()
