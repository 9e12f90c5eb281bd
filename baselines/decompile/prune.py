"""The three pruning stages (docs/decompile.md §3, with the §7 simplifications).

First (:func:`calibrate`, the published λ = -1e-6 run) the LayerNorm scales
and pre-LN constants are fitted with every edge on; the stage-1 runs start
from them when that raised the match accuracy. :func:`run_pipeline` then runs
the stages in one loop: a :class:`Stage` says what its masks gate and how a
kept set becomes a graph, a :class:`Sweep` which graphs it starts from and
which λ each run gets (:mod:`.sweep`: the revision-4 grid, or the published
accuracy bins and bisection). One function (:func:`train_masks`) trains any
stage's run: per step, a batch of
``n_distinct`` sequences each repeated ``repeats`` times, an independent UGS
mask per row (dangling edges removed in stages 1 and 2), the distillation
loss plus λ Σ sigmoid(θ), and AdamW (weight decay 0) on the masks (lr 0.1,
betas (0.9, 0.995), gradient-norm clip 5), σ (lr 0.1), the ablation and
query-bias constants a, c (lr 0.002) and the pre-LN constants o (lr 1e-4).
The nominal step count is extended (up to 3x) while some θ is in (-1, 1) at
a 50-step check; a run stops when every θ < -2.

Simplifications (section 7): fewer runs per stage, no 500-step pre-training
of o / c (they start at their exact values: every conversion between stages
is exact, so the all-on next-stage graph equals the starting graph), a fixed
seeded evaluation set, and the training data drawn from a pool sampled once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from . import executors as ex
from . import sweep
from .clock import cpu_seconds
from .consts import Consts
from .data import DataBatch, chunked_match_accuracy, distill_loss, sample
from .graph import Stage1Graph, apply_stage3_mask, path_graph_from_stage1
from .masks import UGSMaskSampler

def learning_rates(cfg) -> dict[str, float]:
    """The learning rate of each group of constants (:class:`~.consts.Consts`), from the config."""
    return {"log_var": cfg.lr_sigma, "a": cfg.lr_a, "c": cfg.lr_a, "o": cfg.lr_o}


@dataclass(frozen=True)
class RunResult:
    stage: int
    lam: float
    n_edges: int
    acc: float
    graph: object  # (PathGraph, Consts) of the kept graph; None when the run kept no edge (or too many paths)
    consts: Consts
    steps: int
    too_large: bool = False  # kept more paths than Config.max_paths: measured, never chosen


class Pool:
    """Training sequences sampled once, served as repeated mini-batches."""

    def __init__(self, task, model, cfg):
        self.data = sample(task, model, cfg.pool_size, 0, cfg.max_length, offsets=cfg.offsets)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.cfg = cfg

    def batch(self) -> DataBatch:
        idx = torch.randint(0, len(self.data), (self.cfg.n_distinct,), generator=self.gen)
        return self.data.select(idx).repeat(self.cfg.repeats)


def train_masks(forward, n_edges: int, dag, consts: Consts, lam: float, steps: int, pool: Pool, cfg,
                deadline: float) -> tuple[torch.Tensor, Consts, int]:
    """Train one run; returns (hard mask after dangling removal, trained constants, steps run)."""
    torch.manual_seed(cfg.seed)
    dtype = next(iter(consts.log_var.values())).dtype
    sampler = UGSMaskSampler(n_edges, cfg.theta0, dtype)
    C = consts.trainable()
    groups = [{"params": [sampler.theta], "lr": cfg.lr_mask, "betas": tuple(cfg.mask_betas)}]
    rates = learning_rates(cfg)
    for name, tensors in C.groups().items():
        if tensors:
            groups.append({"params": tensors, "lr": rates[name]})
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    step, limit = 0, steps
    while step < limit and step < 3 * steps and cpu_seconds() < deadline:
        batch = pool.batch()
        m = sampler.sample(len(batch), gen)
        if dag is not None:
            m = m * dag.live_edges(m.detach() > 0).to(m.dtype)
        loss = distill_loss(forward(C, batch, m), batch) + lam * sampler.penalty()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([sampler.theta], cfg.mask_grad_clip)
        opt.step()
        step += 1
        if step % 50 == 0:
            theta = sampler.theta.detach()
            if bool((theta < -2).all()):
                break
            if bool(((theta > -1) & (theta < 1)).any()) and limit - step < 50:
                limit = step + 50
    hard = sampler.hard()
    if dag is not None:
        hard = dag.live_edges(hard[None])[0]
    return hard, C.detached(), step


def calibrate(W, g1: Stage1Graph, C1: Consts, pool: Pool, cfg, deadline: float) -> tuple[Consts, int]:
    """Fit the LayerNorm scales sigma and the pre-LN constants o with every edge on (the published λ = -1e-6 run).

    The distillation loss with all masks on, AdamW at the published rates
    (sigma 0.1, o 1e-4), ``cfg.calib_steps`` steps of ``n_distinct x repeats``
    distinct pool sequences. Returns the constants and the steps run.
    """
    torch.manual_seed(cfg.seed)
    C = C1.trainable(("log_var", "o"))
    opt = torch.optim.AdamW([{"params": list(C.log_var.values()), "lr": cfg.lr_sigma},
                             {"params": list(C.o.values()), "lr": cfg.lr_o}], weight_decay=0.0)
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    n = cfg.n_distinct * cfg.repeats
    step = 0
    while step < cfg.calib_steps and cpu_seconds() < deadline:
        batch = pool.data.select(torch.randint(0, len(pool.data), (n,), generator=gen))
        loss = distill_loss(ex.forward_stage1(W, g1, C, batch.ids, batch.pos), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    return C.detached(), step


def real_ln_check(W, g1: Stage1Graph, C1: Consts, pool: Pool, eval_set, cfg, deadline: float) -> list[dict]:
    """Stage 0, the published faithfulness check of the linearised LayerNorm (docs/decompile.md §1): stage-1
    pruning with the model's real LayerNorms, masks starting at ``real_ln_theta0``, one run per λ of
    ``cfg.real_ln_lambdas``; each run's kept edges and match accuracy (real LayerNorms throughout), to set
    beside the linearised stage-1 runs at the same λ."""
    forward = lambda C, batch, m: ex.forward_stage1(W, g1, C, batch.ids, batch.pos, mask=m, linear=False)  # noqa: E731
    runs = []
    for lam in cfg.real_ln_lambdas:
        if cpu_seconds() > deadline:
            break
        keep, trained, steps = train_masks(forward, g1.n_edges, g1.dag(), C1, lam, cfg.steps1, pool,
                                           replace(cfg, theta0=cfg.real_ln_theta0), deadline)
        acc = stage1_accuracy(W, g1, trained, keep, eval_set, linear=False)
        runs.append({"stage": 0, "lambda": lam, "edges": int(keep.sum()), "acc": round(acc, 4), "steps": steps})
    return runs


def _evaluate(W, g, C, eval_set) -> float:
    return chunked_match_accuracy(lambda b: ex.forward_paths(W, g, C, b.ids, b.pos), eval_set)


def expand(W, g1: Stage1Graph, C1: Consts, keep: torch.Tensor, cfg):
    """The path graph of a stage-1 mask and its exact constants (:func:`executors.paths_from_stage1`), or
    None when it has more than ``cfg.max_paths`` variables: deep models' un-pruned graphs multiply paths
    (a 4-layer, 4-head model has about 1,400), too many to run, or to render within the language's limits."""
    return None if too_many_paths(g1, keep, cfg) else ex.paths_from_stage1(W, g1, C1, keep)


