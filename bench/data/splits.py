"""Frozen test splits: 2,000 sequences per length bin, drawn once and fingerprinted.

Every task has three test splits, ``test_0_50``, ``test_51_100`` and
``test_101_150`` (``bench.data.task.TEST_SPLITS``). A split is drawn from its own
seed, derived from ``"<task name>/<task version>/<split name>"`` by sha256, with
``numpy.random.default_rng``: the length is drawn by the task's length rule,
then the sequence by its sampler, 2,000 times. The data therefore depends only
on the task's name, version and code (and numpy's documented generator).

A split is a :class:`datasets.Dataset` with columns

- ``input_ids``: the whole token sequence (positions start at 0);
- ``targets``: token tasks: the target token ids (everything after
  ``<sep>``); token-set tasks: one 0/1 list over the vocabulary per scored
  position (``<bos>`` through the last symbol);
- ``length``: the task's length measure ``L``.

:func:`split_fingerprint` is the sha256 of the token arrays, identical on
every machine. Splits are cached under ``$RASP_BENCH_CACHE`` (default
``~/.cache/rasp-bench``) by task name and version, written atomically and
rebuilt when missing or corrupt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.data.task import TEST_SPLITS, Batch, Task, get_task

if TYPE_CHECKING:  # datasets takes about a second to import: each function that needs it imports it
    import datasets

#: Sequences per test split.
N_SEQUENCES = 2000
#: Bumped when the on-disk layout of the cache changes (not the data: that is the task version).
CACHE_FORMAT = 1
CACHE_ENV = "RASP_BENCH_CACHE"
SPLIT_NAMES = tuple(TEST_SPLITS)
_META_FILE = "rasp_bench_splits.json"


# ----- drawing --------------------------------------------------------------------


def split_seed(task: Task, split: str) -> int:
    """The fixed seed of one (task, split): sha256 of ``name/version/split``, first 8 bytes."""
    digest = hashlib.sha256(f"{task.name}/{task.version}/{split}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def sample_split(task: Task, split: str, n: int = N_SEQUENCES) -> list[list[int]]:
    """The ``n`` sequences of one test split, in order."""
    lo, hi = TEST_SPLITS[split]
    rng = np.random.default_rng(split_seed(task, split))
    return [task.sample(task.draw_length(lo, hi, rng), rng) for _ in range(n)]


def _features(task: Task) -> datasets.Features:
    import datasets

    # Sequence rather than List: the same arrow types, and it exists in every datasets >= 2.16
    if task.kind == "token":
        target = datasets.Value("int32")
    else:  # a fixed-size list: one bit per vocabulary entry
        target = datasets.Sequence(datasets.Value("int8"), length=task.vocab_size)
    return datasets.Features(
        {
            "input_ids": datasets.Sequence(datasets.Value("int32")),
            "targets": datasets.Sequence(target),
            "length": datasets.Value("int32"),
        }
    )


def _list_array(values: np.ndarray | pa.Array, sizes: list[int]) -> pa.ListArray:
    """An arrow list column: consecutive runs of ``sizes`` items of the flat ``values``."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values if isinstance(values, pa.Array) else pa.array(values))


def build_split(task: Task, split: str, n: int = N_SEQUENCES) -> datasets.Dataset:
    """Draw one test split (no cache)."""
    import datasets

    sequences = sample_split(task, split, n)
    sizes = [len(s) for s in sequences]
    tokens = np.concatenate(sequences)
    input_ids = _list_array(tokens.astype(np.int32), sizes)
    if task.kind == "token":
        targets = [task.targets(s) for s in sequences]
        target_column = _list_array(np.concatenate(targets).astype(np.int32), [len(t) for t in targets])
    else:  # one row of V bits per scored position: <bos> .. last symbol
        rows = [task.allowed_next(s[1:-1]) for s in sequences]
        bits = pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(rows).astype(np.int8).ravel()), task.vocab_size)
        target_column = _list_array(bits, [len(r) for r in rows])
    lengths = pa.array(np.array([task.length_of(s) for s in sequences], dtype=np.int32))
    features = _features(task)
    table = pa.table([input_ids, target_column, lengths], schema=features.arrow_schema)
    return datasets.Dataset(
        datasets.table.InMemoryTable(table),
        info=datasets.DatasetInfo(description=f"{task.name} {task.version} {split}", features=features),
        split=datasets.NamedSplit(split),
        fingerprint=_fingerprint(np.array(sizes, dtype=np.int64), tokens.astype(np.int64))[:16],
    )


def build_splits(task: Task | str) -> datasets.DatasetDict:
    """Draw all three test splits of a task (no cache)."""
    import datasets

    task = _resolve(task)
    return datasets.DatasetDict({split: build_split(task, split) for split in SPLIT_NAMES})


