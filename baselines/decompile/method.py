"""The ``decompile`` method: the published decompilation pipeline, on a CPU budget (docs/decompile.md).

``extract(model, task)``:

1. copy the weights, estimate each LayerNorm's mean input variance (LLN-A init);
2. fit sigma and the pre-LN constants with every edge on (the published
   λ = -1e-6 run), then stage 1: prune the edge graph (uniform-gradient masks, optimal ablation,
   linearised LayerNorms) over a small fixed λ grid;
3. stage 2: expand the best stage-1 graphs into paths and prune paths;
4. stage 3: prune the (q-path, k-path) and query-bias terms;
5. match primitives (attention patterns, logit patterns, MLP replacements)
   where they keep match accuracy;
6. render the chosen graph as a program of the benchmark's language.

Our one addition to the published method (``pos0_readout``, on by default):
for token-set models, whose output at position 0 (BOS) is scored, the graph
and the program output the model's own logits there. Position 0 only ever
sees BOS, so this is one constant vector (the BOS row of a ``tokens`` table:
BOS occurs at position 0 only).
The linearised LayerNorm is least accurate exactly there (the BOS residual's
scale is far from the average), and on some models it flips a logit's sign
at position 0 of every sequence while every other position matches.

At every stage the chosen graph is the smallest (fewest edges/terms) whose
match accuracy on a fixed evaluation set reaches ``target_acc``; where none
does (the previous stage's graph is always a candidate), the most accurate.
Every choice is recorded in ``self.last_report`` and summarised in the
program's notes (``bench.show`` prints them).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from bench.program import Program, ProgramError
from bench.scoring.methods import register_method

from . import executors as ex
from .clock import cpu_seconds
from .data import sample
from .graph import Stage1Graph
from .linear_ln import estimate_ln_var
from .match_mlp import match_mlps
from .match_select import greedy_match, hard_selects
from .notes import report_notes
from .prune import direct_graph, run_pipeline, unpruned
from .render import build_program
from .weights import extract_weights, with_pos0_readout


#: The λ searches (Config.lambda_search).
LAMBDA_SEARCHES = ("grid", "bins")


@dataclass(frozen=True)
class Config:
    """Every figure the method uses (recorded as the method's parameters)."""

    revision: int = 6  # bumped with every change of behaviour, so that `evaluate --resume` redoes old results
    max_length: int = 150  # pruning data lengths [0, max_length]; 50 = training lengths only
    offsets: bool = False  # positions start at 0, as the harness tests
    ln_var_batches: int = 4  # of 64 sequences (the paper: 10)
    eval_size: int = 768  # fixed evaluation set (the paper: 24k fresh sequences)
    target_acc: float = 0.9
    prune: bool = True
    lambdas1: tuple = (1e-5, 1e-4, 1e-3, 1e-2)
    lambdas23_factors: tuple = (0.3, 1.0, 3.0)
    #: "grid": lambdas1 in stage 1, then the chosen graph's λ times lambdas23_factors (since revision 4);
    #: "bins": the published sweep (prune.Sweep, sweep.py): accuracy bins from the lookup baseline's
    #: accuracy up to 1 in stage 1, then bisection from frontier_points graphs toward anchored targets
    lambda_search: str = "grid"
    lambda_bins: int = 10  # "bins": accuracy bins of stage 1
    runs1: int = 8  # "bins": stage-1 runs at most (lambdas1 first)
    runs23: int = 6  # "bins": runs at most in each of stages 2 and 3, shared among the starting graphs
    frontier_points: int = 3  # "bins": starting graphs of stages 2 and 3, spread along the frontier
    anchor: float = 0.9  # "bins": target = lookup acc + anchor * (starting graph's acc - lookup acc)
    stage_budget: tuple = (0.4, 0.7, 1.0)  # "bins": cumulative shares of time_budget_s by stages 1, 2, 3
    calib_steps: int = 100  # sigma and o fitted with every edge on before stage 1 (0: off)
    steps1: int = 250
    steps2: int = 150
    steps3: int = 150
    max_paths: int = 256  # a stage-1 graph with more paths is never expanded (deep models: see prune.expand)
    pool_size: int = 1024  # training sequences, sampled once (baselines/decompile/prune.py: Pool)
    n_distinct: int = 8  # distinct sequences per training batch
    repeats: int = 6  # each repeated with independent masks (the paper: 10 x 12)
    theta0: float = 8.0
    #: stage 0, the real-LayerNorm check (prune.real_ln_check): its λ values (empty: not run) and initial θ
    real_ln_lambdas: tuple = ()
    real_ln_theta0: float = 10.0
    lr_mask: float = 0.1
    mask_betas: tuple = (0.9, 0.995)
    mask_grad_clip: float = 5.0
    lr_sigma: float = 0.1  # the LayerNorm scales (log sigma^2)
    lr_a: float = 0.002  # the ablation constants a and the query-bias constants c
    lr_o: float = 1e-4  # the pre-LayerNorm constants o
    match_primitives: bool = True
    select_accept: float = 0.96  # a primitive replaces a term when match stays >= select_accept * acc0
    select_keep: float = 0.95  # the greedy result is kept when its match is >= select_keep * acc0
    mlp_accept: float = 0.9  # an MLP replacement is accepted at this match accuracy (absolute)
    mlp_fvu: float = 0.6  # a keep_one fit is tried when its fraction of variance unexplained is below this
    #: the MLP primitives tried (match_mlp): erase, keep_one, the input primitives harden, sharpen2/3/5, and
    #: split (the split-MLP library fitted as a sum of per-input parts, split_mlp.py)
    mlp_library: tuple = ("erase", "keep_one")
    match_size: int = 384  # sequences per primitive trial (the paper: 1,200 fresh)
    match_budget_s: float = 60.0  # extra CPU seconds allowed for matching after the pruning budget
    time_budget_s: float = 360.0  # CPU seconds of pruning (baselines/decompile/clock.py)
    seed: int = 0
    pos0_readout: bool = True  # token-set models: output the model's own (constant) logits at position 0
    #: the final program groups a head's unmatched score terms into factored (rank d_h) scores where that
    #: has fewer parameters (render.Renderer._factored_terms; the same function, matching is unchanged);
    #: on since revision 5 (revision 4 is this with factor_scores=False)
    factor_scores: bool = True
    #: a head left with one matched term that is a hard relation (k==q-1 between positions, k==BOS, ...)
    #: is written as ``select`` with that relation instead of a soft select of its 10^4-scaled table
    #: (match_select.hard_selects; the same weights up to parts in 1e270; matching is unchanged);
    #: on since revision 6 (revision 5 is this with hard_selects=False)
    hard_selects: bool = True


@register_method()
class Decompile:
    """Prunes the model into a sparse program, then matches its parts to RASP primitives (docs/decompile.md)."""

    name = "decompile"

    def __init__(self, config: Config | None = None, **overrides):
        base = config or Config()
        self.config = Config(**{**asdict(base), **overrides})
        if self.config.lambda_search not in LAMBDA_SEARCHES:
            raise ValueError(f"lambda_search must be one of {', '.join(LAMBDA_SEARCHES)}, "
                             f"not {self.config.lambda_search!r}")
        self.last_report: dict = {}

    @property
    def parameters(self) -> dict:
        """Every field of :class:`Config` (the figures that ran), plus what is fixed in the code's structure."""
        out = asdict(self.config)
        out["lengths"] = [0, self.config.max_length]
        out["split_mlps"] = False
        out["stages"] = ["stage1 edges", "stage2 paths", "stage3 qk terms", "mlp matching", "select matching"]
        out["dangling_removal"] = "stages 1-2"
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def details(self) -> dict:
        """The last extraction, for the results (``bench.scoring.methods``): which primitives matched per
        operation, each stage's choice, the fallback if any, and the CPU seconds."""
        r = self.last_report
        mlps = {name: entry if isinstance(entry, str) else entry.get("primitive", "kept as an MLP")
                for name, entry in r.get("mlp_matching", {}).items()}
        selects = r.get("select_matching") or {}
        out = {
            "primitives": {"mlps": mlps, "terms": selects.get("matched", {}) if selects.get("kept") else {}},
            "stages": {key: r[key] for key in ("stage1", "stage2", "stage3") if key in r},
            "cpu_seconds": round(r.get("cpu_seconds", 0.0), 1),
        }
        for key in ("lookup_acc", "fallback"):
            if key in r:
                out[key] = r[key]
        return out

    def _weights(self, model, task, dtype):
        W = extract_weights(model, dtype)
        if self.config.pos0_readout and task.kind == "token_set":
            W = with_pos0_readout(W, model, task.vocab.bos)
        return W

    def extract(self, model, task):
        torch.set_num_threads(1)
        cfg = self.config
        start, wall_start = cpu_seconds(), time.perf_counter()
        torch.manual_seed(cfg.seed)
        W = self._weights(model, task, torch.float32)  # pruning runs in float32 (3x faster on CPU)
        pad, eos = task.vocab.pad, task.vocab.eos
        ln_batches = [sample(task, model, 64, 0, cfg.max_length, offsets=cfg.offsets) for _ in range(cfg.ln_var_batches)]
        ln_var = estimate_ln_var(model, [(b.ids.numpy(), b.pos.numpy()) for b in ln_batches], pad, eos)
        eval_set = sample(task, model, cfg.eval_size, 0, cfg.max_length, offsets=cfg.offsets)
        g1 = Stage1Graph.full(W.n_layers, W.n_heads)
        C1 = ex.init_stage1(W, g1, ln_var)
        chosen, acc = unpruned(W, g1, C1, eval_set, cfg)
        report = {"unpruned_linear_acc": acc, "stage": "unpruned"}
        if cfg.prune:
            chosen, pipeline_report = run_pipeline(W, g1, C1, task, model, eval_set, cfg, start)
            report.update(pipeline_report)
        W64 = self._weights(model, task, torch.float64)  # the program is rendered from float64 weights
        program = self._program(W64, task, chosen, direct_graph(W, g1, C1), eval_set, start, report)
        report["seconds"] = time.perf_counter() - wall_start
        report["cpu_seconds"] = cpu_seconds() - start
        report["n_ops"] = program.n_ops
        self.last_report = report
        notes = report_notes(report, cfg.max_length, cfg.eval_size, cfg.target_acc)
        return Program(program.output, vocab_size=program.vocab_size, kind=program.kind,
                       n_positions=program.n_positions, name=program.name, notes=notes)

    def _program(self, W64, task, chosen, fallback, eval_set, start: float, report: dict):
        """The chosen graph, matched and rendered; where there is none (every graph had too many paths)
        or it does not fit the language's limits, the direct graph (``prune.direct_graph``): a valid
        program, scored like any other, with the reason in ``report["fallback"]``."""
        name = f"decompile_{task.name}"
        if chosen is None:
            report["fallback"] = f"every stage-1 graph kept more than {self.config.max_paths} paths"
        else:
            try:
                return self._match_and_render(W64, task, *chosen, eval_set, start, report, name)
            except ProgramError as err:
                report["fallback"] = f"the chosen graph does not fit the program language ({err})"
                report.pop("mlp_matching", None)
                report.pop("select_matching", None)
        g, C = fallback
        return build_program(W64, g, C.to(torch.float64), task.kind, name=name, share_aggregates=True,
                             factor=self.config.factor_scores)

    def _match_and_render(self, W64, task, g, C, eval_set, start: float, report: dict, name: str):
        """Primitive matching (MLPs, then attention and logits, within the CPU budget), then the program."""
        cfg = self.config
        C64 = C.to(torch.float64)
        overrides, converted, hard = {}, {}, {}
        if cfg.match_primitives and g.is_stage3:
            specials = {"bos": task.vocab.bos, "sep": task.vocab.sep, "eos": task.vocab.eos}
            match_set = eval_set.select(torch.arange(min(cfg.match_size, len(eval_set))))
            deadline = max(cpu_seconds(), start + cfg.time_budget_s) + cfg.match_budget_s
            converted, report["mlp_matching"] = match_mlps(W64, g, C64, task.kind, match_set, deadline,
                                                           accept=cfg.mlp_accept, max_fvu=cfg.mlp_fvu,
                                                           library=cfg.mlp_library)
            overrides, report["select_matching"] = greedy_match(W64, g, C64, task.kind, match_set, specials, deadline,
                                                                accept=cfg.select_accept, keep=cfg.select_keep,
                                                                converted=converted)
            if cfg.hard_selects:
                hard = hard_selects(report["select_matching"], specials)
        return build_program(W64, g, C64, task.kind, name=name, overrides=overrides,
                             converted=converted, share_aggregates=True, factor=cfg.factor_scores, hard=hard)


@register_method()
class DecompileTrainLengths(Decompile):
    """decompile, pruned and matched on training lengths (0-50) only.

    The harness scores it on every bin, so its 51-100 and 101-150 scores are
    faithfulness at lengths the method never saw.
    """

    name = "decompile-50"

    def __init__(self, config: Config | None = None, **overrides):
        super().__init__(config, **{"max_length": 50, **overrides})


method = Decompile