def too_many_paths(g1: Stage1Graph, keep: torch.Tensor, cfg) -> bool:
    """Whether a stage-1 mask expands into more than ``cfg.max_paths`` path variables (structure only, cheap)."""
    return len(path_graph_from_stage1(g1, keep).vars) > cfg.max_paths


def stage1_accuracy(W, g1: Stage1Graph, C1: Consts, keep: torch.Tensor | None, eval_set, linear: bool = True) -> float:
    """Match accuracy of a hard stage-1 mask (None: every edge) run as a stage-1 graph (no path expansion),
    with linearised LayerNorms or (``linear=False``) the model's own."""
    mask = None if keep is None else keep.to(C1.o[("lm",)].dtype)[None]
    return chunked_match_accuracy(lambda b: ex.forward_stage1(W, g1, C1, b.ids, b.pos, mask=mask, linear=linear),
                                  eval_set)


def unpruned(W, g1: Stage1Graph, C1: Consts, eval_set, cfg):
    """The graph with every edge on (None when it has too many paths, :func:`expand`) and its match accuracy."""
    full = expand(W, g1, C1, torch.ones(g1.n_edges, dtype=torch.bool), cfg)
    return full, (_evaluate(W, *full, eval_set) if full else stage1_accuracy(W, g1, C1, None, eval_set))


