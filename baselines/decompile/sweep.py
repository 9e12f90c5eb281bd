"""Which λ each pruning run gets (docs/decompile.md, "The λ sweep").

A stage is swept from one or more *starting points* (graphs of the stage
before). For each, a policy proposes the next λ from the runs made so far
(``policy(runs) -> λ or None``, None ending that point's sweep):

- :class:`Grid` (``Config.lambda_search = "grid"``, the default since revision 4): a fixed list;
  stage 1 from the un-pruned graph, stages 2 and 3 from the one graph chosen
  in the stage before, at that graph's stage-1 λ times ``lambdas23_factors``.
- ``"bins"``, the published sweep: stage 1 tries the starting list, then
  aims each run at a random empty *accuracy bin* (:class:`Bins`; the bins are
  centred from the lookup baseline's accuracy up to 1); stages 2 and 3 start
  from up to ``frontier_points`` graphs spread along the previous stage's
  (accuracy, size) Pareto frontier (:func:`frontier`, :func:`spread`) and
  bisect λ from each toward the largest that keeps match accuracy at least
  ``baseline + anchor * (point accuracy - baseline)`` (:class:`Bisect`).

λ only moves accuracy one way on average (larger λ, fewer edges, lower
accuracy), so both searches bracket on that assumption; a run that breaks it
ends the bisection rather than looping.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .data import DataBatch, match_accuracy

#: Two λ closer than this factor count as the same run (the published sweep nudges by 1.2).
NUDGE = 1.2


class Grid:
    """A fixed list of λ, in order."""

    def __init__(self, lams):
        self.lams = list(lams)

    def __call__(self, runs: list) -> float | None:
        return self.lams[len(runs)] if len(runs) < len(self.lams) else None


def _distinct(lam: float, tried: list[float]) -> float:
    """``lam`` nudged up by factors of :data:`NUDGE` until it is no λ already tried."""
    while any(abs(math.log(lam / t)) < math.log(NUDGE) / 2 for t in tried if t > 0):
        lam *= NUDGE
    return lam


def bracket(runs: list, target: float) -> tuple[float | None, float | None]:
    """(largest λ whose run reached ``target``, smallest λ whose run did not), positive λ only."""
    ok = [r.lam for r in runs if r.lam > 0 and r.acc >= target]
    short = [r.lam for r in runs if r.lam > 0 and r.acc < target]
    return (max(ok) if ok else None), (min(short) if short else None)


def aim(runs: list, target: float, step: float) -> float | None:
    """A λ expected to land near ``target``: the geometric mean of the bracketing λs, or the one side
    times (or divided by) ``step``; None where the runs contradict (a larger λ reached it, a smaller did not)."""
    lo, hi = bracket(runs, target)
    if lo is not None and hi is not None:
        return math.sqrt(lo * hi) if hi > lo else None
    if lo is not None:
        return lo * step
    if hi is not None:
        return hi / step
    return None


class Bins:
    """Stage 1: ``start`` first, then runs aimed at random empty accuracy bins (centres
    ``linspace(baseline, 1, n_bins)``), at most ``max_runs`` in all."""

    def __init__(self, start, baseline: float, n_bins: int, max_runs: int, seed: int, step: float = 5.0):
        self.start, self.max_runs, self.step = list(start), max_runs, step
        self.centres = np.linspace(min(baseline, 1.0), 1.0, n_bins)
        self.half = (self.centres[1] - self.centres[0]) / 2 if n_bins > 1 else 0.5
        self.rng = np.random.default_rng(seed)

    def empty(self, runs: list) -> list[float]:
        accs = [r.acc for r in runs]
        return [float(c) for c in self.centres if not any(abs(a - c) <= self.half for a in accs)]

    def __call__(self, runs: list) -> float | None:
        if len(runs) >= self.max_runs:
            return None
        if len(runs) < len(self.start):
            return self.start[len(runs)]
        empty = self.empty(runs)
        self.rng.shuffle(empty)
        for centre in empty:  # the first empty bin some run brackets or bounds
            lam = aim(runs, centre, self.step)
            if lam is not None:
                return _distinct(lam, [r.lam for r in runs])
        return None


class Bisect:
    """Stages 2 and 3 from one starting graph: λ from ``lam0``, multiplied (divided) by ``step`` until the
    target is bracketed, then bisected geometrically, at most ``max_runs`` runs."""

    def __init__(self, lam0: float, target: float, max_runs: int, step: float = 3.0):
        self.lam0, self.target, self.max_runs, self.step = lam0, target, max_runs, step

    def __call__(self, runs: list) -> float | None:
        if len(runs) >= self.max_runs:
            return None
        if not runs:
            return self.lam0
        lam = aim(runs, self.target, self.step)
        return None if lam is None else _distinct(lam, [r.lam for r in runs])


def frontier(runs: list) -> list:
    """The runs with a graph that no other beats on both size and match accuracy (fewest edges first)."""
    runs = [r for r in runs if r.graph is not None]
    return sorted((r for r in runs if not any(
        o.n_edges <= r.n_edges and o.acc >= r.acc and (o.n_edges < r.n_edges or o.acc > r.acc) for o in runs)),
        key=lambda r: (r.n_edges, -r.acc))


def spread(points: list, k: int) -> list:
    """Up to ``k`` of the frontier ``points`` (fewest edges first) spread evenly by arc length along it, in
    (edges / most edges, accuracy) coordinates; both ends are always among them."""
    if len(points) <= k:
        return list(points)
    most = max(p.n_edges for p in points) or 1
    xy = np.array([(p.n_edges / most, p.acc) for p in points])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    chosen: list[int] = []
    for s in np.linspace(0.0, arc[-1], k):
        i = int(np.argmin(np.abs(arc - s)))
        if i not in chosen:
            chosen.append(i)
    return [points[i] for i in sorted(chosen)]


def lookup_accuracy(train: DataBatch, test: DataBatch) -> float:
    """Match accuracy on ``test`` of the lookup baseline (docs/decompile.md §6) fitted on ``train``: one
    table from the current token to the model's most frequent prediction after it (token tasks), or to
    each vocabulary entry's more frequent sign (token sets); tokens never seen get the overall choice."""
    V = train.orig.shape[-1]
    tok, orig = train.ids[train.mask], train.orig[train.mask]  # scored positions
    n_tokens = int(max(train.ids.max(), test.ids.max())) + 1
    if train.kind == "token":
        counts = torch.zeros(n_tokens, V, dtype=torch.float64)
        counts.index_put_((tok, orig.argmax(-1)), torch.ones(len(tok), dtype=torch.float64), accumulate=True)
        seen = counts.sum(-1) > 0
        overall = counts.sum(0).argmax()
        choice = torch.where(seen, counts.argmax(-1), overall)
        table = torch.nn.functional.one_hot(choice, V).double()
    else:
        on = torch.zeros(n_tokens, V, dtype=torch.float64).index_add_(0, tok, (orig > 0).double())
        n = torch.zeros(n_tokens, dtype=torch.float64).index_add_(0, tok, torch.ones(len(tok), dtype=torch.float64))
        share = torch.where(n[:, None] > 0, on / n.clamp(min=1)[:, None], (orig > 0).double().mean(0))
        table = torch.where(share > 0.5, 1.0, -1.0).double()
    return match_accuracy(table[test.ids], test)
