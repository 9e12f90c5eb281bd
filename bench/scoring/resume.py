"""Which results of an earlier run in the same output folder a new run can keep (``--resume``).

An entry is kept only when rerunning it would reproduce it: the same method
(name and parameters), seed, ``--limit`` and threshold for the whole run, and
for the model the same weights (sha256), task version and split
fingerprints, with its program file present and unchanged. Everything else,
failed extractions included, is evaluated again. A results file from a
different run is refused rather than mixed in.

The earlier results.json is read as untrusted (it may not be this tool's):
an entry whose task is unknown or whose program file is missing, outside the
folder or unreadable is evaluated again, and anything else wrong with the file
is one :class:`ResumeError` line, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePosixPath

from bench.data.splits import load_splits, split_fingerprint
from bench.data.task import get_task
from bench.errors import BenchError
from bench.program import ProgramError
from bench.program.arrays import from_bytes
from bench.program.errors import MAX_JSON_CHARS
from bench.scoring.results import ModelResult, Results, ResultsError, load_results
from bench.scoring.schema import bad_character, printable


class ResumeError(BenchError):
    """The output folder holds results that a resumed run must not mix with its own."""


def run_mismatches(previous: Results, current: Results) -> list[str]:
    """What differs between two runs' settings, as ``field: old -> new``."""
    problems = []
    for label, old, new in [
        ("method", previous.method.name, current.method.name),
        ("method parameters", previous.method.parameters, current.method.parameters),
        ("seed", previous.seed, current.seed),
        ("limit", previous.limit, current.limit),
        ("match_threshold", previous.match_threshold, current.match_threshold),
    ]:
        if old != new:
            problems.append(f"{label}: {printable(repr(old), 200)} -> {printable(repr(new), 200)}")
    return problems


def _task_unchanged(entry: ModelResult) -> bool:
    from bench.data.task import TaskError

    try:
        task = get_task(entry.task.name)
    except TaskError:  # a task this version does not have: evaluate again (and fail there, clearly)
        return False
    if task.version != entry.task.version:
        return False
    splits = load_splits(task)
    fingerprints = entry.task.split_fingerprints
    return set(fingerprints) == set(splits) and all(split_fingerprint(splits[b]) == fp for b, fp in fingerprints.items())


def _program_unchanged(entry: ModelResult, out_dir: Path) -> bool:
    """The JSON has the recorded sha256 and its sidecar (if any) the sha256 the JSON records."""
    name = entry.program_file
    if not isinstance(name, str) or len(name) > 1024 or bad_character(name):
        return False
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or any(len(p.encode("utf-8")) > 255 for p in pure.parts):
        return False
    path = out_dir / name
    try:
        if Path(out_dir).resolve() not in path.resolve().parents:
            return False
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_JSON_CHARS:
            return False
        with open(path, "rb") as handle:
            raw = handle.read(MAX_JSON_CHARS + 1)
    except (OSError, ValueError, RuntimeError):  # missing, a symlink loop, a name the system refuses
        return False
    if hashlib.sha256(raw).hexdigest() != entry.program_sha256:
        return False
    try:
        from_bytes(raw, path.resolve().parent, path.name)
    except ProgramError:
        return False
    return True


def reusable_results(out_dir: Path, current: Results, weights_sha256: dict[str, str]) -> dict[str, ModelResult]:
    """Entries of ``out_dir/results.json`` to keep, by model id.

    ``weights_sha256`` maps every model id of the new run to the sha256 of
    the weights it would score; models not in it are dropped.
    """
    path = out_dir / "results.json"
    if not path.exists():
        return {}
    try:
        previous = load_results(path)
    except ResultsError as exc:
        raise ResumeError(f"cannot resume: {exc}") from None
    problems = run_mismatches(previous, current)
    if problems:
        raise ResumeError(
            f"cannot resume from {printable(str(path), 300)}: it was made with different settings ({'; '.join(problems)}); "
            "use another --out, or leave out --resume to start over"
        )
    keep = {}
    for index, entry in enumerate(previous.models):
        if entry.status != "ok":  # failures are often transient (a time limit on a busy machine): try again
            continue
        if weights_sha256.get(entry.model.id) != entry.model.weights_sha256:
            continue
        try:
            unchanged = _task_unchanged(entry) and _program_unchanged(entry, out_dir)
        except Exception as exc:  # noqa: BLE001 -- an untrusted file: whatever breaks is one line
            raise ResumeError(
                f"cannot resume from {printable(str(path), 300)}: models[{index}]: {type(exc).__name__}: "
                f"{printable(str(exc), 200)}; use another --out, or leave out --resume to start over"
            ) from None
        if unchanged:
            keep[entry.model.id] = entry
    return keep