def direct_graph(W, g1: Stage1Graph, C1: Consts):
    """The embeddings straight to the logits (no head, no MLP): the graph a program falls back to when
    no pruned graph can be rendered (it always can: a token table and a position table)."""
    keep = torch.tensor([t == ("lm",) and s[0] in ("wte", "wpe") for s, t in g1.edges])
    return ex.paths_from_stage1(W, g1, C1, keep)


@dataclass(frozen=True)
class Stage:
    """One pruning stage as data: what its masks gate, and how a kept set of them becomes a graph."""

    number: int
    n_edges: int
    dag: object  # for removing dangling edges (stages 1 and 2); None: no removal (stage 3)
    steps: int  # the nominal step count
    forward: Callable  # (consts, batch, mask) -> logits of the masked graph
    fold: Callable  # (keep, trained consts) -> (graph, consts) to evaluate, or None for a run that kept nothing
    log_empty: bool = False  # record a run that kept nothing (stage 1 does; its report lists every λ)
    too_large: Callable | None = None  # (keep) -> whether the kept graph has too many paths to fold
    measure: Callable | None = None  # (keep, trained consts) -> match accuracy of a run too large to fold


def run_stage(stage: Stage, W, start: Consts, policy, pool, eval_set, cfg, deadline) -> list[RunResult]:
    """Mask-training runs at the λ values ``policy(runs so far)`` proposes (:mod:`.sweep`), until it proposes
    None or the CPU budget is spent; each run folded and evaluated."""
    runs: list[RunResult] = []  # every run, those that kept nothing included (the policy learns from them)
    while cpu_seconds() <= deadline:
        lam = policy(runs)
        if lam is None:
            break
        keep, trained, steps = train_masks(stage.forward, stage.n_edges, stage.dag, start, lam, stage.steps, pool, cfg,
                                           deadline)
        if stage.too_large is not None and bool(keep.any()) and stage.too_large(keep):
            acc = stage.measure(keep, trained)
            runs.append(RunResult(stage.number, lam, int(keep.sum()), acc, None, trained, steps, too_large=True))
            continue
        folded = stage.fold(keep, trained)  # None: the run kept nothing, so there is nothing to render
        acc = 0.0 if folded is None else _evaluate(W, *folded, eval_set)
        runs.append(RunResult(stage.number, lam, int(keep.sum()), acc, folded, trained, steps))
    return [r for r in runs if r.graph is not None or r.too_large or stage.log_empty]