# ----- fingerprints -----------------------------------------------------------------


def _token_arrays(dataset: datasets.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, flat token ids)`` of the ``input_ids`` column, rows in dataset order."""
    column = dataset.select_columns(["input_ids"]).with_format("arrow")[:]["input_ids"].combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, values


def split_fingerprint(dataset: datasets.Dataset) -> str:
    """sha256 (hex) of the token arrays of a split.

    The bytes hashed are, for every sequence in order, its number of tokens
    followed by its token ids, each a little-endian signed 64-bit integer. It
    does not depend on how the column is stored (int32 or int64, chunks).
    """
    return _fingerprint(*_token_arrays(dataset))


def _fingerprint(lengths: np.ndarray, values: np.ndarray) -> str:
    stream = np.empty(len(lengths) + len(values), dtype="<i8")
    header = np.cumsum(np.concatenate([[0], lengths[:-1] + 1])) if len(lengths) else np.zeros(0, dtype=np.int64)
    is_header = np.zeros(len(stream), dtype=bool)
    is_header[header] = True
    stream[is_header] = lengths
    stream[~is_header] = values
    return hashlib.sha256(stream.tobytes()).hexdigest()


def split_fingerprints(splits: datasets.DatasetDict) -> dict[str, str]:
    """``{split name: fingerprint}`` for every split of a task."""
    return {name: split_fingerprint(splits[name]) for name in splits}


# ----- cache ------------------------------------------------------------------------


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$RASP_BENCH_CACHE``, else ``~/.cache/rasp-bench``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rasp-bench")


def split_cache_path(task: Task, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the splits of ``task`` are cached (one folder per task name and version)."""
    return cache_root(cache_dir) / "splits" / f"v{CACHE_FORMAT}" / task.name / task.version


@contextlib.contextmanager
def _quiet_datasets():
    """Silence datasets' progress bars (saving and loading are instant), then restore."""
    import datasets

    were_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if not were_disabled:
            datasets.utils.enable_progress_bars()


def _data_files(path: Path) -> dict[str, str]:
    """sha256 of every arrow data file under ``path``, by relative path."""
    return {
        str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.rglob("*.arrow"))
    }


def _load_cached(task: Task, path: Path) -> datasets.DatasetDict:
    """The cached splits at ``path``; any problem (missing, truncated, altered) raises."""
    import datasets

    meta = json.loads((path / _META_FILE).read_text())
    if meta["task"] != task.name or meta["version"] != task.version or not meta["files"]:
        raise ValueError("cache of another task")
    if _data_files(path) != meta["files"]:
        raise ValueError("the data files changed since they were written")
    splits = datasets.load_from_disk(str(path))
    if not isinstance(splits, datasets.DatasetDict) or tuple(splits) != SPLIT_NAMES:
        raise ValueError("unexpected splits")
    if any(splits[name].num_rows != N_SEQUENCES for name in SPLIT_NAMES):
        raise ValueError("a split has the wrong number of sequences")
    return splits


