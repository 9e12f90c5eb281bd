"""scripts/bench_chunks.py: times a submission's programs at two chunk sizes, checks their predictions agree,
and refuses arguments it cannot use with a message naming them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("bench_chunks", ROOT / "scripts" / "bench_chunks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cache(split_cache, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))


def test_two_sizes_give_the_same_predictions(script, cache, capsys):
    script.main(["--submission", "oracle", "--models", "bin_majority", "--sizes", "21", "12", "--limit", "20"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| bin_majority")]
    assert len(rows) == 1 and rows[0].rstrip(" |").endswith("yes")


@pytest.mark.parametrize("argv, message", [
    (["--submission", "nope"], "no results.json in submissions/nope"),
    (["--sizes", "99"], "--sizes: log2 of chunk_pairs between 10 and 40"),
    (["--submission", "oracle", "--models", "nope"], "not in oracle's results: nope"),
])
def test_bad_arguments_are_named(script, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