def stage1(W, g1: Stage1Graph, cfg, eval_set) -> Stage:
    """Edges between the model's components (docs/decompile.md §3.1); a run that keeps more than
    ``cfg.max_paths`` paths is measured as a stage-1 graph and never chosen."""
    return Stage(
        1, g1.n_edges, g1.dag(), cfg.steps1,
        forward=lambda C, batch, m: ex.forward_stage1(W, g1, C, batch.ids, batch.pos, mask=m),
        fold=lambda keep, C: ex.paths_from_stage1(W, g1, C, keep) if bool(keep.any()) else None,
        log_empty=True,
        too_large=lambda keep: too_many_paths(g1, keep, cfg),
        measure=lambda keep, C: stage1_accuracy(W, g1, C, keep, eval_set),
    )


def stage2(W, g, cfg) -> Stage:
    """Full paths (§3.2)."""
    return Stage(
        2, len(g.stage2_edges()), g.stage2_dag(), cfg.steps2,
        forward=lambda C, batch, m: ex.forward_paths(W, g, C, batch.ids, batch.pos, mask=m),
        fold=lambda keep, C: ex.fold_stage2(W, g, C, keep.tolist()) if bool(keep.any()) else None,
    )


def stage3(W, g3, cfg) -> Stage:
    """Query-key products (§3.3); no dangling-edge removal, and an empty set is a valid graph."""
    return Stage(
        3, len(g3.stage3_edges()), None, cfg.steps3,
        forward=lambda C, batch, m: ex.forward_paths(W, g3, C, batch.ids, batch.pos, mask=m),
        fold=lambda keep, C: (apply_stage3_mask(g3, keep.tolist()), C),
    )


def choose(results: list[RunResult], target: float) -> RunResult | None:
    """The run with the fewest edges that reaches ``target`` (ties: higher accuracy); when none does, the
    most accurate one (ties: fewer edges). ``results`` includes the previous stage's graph, so there is one,
    except in stage 1 when the un-pruned graph and every run have too many paths (None)."""
    runs = [r for r in results if r.graph is not None]
    ok = [r for r in runs if r.acc >= target]
    if ok:
        return min(ok, key=lambda r: (r.n_edges, -r.acc))
    return max(runs, key=lambda r: (r.acc, -r.n_edges)) if runs else None


