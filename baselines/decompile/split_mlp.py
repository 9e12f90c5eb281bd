"""Split-MLP replacements (docs/decompile.md §4.1, the split library) for the model's own, un-split MLPs.

The published method trains one MLP per input path (``split_mlps=True``) and
matches each to a primitive of one input. Here the MLP stays the model's own,
so a replacement is fitted to it as a whole: its output is approximated by a
sum of one linear readout per input,

    out ~ bias + sum_k features_k(X_k) @ C_k,

a table for a ``cat`` input (tokens, positions: any function of that input
alone), and for a distribution-valued input (an aggregate) one primitive of
the published library below, all tables fitted jointly by least squares. The
MLP becomes ``readout(...)`` over the ``resid`` basis (what its consumers
already read). Where the MLP is not a sum of per-input parts, no candidate
fits; where it is, the parts are named.

=================  =========================================  ========================
primitive          features of a distribution x over n        program variables
=================  =========================================  ========================
``no_op``          x                                          x itself
``harden``         onehot(argmax x)                           ``harden(x)``
``sharpen(p)``     relu(x)^p, renormalised (p = 2, 3, 5)      ``sharpen(x, power=p)``
``exists(i)``      [x_i > 0.1]                                ``threshold(x_i, 0.1)``
``forall(t)``      [x > t] elementwise (t = 0.95 ... 0.7)     ``threshold(x, t)``
``01balance(p)``   relu(x_1 - x_0)^p, relu(x_0 - x_1)^p       two ``numerical`` maps
``ABbalance(p)``   the same on entries 3 and 2 (n = 8)
``diff(i,j)``      one of 12 bins: x_i - x_j in 11 bins       one ``sequence_map`` to
                   (inner edges -0.6, -0.47, ..., 0.6), or    a 12-category basis
                   bin 11 where x_i + x_j < 0.2
=================  =========================================  ========================

The published ``[f, 1 - sum]`` forms are the same up to the fitted bias; ``equal``
is left out. The features are computed here in numpy for the fit; the program
computes them with the benchmark's interpreter, and the candidate is judged by
the program's match accuracy, as every replacement is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

import bench.program as rasp

from .clock import cpu_seconds

DIFF_BINS = 12
_DIFF = "11 if x + y < 0.2 else min(max(floor((x - y + 0.6) * 7.5) + 1, 0), 10)"
BALANCE_POWERS = (0.5, 0.05, 0.01)
#: inputs over more entries get no per-entry primitives (exists, diff: one candidate per entry or pair)
MAX_ENTRY_PRIMITIVES = 16
FORALL_THRESHOLDS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7)


@dataclass(frozen=True)
class Primitive:
    """One library entry for an input over ``n`` entries: its features and the variables computing them."""

    label: str
    features: Callable[[np.ndarray], np.ndarray]  # (positions, n) -> (positions, k)
    #: the program variables computing the features from the input variable (over n entries), with the
    #: number of feature columns each stands for, in column order (a cat variable: its one-hot columns)
    nodes: Callable[[rasp.Node, int, str], list[tuple[rasp.Node, int]]]


class SplitPart(NamedTuple):
    src: int  # the input variable
    primitive: str | None  # None: the input as it is (cat: any function of it)
    table: np.ndarray  # (features, d)


class Split(NamedTuple):
    """An MLP replaced by ``bias + sum of part readouts`` over the ``resid`` basis."""

    parts: tuple[SplitPart, ...]
    bias: np.ndarray


def _component(x: rasp.Node, i: int, name: str) -> rasp.Node:
    return rasp.component(x, i).named(f"{name}_x{i}")


def _diff(i: int, j: int) -> Primitive:
    def features(x):
        a, b = x[:, i], x[:, j]
        bins = np.where(a + b < 0.2, 11, np.clip(np.floor((a - b + 0.6) * 7.5) + 1, 0, 10)).astype(int)
        return np.eye(DIFF_BINS)[bins]

    def nodes(x, n, name):
        basis = rasp.Basis("diff", DIFF_BINS)
        return [(rasp.sequence_map(_component(x, i, name), _component(x, j, name), _DIFF, basis=basis)
                 .named(f"{name}_diff{i}{j}"), DIFF_BINS)]

    return Primitive(f"diff({i},{j})", features, nodes)


def _balance(label: str, a: int, b: int, power: float) -> Primitive:
    def features(x):
        delta = x[:, a] - x[:, b]
        return np.stack([np.maximum(delta, 0) ** power, np.maximum(-delta, 0) ** power], 1)

    def nodes(x, n, name):
        delta = rasp.sequence_map(_component(x, a, name), _component(x, b, name), "x - y").named(f"{name}_delta")
        return [(rasp.map(delta, f"max(x, 0) ** {power}").named(f"{name}_pos"), 1),
                (rasp.map(delta, f"max(-x, 0) ** {power}").named(f"{name}_neg"), 1)]

    return Primitive(f"{label}({power})", features, nodes)


def library(n: int) -> list[Primitive]:
    """The split-MLP library for a distribution over ``n`` entries (the ones that apply)."""
    out = [Primitive("no_op", lambda x: x, lambda x, n, name: [(x, n)]),
           Primitive("harden", _applied("harden"),
                     lambda x, n, name: [(rasp.harden(x).named(f"{name}_hard"), n)])]
    for p in (2, 3, 5):
        out.append(Primitive(f"sharpen({p})", _applied("sharpen", power=p),
                             lambda x, n, name, p=p: [(rasp.sharpen(x, power=p).named(f"{name}_sharp"), n)]))
    for i in range(n if n <= MAX_ENTRY_PRIMITIVES else 0):
        out.append(Primitive(f"exists({i})", lambda x, i=i: (x[:, i:i + 1] > 0.1).astype(float),
                             lambda x, n, name, i=i: [(rasp.threshold(_component(x, i, name), 0.1)
                                                       .named(f"{name}_has{i}"), 1)]))
    for t in FORALL_THRESHOLDS:
        out.append(Primitive(f"forall({t})", _applied("threshold", t=t),
                             lambda x, n, name, t=t: [(rasp.threshold(x, t).named(f"{name}_all"), n)]))
    for label, a, b, size in (("01balance", 1, 0, 6), ("ABbalance", 3, 2, 8)):
        if n == size:
            out += [_balance(label, a, b, p) for p in BALANCE_POWERS]
    if n <= MAX_ENTRY_PRIMITIVES:
        out += [_diff(i, j) for i in range(n) for j in range(n) if i != j]
    return out


def _applied(name: str, **params) -> Callable[[np.ndarray], np.ndarray]:
    """The features of a primitive that is one of the language's nonlinearities: its own vectorized code."""
    from bench.program.nonlin import NONLINEARITIES

    return lambda x: NONLINEARITIES.find(name).vectorized(x, params)


