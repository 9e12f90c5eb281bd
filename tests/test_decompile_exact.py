"""Equivalence tests pinning the decompiler's stages (docs/decompile.md §8, test invariants).

- the un-pruned stage-1 graph with the real LayerNorm reproduces the model's logits;
- with linearised LayerNorms it is a close approximation (tomita1);
- every conversion between stages is exact (random masks and constants);
- the rendered program, run by the benchmark's interpreter, reproduces the
  path executor's logits within 1e-4, in stage-2 and stage-3 form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.program as rasp
from bench.baselines.decompile import executors as ex
from bench.baselines.decompile.data import DataBatch, match_accuracy, model_logits
from bench.baselines.decompile.graph import Stage1Graph
from bench.baselines.decompile.match_mlp import Conversion
from bench.baselines.decompile.linear_ln import estimate_ln_var
from bench.baselines.decompile.render import build_program
from bench.baselines.decompile.weights import extract_weights
from bench.models.model import GPT2, GPT2Config

torch.set_num_threads(1)


def random_model(seed: int = 0, layers: int = 2, heads: int = 2, d: int = 16, vocab: int = 7, positions: int = 24):
    torch.manual_seed(seed)
    model = GPT2(GPT2Config(vocab_size=vocab, n_positions=positions, n_embd=d, n_layer=layers, n_head=heads)).eval()
    with torch.no_grad():  # larger weights than GPT-2's init, so that attention is far from uniform
        for name, p in model.named_parameters():
            p.mul_(8.0 if "weight" in name and "ln" not in name else 1.0).add_(0.1 * torch.randn_like(p))
    return model


def random_batch(model, n: int = 6, T: int = 12, seed: int = 1) -> DataBatch:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, model.cfg.vocab_size, (n, T), generator=gen)
    pos = torch.arange(T).expand(n, T)
    return DataBatch(ids, pos, torch.ones(n, T, dtype=torch.bool), model_logits(model, ids, pos), "token", torch.full((n,), T))


@pytest.fixture(scope="module")
def setup():
    model = random_model()
    batch = random_batch(model)
    W = extract_weights(model)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    var = estimate_ln_var(model, [(batch.ids.numpy(), batch.pos.numpy())], pad=-1, eos=-1)
    return model, batch, W, g1, var


def randomize(C, seed: int = 0, scale: float = 0.3):
    gen = torch.Generator().manual_seed(seed)
    for group in (C.a, C.o, C.c):
        for k in group:
            group[k] = group[k] + scale * torch.randn(group[k].shape, generator=gen, dtype=group[k].dtype)
    for k in C.log_var:
        C.log_var[k] = C.log_var[k] + 0.2 * torch.randn((), generator=gen, dtype=C.log_var[k].dtype)
    return C


def program_logits(program, batch) -> torch.Tensor:
    return torch.from_numpy(rasp.evaluate(program, batch.ids.numpy())["logits"])


def test_real_layernorm_reproduces_the_model(setup):
    model, batch, W, g1, var = setup
    C = ex.init_stage1(W, g1, var)
    logits = ex.forward_stage1(W, g1, C, batch.ids, batch.pos, linear=False)
    assert (logits - batch.orig).abs().max() < 1e-4
    masked = ex.forward_stage1(W, g1, C, batch.ids, batch.pos, mask=torch.ones(len(batch), g1.n_edges, dtype=W.wte.dtype),
                               linear=False)
    assert (masked - batch.orig).abs().max() < 1e-4


def test_linear_layernorm_is_close_on_a_trained_model():
    from bench.baselines.decompile.data import sample
    from bench.data.task import get_task
    from bench.models.hub import load_reference
    from bench.scoring.methods import TaskView

    ref = load_reference("tomita1", prefer_bundled=True)
    task = TaskView(get_task(ref.task_name), np.random.default_rng(0))
    batch = sample(task, ref.model, 64, 0, 100)
    W = extract_weights(ref.model)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    var = estimate_ln_var(ref.model, [(batch.ids.numpy(), batch.pos.numpy())], task.vocab.pad, task.vocab.eos)
    logits = ex.forward_stage1(W, g1, ex.init_stage1(W, g1, var), batch.ids, batch.pos, linear=True)
    assert match_accuracy(logits, batch) >= 0.9
    assert not torch.allclose(logits, batch.orig, atol=1e-3)  # the approximation is not the identity


def test_stage1_mask_to_paths_is_exact(setup):
    model, batch, W, g1, var = setup
    C = randomize(ex.init_stage1(W, g1, var))
    for seed in range(3):
        on = torch.rand(1, g1.n_edges, generator=torch.Generator().manual_seed(seed)) < 0.75
        keep = g1.dag().live_edges(on)[0]
        expected = ex.forward_stage1(W, g1, C, batch.ids, batch.pos, mask=keep[None].to(W.wte.dtype))
        g, Cp = ex.paths_from_stage1(W, g1, C, keep)
        assert (ex.forward_paths(W, g, Cp, batch.ids, batch.pos) - expected).abs().max() < 1e-9


def test_stage2_fold_and_stage3_are_exact(setup):
    model, batch, W, g1, var = setup
    C1 = randomize(ex.init_stage1(W, g1, var))
    g, C = ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool))
    C = randomize(C, seed=1)
    edges = g.stage2_edges()
    on = torch.rand(1, len(edges), generator=torch.Generator().manual_seed(3)) < 0.85
    keep = g.stage2_dag().live_edges(on)[0]
    assert 0 < int(keep.sum()) < len(edges)
    expected = ex.forward_paths(W, g, C, batch.ids, batch.pos, mask=keep[None].to(W.wte.dtype))
    g2, C2 = ex.fold_stage2(W, g, C, keep.tolist())
    assert (ex.forward_paths(W, g2, C2, batch.ids, batch.pos) - expected).abs().max() < 1e-9
    g3, C3 = ex.stage3_from_stage2(W, g2, C2)
    assert g3.n_terms() > 0
    assert (ex.forward_paths(W, g3, C3, batch.ids, batch.pos) - expected).abs().max() < 1e-9


@pytest.mark.parametrize("form", ["stage2", "stage3", "stage3_masked"])
def test_program_reproduces_the_path_executor(setup, form):
    model, batch, W, g1, var = setup
    C1 = randomize(ex.init_stage1(W, g1, var))
    g, C = ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool))
    if form != "stage2":
        g, C = ex.stage3_from_stage2(W, g, C)
        C = randomize(C, seed=2)
    if form == "stage3_masked":
        from bench.baselines.decompile.graph import apply_stage3_mask

        keep = (torch.rand(len(g.stage3_edges()), generator=torch.Generator().manual_seed(5)) < 0.5).tolist()
        g = apply_stage3_mask(g, keep)
    expected = ex.forward_paths(W, g, C, batch.ids, batch.pos)
    program = build_program(W, g, C, "token")
    assert (program_logits(program, batch) - expected).abs().max() < 1e-4
    again = rasp.Program.from_json(program.to_json())
    assert (program_logits(again, batch) - expected).abs().max() < 1e-4
    reference = rasp.evaluate_reference(program, batch.ids[0, :5].tolist())["logits"]
    assert np.abs(np.array(reference) - expected[0, :5].numpy()).max() < 1e-4


@pytest.mark.parametrize("masked", [False, True])
def test_factored_scores_compute_the_same_logits_with_fewer_parameters(masked):
    """Grouping a head's score terms into factored scores changes the form, not the function: position
    variables make pair tables of n_positions**2 that a rank-d_h score replaces."""
    from bench.baselines.decompile.graph import apply_stage3_mask
    from bench.program.size import n_params

    model = random_model(seed=3, positions=96)
    batch = random_batch(model, T=40)
    W = extract_weights(model)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    var = estimate_ln_var(model, [(batch.ids.numpy(), batch.pos.numpy())], pad=-1, eos=-1)
    C1 = randomize(ex.init_stage1(W, g1, var))
    g, C = ex.stage3_from_stage2(W, *ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool)))
    C = randomize(C, seed=2)
    if masked:  # blocks of several shapes: keys with different query sets
        keep = (torch.rand(len(g.stage3_edges()), generator=torch.Generator().manual_seed(5)) < 0.7).tolist()
        g = apply_stage3_mask(g, keep)
    expected = ex.forward_paths(W, g, C, batch.ids, batch.pos)
    pairs = build_program(W, g, C, "token")
    factored = build_program(W, g, C, "token", factor=True)
    assert (program_logits(factored, batch) - expected).abs().max() < 1e-4
    assert (program_logits(factored, batch) - program_logits(pairs, batch)).abs().max() < 1e-6
    assert n_params(factored) < 0.6 * n_params(pairs)
    assert any(t.kind == "vec" and t.basis == "dhead" for t in factored.types.values())


def test_factored_scores_keep_replaced_terms_as_they_are(setup):
    """A term replaced by a primitive stays its own term (its pattern is what the program shows); the
    others of its head may be grouped."""
    model, batch, W, g1, var = setup
    C1 = randomize(ex.init_stage1(W, g1, var))
    g, C = ex.stage3_from_stage2(W, *ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool)))
    head = next(h for h in g.heads if h.layer == 1 and len(h.terms) > 2)
    (p, r), (p2, r2) = head.terms[0], head.terms[1]
    name = f"s{head.layer}{head.head}"
    shape = build_program(W, g, C, "token").by_id[name].terms[0].scores.shape  # the table of (p, r)
    pattern = np.zeros(shape)
    pattern[:, 0] = 10.0  # every query attends to the first key value
    overrides = {("qk", head.layer, head.head, p, r): pattern, ("qk", head.layer, head.head, p2, r2): None}
    pairs = build_program(W, g, C, "token", overrides=overrides)
    factored = build_program(W, g, C, "token", overrides=overrides, factor=True)
    assert (program_logits(factored, batch) - program_logits(pairs, batch)).abs().max() < 1e-6
    select = factored.by_id[name]
    assert any(np.array_equal(t.scores, pattern) for t in select.terms)
    assert len(select.terms) < len(pairs.by_id[name].terms)  # the others were grouped


@pytest.mark.parametrize("form", ["stage1", "stage3"])
def test_position0_readout_is_the_models_own_logits_in_executor_and_program(setup, form):
    from bench.baselines.decompile.weights import with_pos0_readout

    model, batch, W, g1, var = setup
    bos = 3
    ids = batch.ids.clone()
    ids[ids == bos] = bos + 1
    ids[:, 0] = bos  # as in every task: position 0 holds BOS, and only position 0
    Wp = with_pos0_readout(W, model, bos)
    model_at0 = model(torch.tensor([[bos]]), torch.tensor([[0]]))[0, 0].double()
    C1 = randomize(ex.init_stage1(W, g1, var))
    if form == "stage1":
        plain = ex.forward_stage1(W, g1, C1, ids, batch.pos)
        fixed = ex.forward_stage1(Wp, g1, C1, ids, batch.pos)
    else:
        g, C = ex.stage3_from_stage2(W, *ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool)))
        plain, fixed = ex.forward_paths(W, g, C, ids, batch.pos), ex.forward_paths(Wp, g, C, ids, batch.pos)
        program = build_program(Wp, g, C, "token_set")
        got = program_logits(program, DataBatch(ids, batch.pos, batch.mask, batch.orig, "token", batch.lengths))
        assert (got - fixed).abs().max() < 1e-4  # the program's BOS row carries the correction exactly
        from bench.program.size import n_params
        assert n_params(program) <= n_params(build_program(W, g, C, "token_set")) + W.vocab_size ** 2
    assert (fixed[:, 0] - model_at0).abs().max() < 1e-5
    assert not torch.allclose(plain[:, 0], fixed[:, 0])  # it did change position 0 ...
    assert torch.equal(plain[:, 1:], fixed[:, 1:])  # ... and nothing else


def test_sharing_aggregates_of_aliased_values_changes_nothing_but_size(setup):
    """An MLP replaced by keep_one(wte) is an alias of tokens: heads reading both need one aggregate."""
    model, batch, W, g1, var = setup
    C1 = randomize(ex.init_stage1(W, g1, var))
    g, C = ex.stage3_from_stage2(W, *ex.paths_from_stage1(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool)))
    tok = next(v for v, x in enumerate(g.vars) if x.kind == "tok")
    mlp0 = next(m for m in g.mlps if m.layer == 0)
    table = np.random.default_rng(0).normal(size=(W.vocab_size, W.d))
    converted = {mlp0.out: Conversion(tok, table)}
    separate = build_program(W, g, C, "token", converted=converted)
    shared = build_program(W, g, C, "token", converted=converted, share_aggregates=True)
    assert shared.n_ops < separate.n_ops
    assert (program_logits(shared, batch) - program_logits(separate, batch)).abs().max() < 1e-9