@dataclass(frozen=True)
class Sweep:
    """How a stage's runs are started (:mod:`.sweep`): from which graphs, at which λ, until when."""

    cfg: object
    baseline: float | None  # the lookup baseline's match accuracy ("bins" only: the accuracy bins' floor)
    start: float  # CPU seconds when extraction began

    @property
    def published(self) -> bool:
        return self.cfg.lambda_search == "bins"

    def deadline(self, number: int) -> float:
        """The CPU-second deadline of stage ``number``: one budget for all stages ("grid"), or cumulative
        shares of it per stage (``Config.stage_budget``), so that a long stage 1 leaves stages 2-3 their time."""
        share = self.cfg.stage_budget[number - 1] if self.published else 1.0
        return self.start + share * self.cfg.time_budget_s

    def points(self, number: int, before: list[RunResult], chosen: RunResult) -> list[RunResult]:
        """The graphs stage ``number`` starts from: the previous stage's chosen one ("grid"), or up to
        ``frontier_points`` along its frontier ("bins")."""
        if number == 1 or not self.published:
            return [chosen]
        return sweep.spread(sweep.frontier(before), self.cfg.frontier_points) or [chosen]

    def policy(self, number: int, point: RunResult, n_points: int, grid: list[float]):
        cfg = self.cfg
        if not self.published:
            return sweep.Grid(cfg.lambdas1 if number == 1 else grid)
        if number == 1:
            return sweep.Bins(cfg.lambdas1, self.baseline, cfg.lambda_bins, cfg.runs1, cfg.seed)
        target = self.baseline + cfg.anchor * (point.acc - self.baseline)
        lam0 = point.lam if point.lam > 0 else cfg.lambdas1[0]
        return sweep.Bisect(lam0, target, -(-cfg.runs23 // n_points))


def _next_stage(number: int, W, point: RunResult, g1: Stage1Graph, cfg, eval_set):
    """(Stage to sweep or None, the point's graph as this stage's all-on run): the previous stage's graph is
    this stage's un-pruned graph, exactly (every conversion is exact)."""
    if number == 1:
        return stage1(W, g1, cfg, eval_set), point
    g, C = point.graph
    if number == 2:
        return stage2(W, g, cfg), RunResult(2, 0.0, len(g.stage2_edges()), point.acc, (g, C), C, 0)
    g3, C3 = ex.stage3_from_stage2(W, g, C)
    prev = RunResult(3, 0.0, g3.n_terms(), point.acc, (g3, C3), C3, 0)
    return (stage3(W, g3, cfg) if g3.n_terms() else None), prev


def run_pipeline(W, g1: Stage1Graph, C1: Consts, task, model, eval_set, cfg, start: float):
    """Stages 1-3, each swept from the graphs the stage before chose (:class:`Sweep`); returns ((PathGraph in
    stage-3 form, Consts), report), or (None, report) when every stage-1 graph, the un-pruned one included,
    has more than ``cfg.max_paths`` paths."""
    pool = Pool(task, model, cfg)
    report: dict = {"runs": []}
    full, acc_full = unpruned(W, g1, C1, eval_set, cfg)
    if cfg.calib_steps:
        C_cal, steps = calibrate(W, g1, C1, pool, cfg, start + cfg.time_budget_s)
        full_cal, acc_cal = unpruned(W, g1, C_cal, eval_set, cfg)
        report["calibration"] = {"steps": steps, "acc_before": acc_full, "acc_after": acc_cal}
        if acc_cal >= acc_full:  # every stage-1 run starts from the calibrated constants
            C1, full, acc_full = C_cal, full_cal, acc_cal
    chosen = RunResult(1, 0.0, g1.n_edges, acc_full, full, C1, 0, too_large=full is None)
    plan = Sweep(cfg, sweep.lookup_accuracy(pool.data, eval_set) if cfg.lambda_search == "bins" else None, start)
    if plan.baseline is not None:
        report["lookup_acc"] = plan.baseline
    if cfg.real_ln_lambdas:
        report["runs"] += real_ln_check(W, g1, C1, pool, eval_set, cfg, plan.deadline(1))
    before: list[RunResult] = []
    grid: list[float] = []  # "grid": the λ list of stages 2 and 3, from the chosen stage-1 λ
    for number in (1, 2, 3):
        points = plan.points(number, before, chosen)
        results = []
        for n, point in enumerate(points):
            stage, prev = _next_stage(number, W, point, g1, cfg, eval_set)
            runs = [] if stage is None else run_stage(stage, W, prev.consts, plan.policy(number, point, len(points), grid),
                                                      pool, eval_set, cfg, plan.deadline(number))
            report["runs"] += [_logged(r, n if len(points) > 1 else None) for r in runs]
            results += runs + [prev]
        chosen = choose(results, cfg.target_acc)
        if chosen is None:
            report["stage"] = "stage1"
            return None, report
        report[f"stage{number}"] = {"lambda": chosen.lam, "terms" if number == 3 else "edges": chosen.n_edges,
                                    "acc": chosen.acc}
        if len(points) > 1:
            report[f"stage{number}"]["from"] = [_point(p) for p in points]
        if number == 1:
            grid = [chosen.lam * f for f in cfg.lambdas23_factors] if chosen.lam > 0 else [cfg.lambdas1[0]]
        before = results
    report["stage"] = "stage3"
    return chosen.graph, report


def _logged(r: RunResult, point: int | None) -> dict:
    return {"stage": r.stage, "lambda": r.lam, "edges": r.n_edges, "acc": round(r.acc, 4), "steps": r.steps,
            **({"too_large": True} if r.too_large else {}), **({"point": point} if point is not None else {})}


def _point(r: RunResult) -> dict:
    return {"lambda": r.lam, "edges": r.n_edges, "acc": round(r.acc, 4)}
