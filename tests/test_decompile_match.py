"""Primitive matching: a converted MLP renders as an alias with its fitted table, greedy matching stays faithful."""

from __future__ import annotations

import time

import numpy as np
import torch

import bench.program as rasp
from bench.baselines.decompile import executors as ex
from bench.baselines.decompile.graph import Stage1Graph
from bench.baselines.decompile.linear_ln import estimate_ln_var
from bench.baselines.decompile.match_mlp import Conversion, match_mlps
from bench.baselines.decompile.match_select import greedy_match, program_accuracy
from bench.baselines.decompile.render import build_program
from bench.baselines.decompile.weights import extract_weights

from test_decompile_exact import random_batch, random_model

torch.set_num_threads(1)


def mlp_graph(keep_edge):
    """A 2-layer, 1-head random model's stage-3 graph with the stage-1 edges ``keep_edge(source, target)``."""
    model = random_model(heads=1)
    batch = random_batch(model, n=8)
    W = extract_weights(model)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    var = estimate_ln_var(model, [(batch.ids.numpy(), batch.pos.numpy())], pad=-1, eos=-1)
    keep = torch.tensor([bool(keep_edge(s, t)) for s, t in g1.edges])
    keep = g1.dag().live_edges(keep[None])[0]
    g, C = ex.paths_from_stage1(W, g1, ex.init_stage1(W, g1, var), keep)
    g, C = ex.stage3_from_stage2(W, g, C)
    return W, g, C, batch


def _token_mlp_graph():
    """MLP 0 reads only the token embedding (so its output is a function of the token)."""
    return mlp_graph(lambda s, t: t != ("mlp", 0) or s == ("wte",))


def test_a_converted_mlp_with_an_exact_fit_reproduces_the_program():
    W, g, C, batch = _token_mlp_graph()
    spec = next(m for m in g.mlps if m.layer == 0)
    assert [g.vars[u].kind for u in spec.inputs] == ["tok"]
    program = build_program(W, g, C, "token")
    values = rasp.evaluate(program, batch.ids.numpy())
    X = (batch.ids.numpy()[..., None] == np.arange(W.vocab_size)).reshape(-1, W.vocab_size).astype(float)
    out = values["mlp0"].reshape(-1, W.d)
    table = np.linalg.pinv(X) @ out  # exact: the output is a function of the token
    converted = build_program(W, g, C, "token", converted={spec.out: Conversion(spec.inputs[0], table)})
    assert "mlp0" not in rasp.evaluate(converted, batch.ids.numpy())
    assert converted.n_ops < program.n_ops
    assert np.abs(rasp.evaluate(converted, batch.ids.numpy())["logits"] - values["logits"]).max() < 1e-6


def test_matching_reports_and_keeps_accuracy():
    W, g, C, batch = _token_mlp_graph()
    deadline = time.perf_counter() + 60
    converted, report = match_mlps(W, g, C, "token", batch, deadline, accept=0.0)
    assert set(report) == {"mlp0", "mlp1"}
    assert g.mlps[0].out in converted  # threshold 0: the best candidate is always accepted when traceable
    specials = {"bos": W.vocab_size - 4, "sep": W.vocab_size - 3, "eos": W.vocab_size - 2}
    overrides, rep = greedy_match(W, g, C, "token", batch, specials, deadline, converted=converted)
    program = build_program(W, g, C, "token", overrides=overrides, converted=converted)
    acc = program_accuracy(program, batch)
    assert rep["kept"] is False or acc >= 0.95 * rep["acc0"] - 1e-9


def test_an_input_primitive_replaces_an_mlp_by_the_primitive_of_one_aggregate():
    """``harden(a00_wte) @ table`` in place of MLP 1: the program computes the primitive of the aggregate."""
    W, g, C, batch = _token_mlp_graph()
    spec = next(m for m in g.mlps if m.layer == 1)
    u = next(u for u in spec.inputs if g.vars[u].name == "a00_wte")
    table = np.random.default_rng(0).normal(size=(W.vocab_size, W.d))
    program = build_program(W, g, C, "token", converted={spec.out: Conversion(u, table, ("harden", {}))})
    values = rasp.evaluate(program, batch.ids.numpy())
    assert "mlp1" not in values and "mlp1_in" not in values
    dist = values["a00_wte"]
    assert np.array_equal(values["mlp1_p"], (dist.argmax(-1)[..., None] == np.arange(W.vocab_size)).astype(float))


