"""Sharded evaluation: ``--shard K/N`` runs one part of the models, ``merge`` joins the parts.

    python -m bench.evaluate oracle --shard 1/3 --out a    # any job array: Slurm, HTCondor, GNU parallel
    python -m bench.evaluate oracle --shard 2/3 --out b
    python -m bench.evaluate oracle --shard 3/3 --out c
    python -m bench.evaluate merge a b c --out m           # = python -m bench.evaluate oracle --out m

**Partition.** The selected model ids (``--models``/``--tasks``, or the whole
zoo) are sorted, and shard K of N takes every N-th of them starting at the
K-th: round-robin over the sorted ids. It depends only on the set of selected
ids, never on the order ``--models`` lists them in, and shard sizes differ
by at most one (a shard may be empty when N exceeds the number of models).
Within a shard, and in the merged results, models keep the order of the
selection, as a single run does.

**Manifest.** Besides its ``results.json`` (whose schema is unchanged), a
shard's ``--out`` folder holds ``shard.json`` (:class:`ShardManifest`):
K, N, the whole selection and this shard's models, and the extraction time
limit (a setting that results.json does not record).

**Merge.** ``merge`` reads the shard folders as untrusted, and refuses with a
message naming what is wrong: a folder that is not a shard, shards of other
settings (method name, spec and parameters, seed, ``--limit``, threshold,
time limit, bench version, git commit, the selection, N, a task's version or
split fingerprints), a shard number given twice or missing, a model in two
shards or in none, an unfinished shard, and program files that are missing or
whose sha256 differs from the recorded one. The merged ``results.json``,
``programs/`` and ``match_acc_by_length.png`` are those a single run with the
same settings writes, except the measured figures: each model's ``cost``
keeps its shard's measurement, and ``date`` is the latest shard's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bench.errors import BenchError
from bench.scoring import schema, untrusted_json

MANIFEST = "shard.json"
MANIFEST_FORMAT = 1
PARTITION = "round-robin over sorted model ids"
#: What :func:`read_manifest` reads of a shard.json (two lists of model ids: thousands of models fit).
MANIFEST_LIMITS = untrusted_json.JsonLimits(max_bytes=4 << 20, max_depth=8, max_containers=100, max_int_digits=20)
#: ``N`` of ``--shard K/N`` lies in [1, this].
MAX_SHARDS = 10_000


class ShardError(BenchError):
    """Shard folders that cannot be merged into one run's results."""


@dataclass
class ShardManifest:
    format: int  # MANIFEST_FORMAT of the writer
    shard: int  # K, from 1
    n_shards: int  # N
    partition: str  # how the selection was split (PARTITION)
    selection: list[str]  # every selected model id, in the order of the selection
    models: list[str]  # this shard's model ids, in the order of the selection
    time_limit: float  # seconds per extraction (not recorded in results.json)


# ----- the partition -----------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with 1 <= K <= N; ``argparse.ArgumentTypeError`` otherwise."""
    import argparse

    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected K/N (shard K of N, e.g. 2/8), got {text[:40]!r}")
    k, n = int(match[1]), int(match[2])
    if not 1 <= n <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"expected N from 1 to {MAX_SHARDS} in K/N, got {text[:40]!r}")
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K from 1 to N in K/N, got {text[:40]!r}")
    return k, n


def shard_ids(ids: list[str], k: int, n: int) -> list[str]:
    """The ids of shard ``k`` of ``n``, in the order of ``ids`` (each once).

    >>> shard_ids(["d", "a", "c", "b", "e"], 1, 2), shard_ids(["d", "a", "c", "b", "e"], 2, 2)
    (['a', 'c', 'e'], ['d', 'b'])
    >>> shard_ids(["e", "b", "c", "a", "d"], 2, 2)   # the same shard, whatever the order given
    ['b', 'd']
    """
    mine = set(sorted(set(ids))[k - 1::n])
    out, seen = [], set()
    for model_id in ids:
        if model_id in mine and model_id not in seen:
            out.append(model_id)
            seen.add(model_id)
    return out


