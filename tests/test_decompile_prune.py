"""Tests of the pruning machinery: UGS masks, dangling-edge removal, one short training run, matching."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from bench.baselines.decompile import executors as ex
from bench.baselines.decompile.graph import Stage1Graph
from bench.baselines.decompile.masks import UGSMaskSampler
from bench.baselines.decompile.method import Config
from bench.baselines.decompile.prune import Pool, calibrate, train_masks

torch.set_num_threads(1)


def test_ugs_masks_are_binary_far_from_the_band_and_have_the_published_gradient():
    sampler = UGSMaskSampler(3, init=8.0)
    m = sampler.sample(200, torch.Generator().manual_seed(0))
    assert ((m == 0) | (m == 1)).double().mean() > 0.99  # p(1-p) ~ 3e-4: almost never inside the band
    assert sampler.hard().all() and sampler.penalty().item() == pytest.approx(3 * torch.sigmoid(torch.tensor(8.0)).item())
    sampler = UGSMaskSampler(1, init=0.0)  # p = 1/2, band width 1/4
    m = sampler.sample(4000, torch.Generator().manual_seed(1))
    inside = ((m > 1e-3) & (m < 1 - 1e-3)).double().mean().item()
    assert 0.2 < inside < 0.3
    assert abs(m.mean().item() - 0.5) < 0.03
    m.sum().backward()  # dL/dm = 1 per row: gradient = n_inside * p(1-p) * bz / n_inside = bz * p(1-p)
    assert sampler.theta.grad.item() == pytest.approx(4000 * 0.25, rel=0.01)  # n counts m in (1e-3, 1 - 1e-3)
    assert not UGSMaskSampler(2, init=-1.0).hard().any()


def test_dangling_removal_needs_q_k_and_v_and_a_path_to_the_unembedding():
    g1 = Stage1Graph.full(2, 1)
    dag = g1.dag()
    on = torch.ones(1, g1.n_edges, dtype=torch.bool)
    assert dag.live_edges(on).all()
    for e in g1.edges_into(("q", 0, 0)):
        on[0, e] = False
    keep = dag.live_edges(on)[0]
    assert not any(keep[e] for e, (s, _) in enumerate(g1.edges) if s == ("attn", 0, 0))
    assert not any(keep[e] for e in g1.edges_into(("k", 0, 0)) + g1.edges_into(("v", 0, 0)))
    on = torch.ones(1, g1.n_edges, dtype=torch.bool)
    for e, (s, _) in enumerate(g1.edges):
        if s == ("mlp", 1):
            on[0, e] = False  # mlp 1 feeds nothing: its inputs are dangling
    keep = dag.live_edges(on)[0]
    assert not any(keep[e] for e in g1.edges_into(("mlp", 1)))
    assert keep[g1.edges.index((("wte",), ("lm",)))]


class _Task:
    """The tomita1 task view, for a short training run."""

    def __init__(self):
        from bench.data.task import get_task
        from bench.models.hub import load_reference
        from bench.scoring.methods import TaskView

        self.ref = load_reference("tomita1", prefer_bundled=True)
        self.view = TaskView(get_task(self.ref.task_name), np.random.default_rng(0))


@pytest.fixture(scope="module")
def tomita():
    return _Task()


def test_a_large_penalty_prunes_and_a_negative_one_keeps_everything(tomita):
    from bench.baselines.decompile.linear_ln import estimate_ln_var
    from bench.baselines.decompile.weights import extract_weights

    cfg = Config(max_length=20, n_distinct=4, repeats=2, pool_size=64)
    model = tomita.ref.model
    W = extract_weights(model, torch.float32)
    g1 = Stage1Graph.full(W.n_layers, W.n_heads)
    pool = Pool(tomita.view, model, cfg)
    assert len(pool.data) == 64
    var = estimate_ln_var(model, [(pool.data.ids.numpy(), pool.data.pos.numpy())], 5, 4)
    C1 = ex.init_stage1(W, g1, var)

    def forward(C, batch, m):
        return ex.forward_stage1(W, g1, C, batch.ids, batch.pos, mask=m)

    deadline = time.perf_counter() + 60
    keep, _, steps = train_masks(forward, g1.n_edges, g1.dag(), C1, -1e-3, 10, pool, cfg, deadline)
    assert keep.all() and steps == 10
    keep, C, _ = train_masks(forward, g1.n_edges, g1.dag(), C1, 10.0, 100, pool, cfg, deadline)
    assert int(keep.sum()) < g1.n_edges
    assert any(not torch.equal(C.log_var[k], C1.log_var[k]) for k in C1.log_var)  # sigma is trained

    # stage 0: the same pruning with the real LayerNorms; a huge penalty keeps nothing, a negative one everything
    from bench.baselines.decompile.prune import real_ln_check

    check = replace(cfg, real_ln_lambdas=(-1e-3, 10.0), steps1=120)
    runs = real_ln_check(W, g1, C1, pool, pool.data, check, deadline)
    assert [(r["stage"], r["lambda"]) for r in runs] == [(0, -1e-3), (0, 10.0)]
    assert runs[0]["edges"] == g1.n_edges and runs[0]["acc"] == 1.0  # every edge, real LN: the model itself
    assert runs[1]["edges"] < g1.n_edges

    # the learning rates are the config's: at 0 the constants stay where they started
    frozen = replace(cfg, lr_sigma=0.0, lr_a=0.0, lr_o=0.0)
    _, C, _ = train_masks(forward, g1.n_edges, g1.dag(), C1, 1e-3, 10, pool, frozen, deadline)
    for name in ("log_var", "o", "a"):
        assert all(torch.equal(getattr(C, name)[k], getattr(C1, name)[k]) for k in getattr(C1, name))
    C_cal, _ = calibrate(W, g1, C1, pool, replace(frozen, calib_steps=5), deadline)
    assert all(torch.equal(C_cal.log_var[k], C1.log_var[k]) for k in C1.log_var)
    C_cal, _ = calibrate(W, g1, C1, pool, replace(cfg, calib_steps=5), deadline)
    assert any(not torch.equal(C_cal.log_var[k], C1.log_var[k]) for k in C1.log_var)


def test_the_recorded_parameters_are_the_config_that_runs():
    from bench.baselines.decompile import Decompile

    method = Decompile(select_accept=0.5, lr_o=0.25)
    params = method.parameters
    assert params["select_accept"] == 0.5 and params["lr_o"] == 0.25 and params["mlp_fvu"] == 0.6
    assert set(asdict(Config())) <= set(params)  # every field, nothing reported that is not a field but these:
    assert set(params) - set(asdict(Config())) == {"lengths", "split_mlps", "stages", "dangling_removal"}


@pytest.mark.slow
def test_the_method_returns_a_valid_program_quickly(tomita):
    from bench.baselines.decompile import Decompile
    from bench.program import Program

    method = Decompile(max_length=30, steps1=30, steps2=20, steps3=20, lambdas1=(1e-4, 1e-3), eval_size=128,
                       match_size=64, time_budget_s=120)
    program = method.extract(tomita.ref.model, tomita.view)
    assert isinstance(program, Program)
    assert Program.from_json(program.to_json()).n_ops == program.n_ops
    assert method.last_report["stage"] == "stage3"
    assert method.parameters["lengths"] == [0, 30]
    notes = Program.from_json(program.to_json()).notes  # the report travels with the program
    assert "pruned on lengths 0-30" in notes and "un-pruned, linearised LayerNorm: match" in notes
    assert "stage 3 chosen" in notes and "CPU seconds" in notes
    details = json.loads(json.dumps(method.details()))  # JSON data, for the results
    assert set(details["primitives"]) == {"mlps", "terms"} and set(details["primitives"]["mlps"]) == {"mlp0"}
    assert details["stages"]["stage3"] == method.last_report["stage3"]


@pytest.mark.slow
def test_the_published_lambda_search_sweeps_from_frontier_points_and_says_so(tomita):
    from bench.baselines.decompile import Decompile
    from bench.program import Program

    method = Decompile(max_length=30, steps1=60, steps2=30, steps3=30, lambdas1=(1e-3, 1e-2), eval_size=128,
                       match_size=64, time_budget_s=120, lambda_search="bins", runs1=4, runs23=4, frontier_points=2,
                       real_ln_lambdas=(1e-3,))
    program = method.extract(tomita.ref.model, tomita.view)
    report = method.last_report
    assert 0.0 <= report["lookup_acc"] <= 1.0 and report["stage"] == "stage3"
    stage1 = [r for r in report["runs"] if r["stage"] == 1]
    assert [r["lambda"] for r in stage1[:2]] == [1e-3, 1e-2] and len(stage1) <= 4
    assert sum(r["stage"] == 2 for r in report["runs"]) <= 4
    notes = Program.from_json(program.to_json()).notes
    assert "lambda search: stage 1 aimed at accuracy bins" in notes and "stage 3 chosen" in notes
    assert [r["lambda"] for r in report["runs"] if r["stage"] == 0] == [1e-3]
    assert "stage 0 runs (real LayerNorm, the LLN-A check): lambda 1e-03:" in notes


def test_an_unknown_lambda_search_is_refused():
    from bench.baselines.decompile import Decompile

    with pytest.raises(ValueError, match="lambda_search must be one of grid, bins"):
        Decompile(lambda_search="bisect")


def test_the_training_length_variant_is_registered_and_records_its_lengths():
    from bench.scoring.methods import method_names, resolve_method

    assert {"decompile", "decompile-50"} <= set(method_names())
    short, full = resolve_method("decompile-50"), resolve_method("decompile")
    assert short.name == "decompile-50" and short.parameters["lengths"] == [0, 50]
    assert full.name == "decompile" and full.parameters["lengths"] == [0, 150]
    assert {k: v for k, v in short.parameters.items() if k not in ("lengths", "max_length")} == \
        {k: v for k, v in full.parameters.items() if k not in ("lengths", "max_length")}


def test_notes_summarise_the_report_and_flag_a_failed_linearisation():
    from bench.baselines.decompile.notes import report_notes

    report = {"unpruned_linear_acc": 0.012, "runs": [{"stage": 1, "lambda": 1e-4, "edges": 0, "acc": 0.0, "steps": 150}],
              "mlp_matching": {"mlp0": {"kept_neural": True, "best": ["keep_one(wpe)", 0.15]}},
              "select_matching": {"acc0": 0.5, "final": 0.5, "tried": 3, "matched": {}, "kept": True},
              "cpu_seconds": 12.0, "seconds": 20.0}
    notes = report_notes(report, 50, 768, 0.9)
    assert "match 0.012 (< 0.9: LLN-A does not hold here)" in notes
    assert "mlp0: kept as an MLP; best candidate keep_one(wpe) reached 0.150" in notes
    assert "3 trials, match 0.500 -> 0.500" in notes and "pruned on lengths 0-50" in notes


def test_choose_prefers_the_smallest_graph_on_target_else_the_most_accurate():
    from bench.baselines.decompile.prune import RunResult, choose

    def run(edges, acc, graph="g"):
        return RunResult(1, 1e-3, edges, acc, graph, None, 0)

    assert choose([run(30, 0.99), run(12, 0.93), run(5, 0.91), run(3, 0.6)], 0.9).n_edges == 5
    assert choose([run(30, 0.99), run(5, 0.91), run(5, 0.95)], 0.9).acc == 0.95
    below = [run(30, 0.02), run(11, 0.08), run(2, 0.0), run(0, 0.5, graph=None)]
    assert choose(below, 0.9).n_edges == 11  # none on target: the most faithful, not the smallest


def test_deep_graphs_are_not_expanded_and_a_direct_graph_always_exists():
    """A 4-layer, 4-head model's un-pruned graph has about 1,400 paths: it is measured as a stage-1 graph
    (the same logits as its path expansion) and never expanded; the embeddings-to-logits graph is the fallback."""
    from bench.baselines.decompile.data import chunked_match_accuracy, sample
    from bench.baselines.decompile.graph import path_graph_from_stage1
    from bench.baselines.decompile.linear_ln import estimate_ln_var
    from bench.baselines.decompile.prune import direct_graph, expand, stage1_accuracy, unpruned
    from bench.baselines.decompile.weights import extract_weights
    from bench.models.config import GPT2Config
    from bench.models.model import GPT2

    keep_all = torch.ones(Stage1Graph.full(4, 4).n_edges, dtype=torch.bool)
    assert len(path_graph_from_stage1(Stage1Graph.full(4, 4), keep_all).vars) > 1000

    task = _Task().view
    torch.manual_seed(0)
    model = GPT2(GPT2Config(vocab_size=task.vocab_size, n_positions=task.n_positions, n_embd=16, n_layer=2, n_head=2)).eval()
    W = extract_weights(model, torch.float64)
    g1 = Stage1Graph.full(2, 2)
    batch = sample(task, model, 32, 0, 20)
    C1 = ex.init_stage1(W, g1, estimate_ln_var(model, [(batch.ids.numpy(), batch.pos.numpy())], 5, 4))
    eval_set = sample(task, model, 64, 0, 20)
    keep = torch.ones(g1.n_edges, dtype=torch.bool)
    n_paths = len(path_graph_from_stage1(g1, keep).vars)
    assert expand(W, g1, C1, keep, Config(max_paths=n_paths - 1)) is None
    full = expand(W, g1, C1, keep, Config(max_paths=n_paths))
    assert full is not None
    # the two ways of running the un-pruned graph agree (every conversion is exact), so the accuracy is the same
    with torch.no_grad():
        b = eval_set.select(torch.arange(16))
        assert torch.allclose(ex.forward_paths(W, *full, b.ids, b.pos), ex.forward_stage1(W, g1, C1, b.ids, b.pos),
                              atol=1e-9)
    assert unpruned(W, g1, C1, eval_set, Config(max_paths=1)) == (None, stage1_accuracy(W, g1, C1, None, eval_set))
    g, C = direct_graph(W, g1, C1)
    assert not g.heads and not g.mlps and {v.kind for v in g.vars} == {"tok", "pos"}
    assert 0.0 <= chunked_match_accuracy(lambda b: ex.forward_paths(W, g, C, b.ids, b.pos), eval_set) <= 1.0


@pytest.mark.slow
def test_a_model_with_too_many_paths_falls_back_to_a_valid_scored_program(tomita):
    from bench.baselines.decompile import Decompile
    from bench.program import Program

    method = Decompile(max_paths=1, max_length=30, steps1=30, lambdas1=(1e-4,), eval_size=128, match_size=64,
                       time_budget_s=60)
    program = method.extract(tomita.ref.model, tomita.view)
    assert method.last_report["fallback"].startswith("every stage-1 graph kept more than 1 paths")
    assert all(r.get("too_large") for r in method.last_report["runs"])
    notes = Program.from_json(program.to_json()).notes
    assert "too many paths" in notes and "fallback: every stage-1 graph" in notes
    assert program.n_ops <= 3  # the token and position tables read out