def test_the_mlp_library_decides_which_primitives_are_tried():
    W, g, C, batch = _token_mlp_graph()
    deadline = time.perf_counter() + 120
    _, plain = match_mlps(W, g, C, "token", batch, deadline, accept=1.1, max_fvu=10.0)
    _, wide = match_mlps(W, g, C, "token", batch, deadline, accept=1.1, max_fvu=10.0,
                         library=("erase", "keep_one", "harden", "sharpen3"))
    # accept > 1: nothing is accepted, and each report names the best candidate tried
    assert plain["mlp0"]["kept_neural"] and wide["mlp0"]["kept_neural"]
    tried = {"erase", "keep_one", "harden", "sharpen3"}
    assert plain["mlp0"]["best"][0].split("(")[0] in {"erase", "keep_one"}
    assert wide["mlp1"]["best"][0].split("(")[0] in tried


def test_no_input_primitive_is_tried_on_an_mlp_replaced_by_a_token_map():
    """MLP 0 replaced by a map of the tokens (keep_one(wte)) is an alias of the tokens (cat): ``harden``
    of it would not fit the language (it takes vec values), so MLP 1 is never offered one there (it once
    made the rendered program invalid), while the aggregates MLP 1 reads still are."""
    from bench.baselines.decompile.match_mlp import _basis_size, _candidates, _label, _values

    W, g, C, batch = _token_mlp_graph()
    first, spec = g.mlps[0].out, g.mlps[1]
    wte = next(u for u in g.mlps[0].inputs if g.vars[u].kind == "tok")
    converted = {first: Conversion(wte, np.random.default_rng(0).normal(size=(W.vocab_size, W.d)))}
    inputs = [u for u in spec.inputs if u == first or g.vars[u].name in ("wte", "a00_wte")]
    assert len(inputs) == 3
    labels = {u: _label(g, u, converted) for u in inputs}
    assert labels[first] == "tokens"
    program = build_program(W, g, C, "token", converted=converted)
    vals = _values(program, batch, ["mlp1", *sorted(set(labels.values()))],
                   {labels[u]: _basis_size(W, g, u, converted) for u in inputs})
    trials = _candidates(g, vals, labels, inputs, vals["mlp1"], W.d, ("keep_one", "harden"), max_fvu=10.0)
    hardened = [label for label, _, _ in trials if label.startswith("harden")]
    assert hardened == ["harden(a00_wte)"]


def test_a_head_left_with_one_hard_pattern_is_a_select_with_the_same_weights():
    """k==q-1 between the positions, as a 10^4-scaled table or as ``select(indices, indices, ...)``."""
    from bench.baselines.decompile.match_select import BIG, POSITION_SELECTS, hard_selects

    W, g, C, batch = mlp_graph(lambda s, t: True)
    h = next(h for h in g.heads if h.layer == 0)
    pos = next(p for p, r in h.terms if g.vars[p].kind == g.vars[r].kind == "pos")
    key = ("qk", h.layer, h.head, pos, pos)
    a, b = np.arange(W.n_positions)[:, None], np.arange(W.n_positions)[None, :]
    overrides = {("qk", h.layer, h.head, p, r): None for p, r in h.terms}
    overrides.update({("qb", h.layer, h.head, r): None for r in h.qbias})
    overrides[key] = BIG * (b == a - 1) / np.sqrt(W.d_head)
    report = {"kept": True, "matched": {"/".join(map(str, key)): "k==q-1", "lm_bias": "uniform"}}
    hard = hard_selects(report, {"bos": 0})
    assert hard == {key: (POSITION_SELECTS["k==q-1"], "positions")}
    assert hard_selects({**report, "kept": False}, {"bos": 0}) == {}
    soft_program = build_program(W, g, C, "token", overrides=overrides, factor=True)
    hard_program = build_program(W, g, C, "token", overrides=overrides, factor=True, hard=hard)
    assert "select(indices, indices, k == q - 1 or q == 0)" in hard_program.pretty()
    assert hard_program.n_params < soft_program.n_params - W.n_positions ** 2 + 100
    ids = batch.ids.numpy()
    soft, hard_logits = rasp.evaluate(soft_program, ids)["logits"], rasp.evaluate(hard_program, ids)["logits"]
    assert np.abs(soft - hard_logits).max() < 1e-9
