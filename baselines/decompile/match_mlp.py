"""Primitive matching for (non-split) MLPs (docs/decompile.md §4.1, the non-split library).

The pipeline keeps MLPs un-split (``split_mlps=False``), so each MLP reads the
sum of its input paths and the library is the non-split one:

- ``erase``: the MLP output is a constant (its mean);
- ``keep_one(n)``: the MLP output is a linear map of one traceable input path
  X_n (a distribution over its basis: tokens, positions, or an aggregate of
  them), ``out ~ X_n C`` fitted by least squares (``C = pinv(X_n) out``; the
  rows of X_n sum to 1, so C also absorbs a constant);
- ``split`` (``Config.mlp_library`` entry): the MLP as a sum of one readout per input, a table
  for a cat input and a primitive of the published split-MLP library for an aggregated one
  (:mod:`split_mlp`), tried where every input is traceable;
- ``combine`` (the Cartesian product of the inputs) is not implemented.

A candidate must have FVU < 0.6 (mean squared error over the mean
per-dimension variance; ``erase`` has FVU 1 by definition and skips this
gate), is then spliced into the program (the MLP variable becomes an alias of
X_n with embedding C, used *everywhere* the MLP's output is read, unlike the
published code, section 9 point 4) and its match accuracy measured with the
benchmark's interpreter; the best candidate is accepted only if its accuracy
is >= 0.9. MLPs are visited in layer order and accepted conversions
accumulate (later MLPs may then read a converted, traceable input).

Data: every real position of the matching set (the published code keeps only
positions where the MLP output has loss gradient; all positions are a
superset, so the fit is stricter).
"""

from __future__ import annotations


from typing import NamedTuple

import numpy as np

import bench.program as rasp

from .clock import cpu_seconds
from . import split_mlp
from .match_select import program_accuracy
from .render import build_program, primitive_name


def _values(program, data, names, sizes: dict) -> dict[str, np.ndarray]:
    """Values of the named nodes at real positions (cat values one-hot), stacked over the data's chunks."""
    out: dict[str, list] = {n: [] for n in names}
    for chunk in data.chunks(32):  # evaluate keeps every value: (32, T, 303) per vec over positions
        values = rasp.evaluate(program, chunk.ids.numpy())
        real = np.arange(chunk.ids.shape[1])[None, :] < chunk.lengths.numpy()[:, None]
        for n in names:
            v = values[n]
            if v.ndim == 2:  # cat: one-hot
                v = (v[..., None] == np.arange(sizes[n])).astype(np.float64)
            out[n].append(v[real])
    return {n: np.concatenate(v) for n, v in out.items()}


class Conversion(NamedTuple):
    """An MLP replaced by a primitive: its output is ``primitive(X_src) @ table`` (``primitive`` None:
    ``X_src`` itself, i.e. ``keep_one``), ``table`` (|B_src| x d) fitted by least squares."""

    src: int
    table: np.ndarray
    primitive: tuple | None = None  # (nonlinearity name, its parameters), e.g. ("sharpen", {"power": 3})


#: The primitives of the split-MLP library (docs/decompile.md §4.1) that the language has, applied to one
#: traceable input of an un-split MLP (``Config.mlp_library``): name -> (nonlinearity, parameters).
INPUT_PRIMITIVES = {
    "harden": ("harden", {}),
    "sharpen2": ("sharpen", {"power": 2}),
    "sharpen3": ("sharpen", {"power": 3}),
    "sharpen5": ("sharpen", {"power": 5}),
}


def _fits(X: np.ndarray, out: np.ndarray, var_per_dim: float) -> tuple[np.ndarray, float]:
    """``out ~ X @ table`` by least squares: the table and the fraction of variance unexplained."""
    table = np.linalg.pinv(X) @ out
    return table, float(((X @ table - out) ** 2).mean() / var_per_dim)


#: split candidates (the best fits) whose match accuracy is measured, per MLP
SPLIT_TRIALS = 4