def _write_cache(task: Task, path: Path) -> None:
    """Build the splits into a temporary folder beside ``path``, then rename it into place."""
    splits = build_splits(task)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{secrets.token_hex(8)}"  # mkdir, not mkdtemp: keep the umask's permissions
    tmp.mkdir()
    try:
        splits.save_to_disk(str(tmp))
        meta = {
            "task": task.name,
            "version": task.version,
            "fingerprints": split_fingerprints(splits),
            "files": _data_files(tmp),
        }
        (tmp / _META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if path.exists():  # a corrupt copy: move it out of the way first
            trash = path.parent / f".old-{secrets.token_hex(8)}"
            os.replace(path, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:
            if not path.exists():  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_splits(task: Task | str, *, cache_dir: str | os.PathLike | None = None) -> datasets.DatasetDict:
    """The frozen test splits of a task, from the cache or built (and cached) now."""
    task = _resolve(task)
    path = split_cache_path(task, cache_dir)
    with _quiet_datasets():
        if path.exists():
            try:
                return _load_cached(task, path)
            except Exception:  # a corrupt cache of any kind is rebuilt, never trusted
                pass
        _write_cache(task, path)
        return _load_cached(task, path)


# ----- batches and export ---------------------------------------------------------------


def split_batches(
    task: Task | str,
    dataset: datasets.Dataset,
    batch_size: int = 256,
    limit: int | None = None,
    *,
    by_length: bool = False,
) -> Iterator[Batch]:
    """The split as padded :class:`~bench.data.task.Batch` es in order, positions ``0..T-1``.

    ``limit`` keeps only the first ``limit`` sequences. ``by_length`` batches
    those sequences shortest first (a stable sort), so that a batch pads
    little; scores that are counts over sequences do not depend on the order.
    """
    for _, batch in indexed_batches(task, dataset, batch_size, limit, by_length=by_length):
        yield batch


def indexed_batches(
    task: Task | str,
    dataset: datasets.Dataset,
    batch_size: int = 256,
    limit: int | None = None,
    *,
    by_length: bool = False,
) -> Iterator[tuple[np.ndarray, Batch]]:
    """Like :func:`split_batches`, each batch with the split indices of its rows."""
    task = _resolve(task)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    lengths, values = _token_arrays(dataset)
    n = len(lengths) if limit is None else min(limit, len(lengths))
    sequences = [s.tolist() for s in np.split(values, np.cumsum(lengths)[:-1])] if len(lengths) else []
    order = np.argsort(lengths[:n], kind="stable") if by_length else np.arange(n)
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        yield rows, task.collate([sequences[i] for i in rows])


def export_splits(
    task: Task | str, folder: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Write a Hub-ready dataset folder: ``data/<split>-00000-of-00001.parquet`` and a ``README.md`` card."""
    task = _resolve(task)
    folder = Path(folder)
    splits = load_splits(task, cache_dir=cache_dir)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    with _quiet_datasets():
        for name in SPLIT_NAMES:
            splits[name].to_parquet(str(folder / "data" / f"{name}-00000-of-00001.parquet"))
    (folder / "README.md").write_text(dataset_card(task, split_fingerprints(splits)))
    return folder


def card_metadata(task: Task, fingerprints: dict[str, str]):
    """The YAML metadata of an exported task's dataset card (a ``huggingface_hub.DatasetCardData``)."""
    from huggingface_hub import DatasetCardData

    return DatasetCardData(
        license="apache-2.0",
        pretty_name=f"rasp-bench {task.name}",
        tags=["rasp-bench", "length-generalization", "algorithmic-reasoning", "formal-languages"],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in SPLIT_NAMES],
            }
        ],
        rasp_bench={
            "task": task.name,
            "task_version": task.version,
            "kind": task.kind,
            "vocabulary": list(task.vocab.tokens),
            "layout": task.layout,
            "length_measure": task.length_measure,
            "length_rule": task.length_rule,
            "n_positions": task.n_positions,
            "sequences_per_split": N_SEQUENCES,
            "length_bins": {s: list(TEST_SPLITS[s]) for s in SPLIT_NAMES},
            "fingerprints": fingerprints,
        },
    )


def dataset_card(task: Task, fingerprints: dict[str, str]) -> str:
    """The dataset card (README.md with YAML metadata) of an exported task."""
    rows = "\n".join(
        f"| `{s}` | {TEST_SPLITS[s][0]}-{TEST_SPLITS[s][1]} | {N_SEQUENCES} | `{fingerprints[s]}` |" for s in SPLIT_NAMES
    )
    if task.kind == "token":
        targets = "the target token ids (everything after `<sep>`, scored with the logits one position earlier)"
    else:
        targets = "one 0/1 list over the vocabulary per position from `<bos>` to the last symbol: the tokens allowed next"
    symbols = " ".join(task.symbols) if len(task.symbols) <= 30 else f"{task.symbols[0]} .. {task.symbols[-1]}"
    return f"""---
{card_metadata(task, fingerprints).to_yaml()}
---

# rasp-bench: `{task.name}` (version {task.version})

{task.description}

Frozen test splits of the rasp-bench task `{task.name}`: sequences of the form
`{task.layout}`, with {N_SEQUENCES} i.i.d. sequences per length bin drawn once from a
fixed seed. `L` is the {task.length_measure} (rule: {task.length_rule}).

| split | L | sequences | sha256 fingerprint of the token arrays |
|---|---|---|---|
{rows}

Columns:

- `input_ids`: the whole sequence, position ids `0 .. T-1`;
- `targets`: {targets};
- `length`: `L`.

Vocabulary: content symbols `{symbols}` with ids `0 .. {task.vocab.n_symbols - 1}`, then
`<bos>` = {task.vocab.bos}, `<sep>` = {task.vocab.sep}, `<eos>` = {task.vocab.eos}, `<pad>` = {task.vocab.pad}.

Rebuild and verify with `python -m bench.tasks list` in the rasp-bench repository.

Sources: Huang et al., "A Formal Framework for Understanding Length Generalization in
Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra, Merrill, Hahn, "Discovering
Interpretable Algorithms by Decompiling Transformers to RASP", 2026.
"""


def _resolve(task: Task | str) -> Task:
    return get_task(task) if isinstance(task, str) else task
