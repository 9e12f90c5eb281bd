"""Primitive matching: a converted MLP renders as an alias with its fitted table, greedy matching stays faithful."""

from __future__ import annotations

import time

import numpy as np
import torch

import bench.program as rasp
from bench.baselines.decompile import executors as ex
from bench.baselines.decompile.graph import Stage1Graph
from bench.baselines.decompile.linear_ln import estimate_ln_var
from bench.baselines.decompile.match_mlp import match_mlps
from bench.baselines.decompile.match_select import greedy_match, program_accuracy
from bench.baselines.decompile.render import build_program
from bench.baselines.decompile.weights import extract_weights

from test_decompile_exact import random_batch, random_model

torch.set_num_threads(1)


def _token_mlp_graph():
    """A 2-layer random model whose MLP 0 reads only the token embedding (so its output is a function of the token)."""
    model = random_model(heads=1)
    batch = random_batch(model, n=8)
    W = extract_weights(model)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    var = estimate_ln_var(model, [(batch.ids.numpy(), batch.pos.numpy())], pad=-1, eos=-1)
    keep = torch.tensor([t != ("mlp", 0) or s == ("wte",) for s, t in g1.edges])
    keep = g1.dag().live_edges(keep[None])[0]
    g, C = ex.paths_from_stage1(W, g1, ex.init_stage1(W, g1, var), keep)
    g, C = ex.stage3_from_stage2(W, g, C)
    return W, g, C, batch


def test_a_converted_mlp_with_an_exact_fit_reproduces_the_program():
    W, g, C, batch = _token_mlp_graph()
    spec = next(m for m in g.mlps if m.layer == 0)
    assert [g.vars[u].kind for u in spec.inputs] == ["tok"]
    program = build_program(W, g, C, "token")
    values = rasp.evaluate(program, batch.ids.numpy())
    X = (batch.ids.numpy()[..., None] == np.arange(W.vocab_size)).reshape(-1, W.vocab_size).astype(float)
    out = values["mlp0"].reshape(-1, W.d)
    table = np.linalg.pinv(X) @ out  # exact: the output is a function of the token
    converted = build_program(W, g, C, "token", converted={spec.out: (spec.inputs[0], table)})
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