def _candidates(g, vals: dict, labels: dict, candidates: list, out: np.ndarray, d: int, library, max_fvu: float,
                all_traceable: bool = False, deadline: float | None = None):
    """Trials (label, Conversion or Split, fvu) for one MLP: erase, keep_one of each input, the input
    primitives of ``library`` on each aggregated (distribution-valued) input, then (``"split"`` in
    ``library``, every input traceable) the best split replacements: those that fit below ``max_fvu``."""
    from bench.program.nonlin import NONLINEARITIES

    var_per_dim = out.var(0).mean() + 1e-12
    first = candidates[0]
    trials = [("erase", Conversion(first, np.broadcast_to(out.mean(0), (vals[labels[first]].shape[1], d)).copy()), 1.0)]
    for u in candidates:
        table, fvu = _fits(vals[labels[u]], out, var_per_dim)
        if "keep_one" in library and fvu < max_fvu:
            trials.append((f"keep_one({g.vars[u].name})", Conversion(u, table), fvu))
    # tokens and indices (or an MLP replaced by keep_one of one: the same values) are cat: the primitives
    # would change nothing on their one-hot values, and the language applies them to vec values only
    is_cat = {u: labels[u] in ("tokens", "indices") for u in candidates}
    for u in [u for u in candidates if not is_cat[u]]:
        for name in [n for n in library if n in INPUT_PRIMITIVES]:
            fn, params = INPUT_PRIMITIVES[name]
            Y = NONLINEARITIES.find(fn).vectorized(vals[labels[u]], params)
            table, fvu = _fits(Y, out, var_per_dim)
            if fvu < max_fvu:
                trials.append((f"{name}({g.vars[u].name})", Conversion(u, table, (fn, params)), fvu))
    if "split" in library and all_traceable and len(candidates) > 1:  # one input: keep_one and the primitives
        inputs = [split_mlp.Input(u, labels[u], is_cat[u], vals[labels[u]])
                  for u in candidates]
        trials += split_mlp.candidates(inputs, out, max_fvu, deadline=deadline)[:SPLIT_TRIALS]
    return trials


def match_mlps(W, g, C, kind: str, data, deadline: float, accept: float = 0.9, max_fvu: float = 0.6,
               library=("erase", "keep_one")) -> tuple[dict, dict]:
    """Convert MLPs to primitives of ``library`` where possible (a fit is tried below ``max_fvu``, the best
    accepted at match ``accept``); returns (converted: MLP var -> :class:`Conversion`, report)."""
    converted: dict = {}
    report: dict = {}
    traceable = {v for v, var in enumerate(g.vars) if var.kind in ("tok", "pos")}
    for v, var in enumerate(g.vars):
        if var.kind == "attn" and g.vars[var.value].kind in ("tok", "pos"):
            traceable.add(v)
    for spec in g.mlps:
        if cpu_seconds() > deadline:
            break
        name = f"mlp{spec.layer}"
        candidates = [u for u in spec.inputs if u in traceable]
        if not candidates:
            report[name] = "no traceable input"
            continue
        program = build_program(W, g, C, kind, converted=converted)
        labels = {u: _label(g, u, converted) for u in candidates}
        sizes = {labels[u]: _basis_size(W, g, u, converted) for u in candidates}
        vals = _values(program, data, [name] + sorted(set(labels.values())), sizes)
        best, tried = None, []
        trials = _candidates(g, vals, labels, candidates, vals[name], W.d, library, max_fvu,
                             all_traceable=len(candidates) == len(spec.inputs), deadline=deadline)
        for label, conversion, fvu in trials:
            if cpu_seconds() > deadline:
                break
            acc = program_accuracy(build_program(W, g, C, kind, converted={**converted, spec.out: conversion}), data)
            tried.append([label, round(acc, 4), round(fvu, 4)])
            if best is None or acc > best[0]:
                best = (acc, label, conversion, fvu)
        if best is not None and best[0] >= accept:
            converted[spec.out] = best[2]
            if not isinstance(best[2], split_mlp.Split):  # a split's output is over the residual stream
                traceable.add(spec.out)
                traceable |= {v for v, var in enumerate(g.vars) if var.kind == "attn" and var.value == spec.out}
            report[name] = {"primitive": best[1], "acc": round(best[0], 4), "fvu": round(best[3], 4)}
        else:
            report[name] = {"kept_neural": True, "best": None if best is None else [best[1], round(best[0], 4)]}
        report[name]["tried"] = tried  # [label, match accuracy, fvu] per candidate, in the order tried
    return converted, report


def _label(g, u: int, converted: dict) -> str:
    var = g.vars[u]
    if var.kind == "tok":
        return "tokens"
    if var.kind == "pos":
        return "indices"
    if _is_alias(var, u, converted):
        return _label(g, converted[u].src, converted) if converted[u].primitive is None else primitive_name(u, g)
    return var.name


def _is_alias(var, u: int, converted: dict) -> bool:
    """An MLP replaced by one input (keep_one, erase, or a primitive of it): it reads that input's basis.
    A split's output is over the residual stream, like the MLP's own."""
    return var.kind == "mlp" and u in converted and not isinstance(converted[u], split_mlp.Split)



def basis_name(g, u: int, converted: dict) -> str:
    """The basis of variable u once the converted MLPs are aliases of their inputs."""
    var = g.vars[u]
    while var.kind == "attn" or _is_alias(var, u, converted):
        u = var.value if var.kind == "attn" else converted[u][0]
        var = g.vars[u]
    return {"tok": "tokens", "pos": "positions"}.get(var.kind, "resid")


def _basis_size(W, g, u: int, converted: dict) -> int:
    var = g.vars[u]
    while True:
        if var.kind == "attn":
            u = var.value
        elif _is_alias(var, u, converted):
            u = converted[u][0]
        else:
            break
        var = g.vars[u]
    return {"tok": W.vocab_size, "pos": W.n_positions}.get(var.kind, W.d)
