"""Re-save submitted programs in the compact form: JSON plus a ``.safetensors`` sidecar.

    python scripts/reencode_programs.py                                  # every submissions/*/, arrays exact
    python scripts/reencode_programs.py --float32-if-same                # also round tables to float32 ...
    python scripts/reencode_programs.py submissions/decompile --float32-if-same
    python scripts/reencode_programs.py submissions/decompile --float32-if-same --skip addition,repeat_copy

Every ``programs/*.json`` of each submission folder is read (all-JSON or
already compact) and written again with :meth:`bench.program.Program.save`:
arrays of more than 64 entries go to ``<stem>.safetensors`` beside it, as
float32 where that is exact, else float64, so the program is the same program.
The entry of ``results.json`` naming the file gets the new ``program_sha256``
(a text replacement: every other byte of ``results.json`` stays the same). A
file whose sha256 is not the one ``results.json`` records is left alone.

``--float32-if-same`` rounds every table to float32 (changing the values)
where that changes no prediction: the rounded program is run against the
original (:func:`bench.program.run_program`) on the task's whole frozen test
splits, in the batches scoring uses (250 sequences of similar length), and
kept only when every prediction array is identical on all three bins; so
every figure the submission reports (computed from those predictions) stays
exactly the same. Programs where rounding changes a prediction keep their
float64 arrays and are listed at the end.

Nothing is deleted: the JSON is replaced atomically once its sidecar is
written, and running the script again changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def predictions(program, task, splits) -> list[np.ndarray]:
    """The program's predictions on every batch of the three bins, as scoring batches them."""
    from bench.data.splits import split_batches
    from bench.program import run_program
    from bench.scoring.results import BINS
    from bench.scoring.score import BATCH_SIZE

    return [run_program(program, batch) for b in BINS
            for batch in split_batches(task, splits[b], batch_size=BATCH_SIZE, by_length=True)]


def has_inexact_tables(program) -> bool:
    """Whether some sidecar array would stay float64 without rounding (else rounding changes nothing)."""
    from bench.program.arrays import split_arrays

    tensors = split_arrays(program.to_json())
    return any(arr.dtype == np.float64 for arr in tensors.values())


def rounding_keeps_predictions(program, task_name: str) -> bool:
    """Save with float32 tables, load, and compare predictions array for array with ``program``'s."""
    from bench.data.splits import load_splits
    from bench.data.task import get_task
    from bench.program import Program

    task = get_task(task_name)
    splits = load_splits(task)
    with tempfile.TemporaryDirectory() as tmp:
        program.save(Path(tmp) / "rounded.json", round_float32=True)
        rounded = Program.load(Path(tmp) / "rounded.json")
    old, new = predictions(program, task, splits), predictions(rounded, task, splits)
    return len(old) == len(new) and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(old, new))


def reencode_program(path: Path, task_name: str | None, float32_if_same: bool) -> tuple[str, str]:
    """Re-save one program; its new sha256 and how its tables are stored."""
    from bench.program import Program

    program = Program.load(path)
    rounded = False
    how = "exact"
    if float32_if_same and task_name is not None and has_inexact_tables(program):
        rounded = rounding_keeps_predictions(program, task_name)
        how = "float32 (same predictions)" if rounded else "float64 kept (float32 changes predictions)"
    digest = program.save(path, round_float32=rounded)
    again = Program.load(path)
    if not rounded and again != program:
        raise SystemExit(f"{path}: the re-encoded program differs from the original")
    if again.size() != program.size():
        raise SystemExit(f"{path}: the re-encoded program has another size")
    return digest, how


def replace_sha(text: str, old: str, new: str, where: str) -> str:
    needle = f'"program_sha256": "{old}"'
    if text.count(needle) != 1:
        raise SystemExit(f"{where}: program_sha256 {old[:12]}... appears {text.count(needle)} times")
    return text.replace(needle, f'"program_sha256": "{new}"')


def reencode_submission(folder: Path, float32_if_same: bool, kept: list[str], skip: set[str] = frozenset()) -> None:
    from bench.program.arrays import write_bytes_atomic

    results_path = folder / "results.json"
    text = results_path.read_text(encoding="utf-8")
    entries = {m["program_file"]: m for m in json.loads(text)["models"] if m.get("program_file")}
    for path in sorted((folder / "programs").glob("*.json")):
        if path.stem in skip:
            continue
        rel = path.relative_to(folder).as_posix()
        entry = entries.get(rel)
        old = hashlib.sha256(path.read_bytes()).hexdigest()
        if entry is not None and entry["program_sha256"] != old:
            log(f"{folder.name}/{rel}: sha256 is not the one results.json records; left alone")
            continue
        before = path.stat().st_size
        start = time.monotonic()
        digest, how = reencode_program(path, entry["task"]["name"] if entry else None, float32_if_same)
        sidecar = path.with_suffix(".safetensors")
        after = path.stat().st_size + (sidecar.stat().st_size if sidecar.exists() else 0)
        if how.startswith("float64 kept"):
            kept.append(f"{folder.name}/{rel}")
        if entry is not None and digest != old:
            text = replace_sha(text, old, digest, str(results_path))
            write_bytes_atomic(results_path, text.encode("utf-8"))
        log(f"{folder.name}/{rel}: {before:,} -> {after:,} bytes, {how}, {time.monotonic() - start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="submission folders (default: every submissions/*/)")
    parser.add_argument("--float32-if-same", action="store_true",
                        help="round tables to float32 where no prediction on the frozen test splits changes")
    parser.add_argument("--skip", default="", metavar="STEMS",
                        help="comma-separated program names to leave as they are (e.g. addition,repeat_copy)")
    args = parser.parse_args(argv)
    skip = {name for name in args.skip.split(",") if name}
    folders = args.folders or sorted(p for p in (ROOT / "submissions").iterdir() if (p / "results.json").is_file())
    kept: list[str] = []
    for folder in folders:
        log(f"{folder}: re-encoding")
        reencode_submission(folder, args.float32_if_same, kept, skip)
    if args.float32_if_same:
        log("float64 kept (rounding changes predictions): " + (", ".join(kept) if kept else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
