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

from bench.splits import (
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
from bench.task import TEST_SPLITS, TaskError, get_task, task_names

REPO = Path(__file__).resolve().parents[1]

# sha256 of the token arrays of test_0_50, test_51_100, test_101_150. A change here means the
# data changed: bump the task's version (and its module's history) before updating a pin.
EXPECTED_FINGERPRINTS = {
    "012_0_2": (
        "1495ff5f0d9ea1164548ef68b5203fe85eddb668daac23cc2e38d349f58729c5",
        "7fb9429fe13648e61036fa22da98ad2502add2e6ef50bbd078452e5e99536468",
        "3541ed14f44af3d60059d647569fc20244402f2392554d51f5f5e8b6ba10284f",
    ),
    "aaaastar": (
        "20c57d9806c6ab432953c076250f3c921566e831cec3d20449bb2f209e74e0d4",
        "ec7a47646ff5ff88838d890c07912319c57ede2a401b78501a8959f7d06a1fbc",
        "c88ac88d5d720a3871051e4f96a772b22483bd6b9e57baed47e12005eb73dfc7",
    ),
    "aastar": (
        "99d2c6e473a491bb3c0ed17a60dfc2f6613e545676328d463c4cf8c1f4ad3d3b",
        "64b08876b779d0c90103684ea9c7a05710fc8eded1935f570a3bdc49f4c551a7",
        "ef5cf6d5de2ff5f01109da37d6abeb515387070126e4c380aa0cca8283a5b6ab",
    ),
    "ab_d_bc": (
        "ef8d956839a97aa14c32a639cb6a37ce4eb697e09820fa2d2c9dc7792e654d21",
        "8f2aa60104a4525aada14d97e86e9a488fab0c1187746b6623b8ebc232e03d47",
        "15f064d9cc016f9225a18d276d327cd06f36fbccb603871b709db9dc3c791213",
    ),
    "ababstar": (
        "e3fba68ac966c6bc3b9227ff92161c39adcf460d3c078aa1c4cdad9a17f78159",
        "eefae8ea012d55340dbe9fda2e3bcc908ac6a43f70f1ebeea39c3669e0811e36",
        "ef77125502723ae65171e56d1de3f22c77f5dd4600edde74375c46d2a671c6c5",
    ),
    "abcde": (
        "3ede199855ccbea7a611581f620e28e2cc0a33071058bc0264835db8ccde3226",
        "0af8815ffce606365e1b6ded45dd198e8a6cf67a58458a0875cdb317c66ca2fd",
        "b49177acb5317bd7016d777e5e9f3aa6774264569413d97b8d7a5dc7c5995116",
    ),
    "addition": (
        "e3f02939ba76ecbb24b9bafdb02990d317b90ef36d9456cc43d56e0ef4e73dbd",
        "660c336acd12897fdc36dc5161c7b7384e5a1851ec39667955b4d06a98aaa369",
        "3d9001caaa3649df6fd068980bc0ad581a4d8e0ad1188c4e939b5f541daac059",
    ),
    "bin_majority": (
        "e1f0753945f0ff7c65600b805f73125df65dd123fa71f4044f9f0a7cb0677f78",
        "8867ac833da7a1b5d4e0aa8656e9043d76c140ace2f708dd250a5a897a5415b6",
        "6b42b94cab104323883d3901a7f98e002f82eb5af24988fda07b243fdb0714a3",
    ),
    "bin_majority_interleave": (
        "2d15bb1f3ef77e4e1f0a582e9099ff8ba5045231f90c3f7a99117b09c9f36b5f",
        "a3d97ccbdcb13ced4cd47989de041beda5df22b267236090b1d143d4613ae745",
        "087cb000f90d426a730b142bf4412e6b7d4198b2c7e0b8eaea040ec7bf742013",
    ),
    "count": (
        "ace49fca148307a85bd9d095c667791ac891d7c7ece1f1057e1481691d4d02a6",
        "27e4054b3dcf04f04674fa2d85d15fa6626ba8303786afce5b15e1fdd8470a4b",
        "a371cc60b5381e3731cb7d3249ea6acb26672f6277fbeeeb7ec5de25cdfe51d0",
    ),
    "d12": (
        "f9024b14f8861037a8c3812143eeb07bc0d7359736bd26d00efb5bc4b51f20f7",
        "1d7023bed5a4ff52fd0405e7878e3fc21a35863119707729dec77ec917666609",
        "10a75b94162e1946198f803d53d7254b81324f32ac2a2e7f544f5bb1ae1105a7",
    ),
    "d2": (
        "ace4aa551fe31703cc7d24b6bd89fa6290a3bbf4ee54583e681b440ee622e861",
        "4a5801352e434381d0cca003e09fa3e6779bfd6802b59c8dddf03f077f4ea680",
        "b99ec35d6de41aed9654b9513be6eb5d6d63cc6ac929f276187c0d930a0bd4d7",
    ),
    "d3": (
        "557a2de802b38383d2c6b0161e3b279d22555d784bd24e340012de9cf4ec3907",
        "9805d4ab88176e77fb3d9d00861835b73f2684b14226d18dabe956499c79fff6",
        "fd67a979b26c8a772fc668371d6405d2b6662210ab737014efaafde71329fbc8",
    ),
    "d4": (
        "e5ebfc7f501b72fb313f2514346b6135ab3eb66ff9b8b1e95a5454cd88eb47a2",
        "4f8eefcb4fdc9337645ddf50b42d6931471dfcb8611880db02d684ab82533496",
        "95cbbfa74fe9b5bd08afe02c66efdcab06c7f7d07d0b234cdd6d44d81258e6c9",
    ),
    "majority": (
        "c6cc4c2007c72f30a6668edcb0f00ddc81a10bc5a040d153f741000210c9bac2",
        "ad1b103ae261f1e926ac41afab163662591463cc31f50f8a86ff9716eab53464",
        "a000435a237a5c9ea747778eceef4693c7a6129bac3925df97851ad1415c529f",
    ),
    "parity": (
        "e554fe639c71b3aea80ee40a142ec5286c5ac6c9c1b145bad6e310d1360f9099",
        "78f845e2d1543332cadcc6bc74187fce770caf18f4214082f47cdc3052e6b53d",
        "def811780a70ea1b455b8a696da8f7c9346f35ebe7a4ee4879a5bb55e6249494",
    ),
    "repeat_copy": (
        "5ab0d6b009d2847827f971920a40c428d68f8e92860539dcf9ee6237945a3906",
        "90829cada96f3fd76054b90d3ba75acdb6f554521dceb259e75f6ce5d63de3fc",
        "0e4f716109a135f6882127077a36a876e5e663250b473f83820fb0119277cf60",
    ),
    "sort": (
        "533ed2e2d6058dd4395673d045a5050392dc3daf5ecec2cbb58653ffb5f40ada",
        "bb7a806e12a61e57e10bf3027b7a963d0497474f7825b521122477f2df104b9e",
        "26ff20180bb845ee9f8619c9e08003ecdca4903078414bddc1d6f81a208e3344",
    ),
    "tomita1": (
        "366ce6717176efdd3615bb5cf17710e1ed1e80f2f2d13f5f57de621c21b14c4a",
        "1b0cdec05fd03ecb459e378c4756278102e035226fa332bd02d222e46b8d6496",
        "687946855cbdf7ca5219ec00bc526fb7e4819bf2639d3a1beaedcfc4c592a9d3",
    ),
    "tomita2": (
        "305d0c86f3bb488bf387ef08f919b50c41a6335f825cb740bbd64dfd39fa5423",
        "5584a12b6e89bf14e21fa571f8b62cd0f89bd21edf038c827bca7ec93ad071b6",
        "c81b814502f6b4318931a1fe0a6b82fc369f716bb3789168c1bd3d45e075eb48",
    ),
    "tomita3": (
        "acd9a51c699436f8142ecb1ce6bda4aeb87f2b33e3c7561b93c912bdda949838",
        "2342492609125da27bb8e350e5104e17fa90df4a36b4b9d28770abe0b6d1261a",
        "bb7f1aa5a97d25e612aed4312d29acceb233527fab969f50967bbc0631429e92",
    ),
    "tomita4": (
        "7a1b7e144c5a53ae3dfbb7f6f4cf6d1a46b29353da942768c1c5d98598193ece",
        "2e6ac5924019ab9b70e6587b7ea2a261b3ace1d409a35aff830f8286b1bc3209",
        "9018f76e15e0c23a3c788c99f6b8adbedfb27843092446ca231972e6aac7b85a",
    ),
    "tomita5": (
        "0d0cef63c1a8c4c07632af7c24e662153885d15cf148d5f8bde59ac7bf72730f",
        "0e88f811e4f944c5378dce55295c5c6ba33222eb3d61850490704c80da2763b6",
        "68dbda1b691a65b89130f4f26a55e6e61afecc73009f5c581d0533bfb8f14e2a",
    ),
    "tomita6": (
        "d0ba588693225ac0681e9fb01f3453f488648afff8fa9f54b749127ce6dc9aaf",
        "d2c7dd3ca90e564c5e51226ffb323d78a3e13efbf814b5438c38429d8992ffae",
        "d3afe1c1ba5925f2c26f2016a33fa04e57f3a02475da13779d0a326dc96f45e0",
    ),
    "tomita7": (
        "920979b27d9ad4f1d7cc9471c8a2b13bbfb74e5531f2ab88b6c7c3e59c75c130",
        "5c5386ccdb11d6fb8a329a340af09bb6ed75e37638cbdeb11c33f2ba2c4bc79b",
        "e4cc02376cc18f5c92af40879526f4670c753b53b402f59f92aea0d5ac9ad7d9",
    ),
    "unique_bigram_copy": (
        "5610c900d99fdf625efb35e34eed21e8f44b0963b666e824185cc3e4512a4b60",
        "daabf2895d546c5e6f9d64517a96ce5249ac8fb5fb1fd8d53b3d9ba483c47099",
        "73b779718cca030ba4cbb8d3a8ac03b803c55c9af9713cd2351a8ec5167292cc",
    ),
    "unique_copy": (
        "f52f074879a3b6b4960c55034cd2c368d17bf1a9042fb0b80d52dfcb6458d040",
        "fe9052301b28581832ce6538137b9cdf60a86ac6d009c07fe82d78d0985f6991",
        "61c226847beec772b65259155bc590d3505d001bc954bd2c82bd8d7531e2d052",
    ),
    "unique_reverse": (
        "50f6a7862844d592876c54f578e6494057face9bf34780da93aeff088146860d",
        "7781438c99ad8477e7b0a59bc3ffd1f8fd4cff8e97c1dd3d3272b0b0c1f81326",
        "af5de0fca38f9b25d7536425d812153bace10f54dd597d52a65eb7cd1a34d9f7",
    ),
}


def test_every_task_is_pinned():
    assert sorted(EXPECTED_FINGERPRINTS) == task_names()


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
    "from bench.splits import load_splits, split_fingerprints\n"
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
    from bench.splits import load_splits, split_batches
    from bench.task import get_task

    task = get_task("unique_copy")
    split = load_splits(task, cache_dir=split_cache)["test_0_50"]

    def rows(batches):
        return [tuple(ids[:n]) for b in batches for ids, n in zip(b.input_ids.tolist(), b.lengths.tolist())]

    plain = rows(split_batches(task, split, 64, limit=300))
    ordered = rows(split_batches(task, split, 64, limit=300, by_length=True))
    assert sorted(plain) == sorted(ordered) and len(ordered) == 300
    assert [len(r) for r in ordered] == sorted(len(r) for r in ordered)
