"""Frozen test splits: pinned fingerprints, determinism across processes, cache, batches, export."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.data.splits import (
    N_SEQUENCES,
    SPLIT_NAMES,
    build_split,
    export_splits,
    load_splits,
    split_batches,
    split_cache_path,
    split_fingerprint,
    split_fingerprints,
    split_seed,
)
from bench.data.task import TEST_SPLITS, TaskError, get_task, task_names
from bench.tasks.__main__ import check_fingerprints, pinned_fingerprints

REPO = Path(__file__).resolve().parents[1]

# The pins live in tasks/split_fingerprints.json (python -m bench.tasks fingerprints [--write]).
EXPECTED_FINGERPRINTS = {name: tuple(prints[s] for s in SPLIT_NAMES) for name, prints in pinned_fingerprints().items()}


def test_every_task_is_pinned():
    assert sorted(EXPECTED_FINGERPRINTS) == task_names()


def test_the_fingerprints_command_finds_a_changed_split(suite_splits, tmp_path):
    report, status = check_fingerprints()
    assert status == 0 and "all 28 tasks match" in report
    pins = json.loads(Path(REPO / "tasks" / "split_fingerprints.json").read_text())
    pins["tasks"]["sort"]["test_51_100"] = "0" * 64
    del pins["tasks"]["count"]
    altered = tmp_path / "pins.json"
    altered.write_text(json.dumps(pins))
    report, status = check_fingerprints(path=altered)
    assert status == 1
    assert "sort: test_51_100 is " in report and "pinned 000000000000" in report and "count: not pinned" in report
    check_fingerprints(write=True, path=altered)
    assert check_fingerprints(path=altered)[1] == 0


def test_split_fingerprints_are_pinned(suite_splits):
    got = {name: tuple(split_fingerprints(splits)[s] for s in SPLIT_NAMES) for name, splits in suite_splits.items()}
    changed = sorted(name for name in got if got[name] != EXPECTED_FINGERPRINTS[name])
    assert not changed, f"the frozen splits changed for {changed}"


@pytest.mark.parametrize("name", sorted(EXPECTED_FINGERPRINTS))
def test_split_contents(suite_splits, name):
    task = get_task(name)
    splits = suite_splits[name]
    assert tuple(splits) == SPLIT_NAMES
    for split in SPLIT_NAMES:
        data = splits[split]
        assert data.num_rows == N_SEQUENCES and set(data.column_names) == {"input_ids", "targets", "length"}
        lo, hi = TEST_SPLITS[split]
        lengths = data["length"]
        assert all(max(lo, task.min_length) <= n <= hi and task.is_valid_length(n) for n in lengths)
        assert len(set(lengths)) > 1  # lengths vary inside a bin
        for row in data.select(range(0, N_SEQUENCES, 40)):
            ids = row["input_ids"]
            task.check(ids)
            assert task.length_of(ids) == row["length"]
            assert row["targets"] == task.targets(ids)
            if task.kind == "token_set":
                assert len(row["targets"]) == len(ids) - 1 and {len(t) for t in row["targets"]} == {task.vocab_size}


def test_fingerprint_is_sha256_of_little_endian_int64_lengths_and_ids():
    sequences = [[3, 1, 4], [], [1, 5]]
    table = pa.table({"input_ids": pa.array(sequences, type=pa.list_(pa.int32()))})
    expected = hashlib.sha256()
    for seq in sequences:
        expected.update(len(seq).to_bytes(8, "little", signed=True))
        for token in seq:
            expected.update(token.to_bytes(8, "little", signed=True))
    dataset = datasets.Dataset(datasets.table.InMemoryTable(table))
    assert split_fingerprint(dataset) == expected.hexdigest()
    wide = datasets.Dataset(datasets.table.InMemoryTable(table.cast(pa.schema({"input_ids": pa.list_(pa.int64())}))))
    assert split_fingerprint(wide) == expected.hexdigest()  # storage width does not matter
    assert split_fingerprint(dataset.select([2, 0, 1])) != expected.hexdigest()  # order does


def test_seeds_differ_by_task_version_and_split():
    sort, count = get_task("sort"), get_task("count")
    seeds = {split_seed(t, s) for t in (sort, count) for s in SPLIT_NAMES}
    assert len(seeds) == 6
    assert split_seed(sort, "test_0_50") != split_seed(dataclasses.replace(sort, version="1.1"), "test_0_50")


def test_regenerating_gives_byte_identical_data(tmp_path):
    for name in ("count", "tomita3"):
        task = get_task(name)
        first, second = build_split(task, "test_51_100"), build_split(task, "test_51_100")
        assert first.data.table.equals(second.data.table)
        first.to_parquet(str(tmp_path / "a.parquet"))
        second.to_parquet(str(tmp_path / "b.parquet"))
        assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
        caches = [tmp_path / f"cache{i}" for i in (1, 2)]
        for cache in caches:
            load_splits(task, cache_dir=cache)
        contents = []
        for cache in caches:
            path = split_cache_path(task, cache)
            contents.append({str(f.relative_to(path)): f.read_bytes() for f in path.rglob("*") if f.is_file()})
        assert len([f for f in contents[0] if f.endswith(".arrow")]) == 3
        assert contents[0] == contents[1]  # the whole cache folder, byte for byte


FINGERPRINT_SCRIPT = (
    "import json, sys\n"
    "from bench.data.splits import load_splits, split_fingerprints\n"
    "print(json.dumps({n: split_fingerprints(load_splits(n)) for n in sys.argv[1:]}))\n"
)


def _fingerprints_in_subprocess(cache: Path, names: list[str]) -> dict:
    env = {**os.environ, "RASP_BENCH_CACHE": str(cache), "PYTHONHASHSEED": "random"}
    result = subprocess.run(
        [sys.executable, "-c", FINGERPRINT_SCRIPT, *names], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_two_processes_build_identical_splits(tmp_path):
    names = ["count", "tomita3", "addition"]
    first = _fingerprints_in_subprocess(tmp_path / "one", names)
    second = _fingerprints_in_subprocess(tmp_path / "two", names)
    assert first == second
    assert {n: tuple(first[n][s] for s in SPLIT_NAMES) for n in names} == {n: EXPECTED_FINGERPRINTS[n] for n in names}


@pytest.mark.slow
def test_two_processes_build_identical_splits_for_the_whole_suite(tmp_path):
    names = task_names()
    first = _fingerprints_in_subprocess(tmp_path / "one", names)
    assert first == _fingerprints_in_subprocess(tmp_path / "two", names)
    assert {n: tuple(first[n][s] for s in SPLIT_NAMES) for n in names} == EXPECTED_FINGERPRINTS


def test_the_cache_is_reused(split_cache, suite_splits):
    task = get_task("sort")
    files = sorted(split_cache_path(task, split_cache).rglob("*.arrow"))
    before = [f.stat().st_mtime_ns for f in files]
    again = load_splits("sort", cache_dir=split_cache)
    assert [f.stat().st_mtime_ns for f in files] == before
    assert split_fingerprints(again) == split_fingerprints(suite_splits["sort"])


def _corrupt_arrow(path: Path) -> None:
    arrow = next(path.rglob("test_51_100/*.arrow"))
    arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 2])


def _alter_tokens(path: Path) -> None:
    arrow = next(path.rglob("test_0_50/*.arrow"))
    data = bytearray(arrow.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrow.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_arrow,
        _alter_tokens,
        lambda path: (path / "rasp_bench_splits.json").unlink(),
        lambda path: (path / "rasp_bench_splits.json").write_text("{not json"),
        lambda path: (path / "dataset_dict.json").unlink(),
    ],
    ids=["truncated", "altered", "no-metadata", "bad-metadata", "no-dict"],
)
def test_a_corrupt_cache_is_rebuilt(tmp_path, damage):
    task = get_task("count")
    load_splits(task, cache_dir=tmp_path)
    path = split_cache_path(task, tmp_path)
    written = {f: f.read_bytes() for f in path.rglob("*") if f.is_file()}
    damage(path)
    rebuilt = load_splits(task, cache_dir=tmp_path)
    assert tuple(split_fingerprints(rebuilt)[s] for s in SPLIT_NAMES) == EXPECTED_FINGERPRINTS["count"]
    assert {f: f.read_bytes() for f in written} == written  # every file is back as first written
    leftovers = [p.name for p in split_cache_path(task, tmp_path).parent.iterdir()]
    assert leftovers == [task.version]  # no temporary folders left behind


def test_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_CACHE", str(tmp_path))
    task = get_task("count")
    assert split_cache_path(task) == tmp_path / "splits" / "v1" / "count" / task.version
    monkeypatch.delenv("RASP_BENCH_CACHE")
    assert split_cache_path(task) == Path.home() / ".cache" / "rasp-bench" / "splits" / "v1" / "count" / task.version


@pytest.mark.parametrize("name", ["addition", "d4"])
def test_split_batches(suite_splits, name):
    task = get_task(name)
    data = suite_splits[name]["test_101_150"]
    batches = list(split_batches(task, data, batch_size=300))
    assert [len(b) for b in batches] == [300] * 6 + [200]
    limited = list(split_batches(name, data, batch_size=64, limit=100))
    assert [len(b) for b in limited] == [64, 36]
    row = 0
    for batch in batches[:2]:
        assert (batch.position_ids == np.arange(batch.input_ids.shape[1])).all()  # test positions start at 0
        for b in range(len(batch)):
            n = int(batch.lengths[b])
            record = data[row]
            assert batch.input_ids[b, :n].tolist() == record["input_ids"]
            assert (batch.input_ids[b, n:] == task.vocab.pad).all()
            scored = batch.labels[b][batch.label_mask[b]]
            if task.kind == "token":
                assert scored.tolist() == record["targets"]
            else:
                assert scored.astype(int).tolist() == record["targets"]
            row += 1


def test_split_batches_refuses_a_bad_batch_size(suite_splits):
    with pytest.raises(ValueError, match="batch_size"):
        next(split_batches("sort", suite_splits["sort"]["test_0_50"], batch_size=0))


def test_export_writes_a_hub_ready_folder(tmp_path, split_cache, suite_splits):
    from huggingface_hub import DatasetCard

    folder = export_splits("tomita5", tmp_path / "tomita5", cache_dir=split_cache)
    parquet = sorted(p.name for p in (folder / "data").iterdir())
    assert parquet == [f"{s}-00000-of-00001.parquet" for s in sorted(SPLIT_NAMES)]
    for i, split in enumerate(SPLIT_NAMES):
        table = pq.read_table(folder / "data" / f"{split}-00000-of-00001.parquet")
        assert table.num_rows == N_SEQUENCES and table.column_names == ["input_ids", "targets", "length"]
        reloaded = datasets.Dataset(datasets.table.InMemoryTable(table))
        assert split_fingerprint(reloaded) == EXPECTED_FINGERPRINTS["tomita5"][i]
    card = DatasetCard.load(folder / "README.md")
    meta = card.data.to_dict()
    assert [f["split"] for f in meta["configs"][0]["data_files"]] == list(SPLIT_NAMES)
    assert meta["rasp_bench"]["task_version"] == get_task("tomita5").version
    assert tuple(meta["rasp_bench"]["fingerprints"][s] for s in SPLIT_NAMES) == EXPECTED_FINGERPRINTS["tomita5"]
    assert "tomita5" in card.text and EXPECTED_FINGERPRINTS["tomita5"][0] in card.text


def test_unknown_task_name_in_splits():
    with pytest.raises(TaskError, match="Did you mean 'parity'"):
        load_splits("parrity")


def test_batches_by_length_hold_the_same_sequences_shortest_first(split_cache):
    from bench.data.splits import load_splits, split_batches
    from bench.data.task import get_task

    task = get_task("unique_copy")
    split = load_splits(task, cache_dir=split_cache)["test_0_50"]

    def rows(batches):
        return [tuple(ids[:n]) for b in batches for ids, n in zip(b.input_ids.tolist(), b.lengths.tolist())]

    plain = rows(split_batches(task, split, 64, limit=300))
    ordered = rows(split_batches(task, split, 64, limit=300, by_length=True))
    assert sorted(plain) == sorted(ordered) and len(ordered) == 300
    assert [len(r) for r in ordered] == sorted(len(r) for r in ordered)
