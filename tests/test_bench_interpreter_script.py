"""scripts/bench_interpreter.py runs end to end on a few short sequences (tracr, which needs PyPI, left out)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("bench_interpreter", ROOT / "scripts" / "bench_interpreter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cache(split_cache, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))


def test_forward_table(script, cache, capsys):
    argv = ["--no-tracr", "--tasks", "sort", "bin_majority", "--bin", "test_0_50", "--limit", "20", "--repeat", "1"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert "tracr comparison skipped (--no-tracr)" in out
    assert "oracles are at most as slow as the forward pass" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("sort ", "bin_majority "))]
    assert [row[0] for row in rows] == ["sort", "bin_majority"]
    assert all(row[3] == "20" and row[6] == "1.000" for row in rows)  # 20 sequences, the oracle exact on all


def test_sort_sample_is_the_input_part(script, cache):
    sequences, inputs = script.sort_sample("test_0_50", 5, None)
    assert len(sequences) == len(inputs) == 5
    for ids, x in zip(sequences, inputs):
        assert len(set(x)) == len(x)  # distinct, as tracr's make_sort_unique needs
        assert ids == [150, *x, 151, *sorted(x), 152]  # <bos> x <sep> sorted(x) <eos>; symbol i is token id i


def test_unknown_task(script, capsys):
    assert script.main(["--no-tracr", "--tasks", "nope"]) == 2
    assert "no oracle for: nope" in capsys.readouterr().err