def unique_ids(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def write_manifest(out_dir: Path, k: int, n: int, selection: list[str], time_limit: float) -> ShardManifest:
    from bench.scoring.results import write_json_atomic

    selection = unique_ids(selection)
    manifest = ShardManifest(MANIFEST_FORMAT, k, n, PARTITION, selection, shard_ids(selection, k, n), time_limit)
    write_json_atomic(out_dir / MANIFEST, schema.dump(manifest))
    return manifest


def read_manifest(folder: Path) -> ShardManifest:
    shown = schema.printable(str(folder), 300)
    path = folder / MANIFEST
    try:
        data = untrusted_json.read_json(path, MANIFEST_LIMITS)
    except FileNotFoundError:
        raise ShardError(f"{shown} holds no {MANIFEST}: not the --out folder of a --shard K/N run") from None
    except untrusted_json.JsonInputError as exc:
        raise ShardError(f"{shown}/{MANIFEST}: " + "; ".join(exc.problems)) from None
    try:
        manifest = schema.load(data, ShardManifest, "shard")
    except schema.SchemaError as exc:
        raise ShardError(f"{shown}/{MANIFEST}: " + "; ".join(exc.problems)) from None
    if manifest.format != MANIFEST_FORMAT or manifest.partition != PARTITION:
        raise ShardError(f"{shown}/{MANIFEST}: format {manifest.format!r} / partition "
                         f"{schema.printable(manifest.partition, 80)!r} is not this version's "
                         f"({MANIFEST_FORMAT}, {PARTITION!r})")
    if not 1 <= manifest.shard <= manifest.n_shards <= MAX_SHARDS:
        raise ShardError(f"{shown}/{MANIFEST}: shard {manifest.shard}/{manifest.n_shards} is not K/N with 1 <= K <= N")
    if manifest.models != shard_ids(manifest.selection, manifest.shard, manifest.n_shards):
        raise ShardError(f"{shown}/{MANIFEST}: its models are not shard {manifest.shard}/{manifest.n_shards} "
                         "of its selection")
    return manifest


# ----- the merge ---------------------------------------------------------------------------


def _names(items, limit: int = 8) -> str:
    items = [schema.printable(str(i), 120) for i in items]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _settings(manifest: ShardManifest, results) -> dict[str, object]:
    """What must be equal in every shard of one run (compared as ``field: value``)."""
    return {
        "method name": results.method.name,
        "method spec": results.method.spec,
        "method parameters": results.method.parameters,
        "seed": results.seed,
        "limit": results.limit,
        "match_threshold": results.match_threshold,
        "time_limit": manifest.time_limit,
        "bench_version": results.bench_version,
        "git_commit": results.git_commit,
        "number of shards N": manifest.n_shards,
        "selected models": sorted(manifest.selection),
    }


def load_shards(folders: list[Path]):
    """``[(folder, manifest, results)]`` sorted by shard number, checked to form one whole run."""
    if not folders:
        raise ShardError("no shard folders given")
    shards = [_read_shard(folder) for folder in folders]
    problems = _settings_problems(shards)
    if problems:
        raise ShardError("cannot merge shards of different runs: " + "; ".join(problems))
    problems = _coverage_problems(shards) + _task_problems(shards)
    if problems:
        raise ShardError("cannot merge: " + "; ".join(dict.fromkeys(problems)))
    return sorted(shards, key=lambda s: s[1].shard)


def _read_shard(folder: Path):
    """``(folder, manifest, results)`` of one shard folder."""
    from bench.scoring.results import ResultsError, load_results

    manifest = read_manifest(folder)
    try:
        results = load_results(folder / "results.json")
    except ResultsError as exc:
        raise ShardError(f"shard {manifest.shard}/{manifest.n_shards} ({schema.printable(str(folder), 300)}): "
                         f"{exc}") from None
    return folder, manifest, results


def _label(folder, manifest) -> str:
    return f"shard {manifest.shard}/{manifest.n_shards} ({schema.printable(str(folder), 200)})"


def _settings_problems(shards) -> list[str]:
    """One run's settings: every shard's the same as the first's."""
    problems = []
    first_folder, first_manifest, first_results = shards[0]
    reference = _settings(first_manifest, first_results)
    for folder, manifest, results in shards[1:]:
        for key, value in _settings(manifest, results).items():
            if value != reference[key]:
                shown = "differ" if key == "selected models" else \
                    f"{schema.printable(repr(value), 160)} vs {schema.printable(repr(reference[key]), 160)}"
                problems.append(f"{_label(folder, manifest)} has other settings than "
                                f"{_label(first_folder, first_manifest)}: {key} {shown}")
    return problems


def _coverage_problems(shards) -> list[str]:
    """Every shard once, every model once, and each shard finished."""
    problems = []
    by_number: dict[int, list[Path]] = {}
    for folder, manifest, _ in shards:
        by_number.setdefault(manifest.shard, []).append(folder)
    first_manifest = shards[0][1]
    n = first_manifest.n_shards
    for number, given in sorted(by_number.items()):
        if len(given) > 1:
            problems.append(f"shard {number}/{n} given {len(given)} times: {_names(given)}")
    missing_shards = [k for k in range(1, n + 1) if k not in by_number]
    owners: dict[str, list[str]] = {}
    for folder, manifest, results in shards:
        problems += _shard_models_problems(folder, manifest, results)
        for model_id in (m.model.id for m in results.models):
            owners.setdefault(model_id, []).append(_label(folder, manifest))
    for model_id, where in owners.items():
        if len(where) > 1:
            problems.append(f"model {schema.printable(model_id, 120)} is in {len(where)} shards: {_names(where)}")
    missing_models = [i for i in first_manifest.selection if i not in owners]
    if missing_shards or missing_models:
        problems.append(
            (f"missing shard{'s' if len(missing_shards) > 1 else ''} "
             f"{', '.join(f'{k}/{n}' for k in missing_shards)}" if missing_shards else "missing models")
            + (f" (models {_names(missing_models)})" if missing_models else ""))
    return problems


def _shard_models_problems(folder, manifest, results) -> list[str]:
    """One shard holds results for exactly its manifest's models, each once."""
    problems = []
    recorded = [m.model.id for m in results.models]
    unexpected = [i for i in recorded if i not in manifest.models]
    unfinished = [i for i in manifest.models if i not in recorded]
    if unexpected:
        problems.append(f"{_label(folder, manifest)} holds results of models not in it: {_names(unexpected)}")
    if unfinished:
        problems.append(f"{_label(folder, manifest)} is unfinished: no results for {_names(unfinished)} "
                        "(rerun it with --resume)")
    if len(set(recorded)) != len(recorded):
        problems.append(f"{_label(folder, manifest)} holds a model twice")
    return problems


def _task_problems(shards) -> list[str]:
    """One version (and the same split fingerprints) of every task across the shards."""
    problems = []
    tasks: dict[str, tuple[object, str]] = {}
    for folder, manifest, results in shards:
        for m in results.models:
            seen = (m.task.version, m.task.kind, m.task.split_fingerprints)
            if m.task.name not in tasks:
                tasks[m.task.name] = (seen, _label(folder, manifest))
            elif tasks[m.task.name][0] != seen:
                problems.append(f"task {schema.printable(m.task.name, 80)} has another version or other split "
                                f"fingerprints in {_label(folder, manifest)} than in {tasks[m.task.name][1]}")
    return problems


def _read_program(src_dir: Path, entry, shard_label: str) -> list[tuple[str, bytes]]:
    """One program's files under ``programs/`` (its safetensors sidecar first), checked against the sha256s."""
    from bench.program.errors import MAX_JSON_CHARS

    name = entry.program_file
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or schema.bad_character(name) or len(pure.parts) != 2 \
            or pure.parts[0] != "programs":
        raise ShardError(f"{shard_label}: model {schema.printable(entry.model.id, 120)}: program_file "
                         f"{schema.printable(name, 200)!r} is not a file under programs/")
    src = src_dir / name
    try:
        raw = src.read_bytes()
    except OSError as exc:
        raise ShardError(f"{shard_label}: program {schema.printable(name, 200)} cannot be read "
                         f"({exc.strerror or exc})") from None
    if len(raw) > MAX_JSON_CHARS or hashlib.sha256(raw).hexdigest() != entry.program_sha256:
        raise ShardError(f"{shard_label}: program {schema.printable(name, 200)} does not have the sha256 "
                         "recorded in its results.json")
    files = [(pure.name, raw)]
    try:
        side = json.loads(raw).get("sidecar")
    except (ValueError, AttributeError, RecursionError):
        side = None
    if isinstance(side, dict) and isinstance(side.get("file"), str):
        side_name = side["file"]
        if "/" in side_name or "\\" in side_name or side_name in ("", ".", "..") or schema.bad_character(side_name):
            raise ShardError(f"{shard_label}: program {schema.printable(name, 200)} names a bad sidecar file")
        try:
            blob = (src.parent / side_name).read_bytes()
        except OSError as exc:
            raise ShardError(f"{shard_label}: sidecar {schema.printable(side_name, 200)} cannot be read "
                             f"({exc.strerror or exc})") from None
        if hashlib.sha256(blob).hexdigest() != side.get("sha256"):
            raise ShardError(f"{shard_label}: sidecar {schema.printable(side_name, 200)} does not have the sha256 "
                             "its program records")
        files.insert(0, (side_name, blob))  # the sidecar first, as Program.save writes them
    return files


def merge(folders: list[Path], out_dir: Path):
    """Write the merged run into ``out_dir``; returns its :class:`bench.scoring.results.Results`."""
    from bench.evaluate import check_out_dir
    from bench.program.arrays import write_bytes_atomic
    from bench.scoring.report import plot_match_by_length
    from bench.scoring.results import save_results
    from bench.scoring.score import summarize

    shards = load_shards(folders)
    resolved_out = out_dir.resolve()
    for folder, manifest, _ in shards:
        if folder.resolve() == resolved_out:
            raise ShardError(f"--out {schema.printable(str(out_dir), 300)} is shard {manifest.shard}/{manifest.n_shards}'s "
                             "folder; name a new folder for the merged results")
    first_manifest, first_results = shards[0][1], shards[0][2]
    check_out_dir(out_dir, first_results.method.name, resume=False)
    order = {model_id: i for i, model_id in enumerate(first_manifest.selection)}
    entries = []
    for folder, manifest, results in shards:
        shard_label = f"shard {manifest.shard}/{manifest.n_shards} ({schema.printable(str(folder), 200)})"
        for entry in results.models:
            entries.append((folder, shard_label, entry))
    entries.sort(key=lambda e: order[e[2].model.id])
    files = []  # every program is checked before anything is written
    for folder, shard_label, entry in entries:
        if entry.program_file is not None:
            files += _read_program(folder, entry, shard_label)
    for file_name, data in files:
        write_bytes_atomic(out_dir / "programs" / file_name, data)
    for folder, _, entry in entries:
        _copy_side_files(folder, entry.model.id, out_dir)
    merged = first_results
    merged.models = [entry for _, _, entry in entries]
    merged.summary = summarize(merged.models)
    merged.date = max(results.date for _, _, results in shards)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # the merged folder is a whole run, not a shard
    save_results(out_dir / "results.json", merged)
    if merged.models:
        plot_match_by_length(merged, out_dir / "match_acc_by_length.png")
    return merged


#: The largest side file (a traceback, a model's diagnostics) that merge copies; a bigger one is left out.
MAX_SIDE_FILE_BYTES = 4 << 20


def _copy_side_files(folder: Path, model_id: str, out_dir: Path) -> None:
    """Copy what a run keeps beside a model's program (its traceback, its diagnostics) into the merged run."""
    from bench.program.arrays import write_bytes_atomic
    from bench.scoring.run import diagnostics_filename, error_filename

    for name in (error_filename(model_id), diagnostics_filename(model_id)):
        source = folder / name
        try:
            if source.is_file() and not source.is_symlink() and source.stat().st_size <= MAX_SIDE_FILE_BYTES:
                write_bytes_atomic(out_dir / name, source.read_bytes())
        except OSError:
            continue  # a side file is a convenience: the merge does not depend on it


def merge_main(argv: list[str]) -> int:
    """``python -m bench.evaluate merge DIR... --out OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.evaluate merge",
        description="Combine the --out folders of --shard K/N runs into the results of one run.",
    )
    parser.add_argument("shards", nargs="+", type=Path, metavar="DIR", help="the --out folder of every shard, 1/N to N/N")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the merged results (new, empty, or an earlier run of the same method)")
    args = parser.parse_args(argv)
    from bench.errors import UsageError
    from bench.scoring.report import summary_table

    try:
        merged = merge(args.shards, args.out)
    except (ShardError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_table(merged))
    print(f"merged {len(args.shards)} shards: {args.out / 'results.json'}")
    return 0
