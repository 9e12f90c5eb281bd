"""The split-MLP library (baselines/decompile/split_mlp.py): what the fit sees is what the program computes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import bench.program as rasp
from bench.baselines.decompile import match_mlp, split_mlp
from bench.baselines.decompile.match_mlp import match_mlps
from bench.baselines.decompile.render import build_program

from test_decompile_match import _token_mlp_graph, mlp_graph

torch.set_num_threads(1)

V = 6


def _aggregate_program():
    """A distribution over 6 tokens per position (a soft aggregate with uneven scores), as a program."""
    rng = np.random.default_rng(0)
    select = rasp.soft_select(rasp.score(rasp.tokens, rasp.tokens, 3.0 * rng.normal(size=(V, V))))
    return rasp.aggregate(select, rasp.tokens, numerical=True).named("x")


def _ids(n: int = 40, T: int = 30) -> np.ndarray:
    ids = np.random.default_rng(1).integers(0, V, size=(n, T))
    ids[:, :3] = [0, 1, 0]  # some positions see exactly two tokens, equally often (bin edges, balance 0)
    return ids


@pytest.mark.parametrize("label", [p.label for p in split_mlp.library(V)])
def test_each_primitives_features_are_what_its_program_variables_compute(label):
    x = _aggregate_program()
    nodes = split_mlp.primitive_nodes(label, x, V, "p")
    readout = rasp.readout(*[(node, np.zeros(2) if width == 1 and node is not x else np.zeros((width, 2)))
                             for node, width in nodes], bias=np.zeros(2), basis=rasp.Basis("out", 2))
    program = rasp.Program(rasp.readout((readout, np.zeros((2, V))), bias=np.zeros(V)), vocab_size=V, kind="token",
                           n_positions=64)
    values = rasp.evaluate(program, _ids(), selectors=False)
    dist = values["x"].reshape(-1, V)
    expected = next(p for p in split_mlp.library(V) if p.label == label).features(dist)
    columns = []
    for node, width in nodes:
        got = values[program.ids[node]].reshape(len(dist), -1) if node is not x else dist
        if program.types[node].kind == "cat":
            got = (got == np.arange(width)).astype(float)
        columns.append(got.reshape(len(dist), width))
    assert np.abs(np.concatenate(columns, 1) - expected).max() < 1e-12


def test_the_library_has_the_published_entries_and_leaves_per_entry_ones_out_of_wide_inputs():
    labels = {p.label for p in split_mlp.library(6)}
    assert {"no_op", "harden", "sharpen(3)", "exists(2)", "forall(0.8)", "01balance(0.01)", "diff(1,0)"} <= labels
    assert len([x for x in labels if x.startswith("diff")]) == 30
    wide = {p.label for p in split_mlp.library(154)}
    assert not any(x.startswith(("diff", "exists")) for x in wide) and "harden" in wide


def test_an_additive_output_is_found_and_a_product_is_not():
    """out = table[token] + diff-bin(x) @ C is fitted exactly by its own primitive; out = token x bin is not
    a sum of per-input parts, so no candidate fits it as well."""
    rng = np.random.default_rng(2)
    n = 4000
    tok = rng.integers(0, V, n)
    x = rng.dirichlet(np.ones(V) * 0.3, n)
    onehot = np.eye(V)[tok]
    bins = next(p for p in split_mlp.library(V) if p.label == "diff(2,4)").features(x)
    additive = onehot @ rng.normal(size=(V, 5)) + bins @ rng.normal(size=(12, 5)) + 0.3
    inputs = [split_mlp.Input(0, "tokens", True, onehot), split_mlp.Input(1, "a00", False, x)]
    best = split_mlp.candidates(inputs, additive, max_fvu=0.6)
    assert best[0][0] == "split: table(tokens) + diff(2,4)(a00)" and best[0][2] < 1e-12
    split = best[0][1]
    assert [p.primitive for p in split.parts] == [None, "diff(2,4)"]
    assert np.abs(onehot @ split.parts[0].table + bins @ split.parts[1].table + split.bias - additive).max() < 1e-9
    product = (onehot[:, :, None] * bins[:, None, :]).reshape(n, -1) @ rng.normal(size=(V * 12, 5))
    assert split_mlp.candidates(inputs, product, max_fvu=10.0)[0][2] > 0.05


def test_no_split_fit_starts_past_the_deadline():
    """The fits are the expensive part of matching a split (majority's ran 150 CPU s past the budget):
    past the deadline none starts, and the candidates made so far (none here) are returned."""
    from bench.baselines.decompile.clock import cpu_seconds

    rng = np.random.default_rng(2)
    onehot, x = np.eye(V)[rng.integers(0, V, 500)], rng.dirichlet(np.ones(V) * 0.3, 500)
    inputs = [split_mlp.Input(0, "tokens", True, onehot), split_mlp.Input(1, "a00", False, x)]
    out = onehot @ rng.normal(size=(V, 3)) + x @ rng.normal(size=(V, 3))
    assert split_mlp.candidates(inputs, out, max_fvu=0.6, deadline=cpu_seconds() + 600)
    start = cpu_seconds()
    assert split_mlp.candidates(inputs, out, max_fvu=0.6, deadline=start - 1) == []
    assert cpu_seconds() - start < 0.5


def test_a_split_replaces_an_mlp_by_one_readout_of_its_parts():
    W, g, C, batch = _token_mlp_graph()
    spec = next(m for m in g.mlps if m.layer == 1)
    kinds = {g.vars[u].name: u for u in spec.inputs}
    tok, agg = kinds["wte"], kinds["a00_wte"]
    rng = np.random.default_rng(3)
    split = split_mlp.Split((split_mlp.SplitPart(tok, None, rng.normal(size=(W.vocab_size, W.d))),
                             split_mlp.SplitPart(agg, "diff(0,1)", rng.normal(size=(12, W.d)))),
                            rng.normal(size=W.d))
    program = build_program(W, g, C, "token", converted={spec.out: split})
    values = rasp.evaluate(program, batch.ids.numpy(), selectors=False)
    assert "mlp1_in" not in values and program.types[program.by_id["mlp1"]].basis == "resid"
    ids = batch.ids.numpy()
    bins = next(p for p in split_mlp.library(W.vocab_size) if p.label == "diff(0,1)").features(
        values["a00_wte"].reshape(-1, W.vocab_size))
    expected = split.parts[0].table[ids.reshape(-1)] + bins @ split.parts[1].table + split.bias
    assert np.abs(values["mlp1"].reshape(-1, W.d) - expected).max() < 1e-9


def _token_and_aggregate_mlp_graph():
    """MLP 0 reads the token and head 0's aggregate of tokens, and nothing else."""
    return mlp_graph(lambda s, t: (t != ("mlp", 0) or s in (("wte",), ("attn", 0, 0)))
                     and (t != ("v", 0, 0) or s == ("wte",)))


def test_matching_with_the_split_library_tries_split_candidates():
    W, g, C, batch = _token_and_aggregate_mlp_graph()
    spec = next(m for m in g.mlps if m.layer == 0)
    assert sorted(g.vars[u].name for u in spec.inputs) == ["a00_wte", "wte"]
    deadline = time.perf_counter() + 120
    _, plain = match_mlps(W, g, C, "token", batch, deadline, accept=0.0, max_fvu=10.0, library=("erase",))
    converted, report = match_mlps(W, g, C, "token", batch, deadline, accept=0.0, max_fvu=10.0,
                                   library=("erase", "split"))
    splits = [t for t in report["mlp0"]["tried"] if t[0].startswith("split: table(tokens) + ")]
    assert 0 < len(splits) <= match_mlp.SPLIT_TRIALS
    assert not any(t[0].startswith("split") for t in plain["mlp0"]["tried"])
    assert all(0 <= acc <= 1 and fvu < 10.0 for _, acc, fvu in splits)
    # accepted at 0: the most accurate candidate, a split or erase, and the program is built from it
    assert report["mlp0"]["acc"] == max(acc for _, acc, _ in report["mlp0"]["tried"])
    assert isinstance(converted[spec.out], split_mlp.Split) == report["mlp0"]["primitive"].startswith("split")
    program = build_program(W, g, C, "token", converted=converted)
    assert "mlp0_in" not in rasp.evaluate(program, batch.ids.numpy(), selectors=False)