def fit(columns: list[np.ndarray], out: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, float]:
    """``out ~ bias + sum_k columns_k @ C_k`` by least squares: the tables C_k, the bias, and the fraction
    of variance unexplained."""
    X = np.concatenate(columns + [np.ones((len(out), 1))], 1)
    solution = np.linalg.pinv(X) @ out
    fvu = float(((X @ solution - out) ** 2).mean() / (out.var(0).mean() + 1e-12))
    edges = np.cumsum([0] + [c.shape[1] for c in columns])
    return [solution[a:b] for a, b in zip(edges[:-1], edges[1:])], solution[-1], fvu


class Input(NamedTuple):
    var: int
    name: str
    is_cat: bool
    values: np.ndarray  # (positions, entries): one-hot for a cat input


def candidates(inputs: list[Input], out: np.ndarray, max_fvu: float, per_input: int = 3,
               deadline: float | None = None) -> list[tuple[str, Split, float]]:
    """Split replacements of one MLP, best fit first: (label, Split, fvu) with fvu below ``max_fvu``.

    Each distribution input gets a primitive: its ``per_input`` best, each ranked with the other
    inputs as they are (no_op), then every combination of those is fitted jointly. Past
    ``deadline`` (a :func:`.clock.cpu_seconds` value) no further fit starts: the fits made so far
    are returned (none while the inputs' primitives are still being ranked).
    """
    def late() -> bool:
        return deadline is not None and cpu_seconds() > deadline

    vecs = [k for k, x in enumerate(inputs) if not x.is_cat]
    options: dict[int, list[Primitive]] = {}
    for k in vecs:
        ranked = []
        for prim in library(inputs[k].values.shape[1]):
            if late():
                return []
            columns = [prim.features(x.values) if n == k else x.values for n, x in enumerate(inputs)]
            ranked.append((fit(columns, out)[2], prim.label, prim))
        options[k] = [prim for _, _, prim in sorted(ranked, key=lambda r: r[:2])[:per_input]]
    trials = []
    for choice in itertools.product(*[options[k] for k in vecs]):
        if late():
            break
        chosen = dict(zip(vecs, choice))
        columns = [chosen[n].features(x.values) if n in chosen else x.values for n, x in enumerate(inputs)]
        tables, bias, fvu = fit(columns, out)
        if fvu < max_fvu:
            parts = tuple(SplitPart(x.var, chosen[n].label if n in chosen else None, table)
                          for n, (x, table) in enumerate(zip(inputs, tables)))
            label = " + ".join(f"{chosen[n].label}({x.name})" if n in chosen else f"table({x.name})"
                               for n, x in enumerate(inputs))
            trials.append((f"split: {label}", Split(parts, bias), fvu))
    return sorted(trials, key=lambda t: t[2])


def primitive_nodes(label: str, x: rasp.Node, n: int, name: str) -> list[tuple[rasp.Node, int]]:
    """The program variables of library entry ``label`` for input ``x`` over ``n`` entries, with their
    numbers of feature columns."""
    return next(p for p in library(n) if p.label == label).nodes(x, n, name)


def readout_terms(split: Split, source, prefix: str) -> list[tuple[rasp.Node, np.ndarray]]:
    """The readout terms of a split: per part, its variables (the input itself, or the primitive's
    variables named ``{prefix}_{k}...``) with their rows of the part's table (a vector for a num
    variable). ``source(var)`` gives the input variable's node and its number of entries."""
    terms = []
    for k, part in enumerate(split.parts):
        x, n = source(part.src)
        nodes = [(x, n)] if part.primitive is None else primitive_nodes(part.primitive, x, n, f"{prefix}_{k}")
        row = 0
        for node, width in nodes:
            rows = part.table[row:row + width]
            terms.append((node, rows[0] if width == 1 and node is not x else rows))
            row += width
    return terms
