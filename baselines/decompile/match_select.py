"""Primitive matching for attention and unembedding terms (docs/decompile.md §4.2, greedy search).

Interactions are visited in order (layer, head, then the unembedding): every
(q-path, k-path) term, every query-bias term, every logit table and the vocab
bias. For each, the library's patterns are tried in order, starting with
``uniform`` (which deletes the term); a pattern's table is 10^4 * P (scaled by
1/sqrt(d_h) inside attention, unscaled for logits). The first pattern whose
program keeps match accuracy >= 0.96 * acc0 is accepted, and accepted
replacements accumulate; the whole greedy result is kept only if its final
accuracy is >= 0.95 * acc0. Accuracy is measured by running the program in
the benchmark's own interpreter on a fixed evaluation set.

Patterns that name special tokens are allowed only on a side with token
basis (the token variable, or an aggregate of it). Labels follow the
matrices, not the published names (section 9, point 2).

Not implemented: the special-row override, and the rounding phase of
``greedy_search_then_round`` (unmatched tables stay exact).

A head left with one matched term whose pattern is a hard relation (:data:`POSITION_SELECTS`,
``k==BOS``) can be rendered as ``select`` with that relation (:func:`hard_selects`,
``Config.hard_selects``): the same weights, up to parts in 1e270.
"""

from __future__ import annotations

import math

import numpy as np
import torch

import bench.program as rasp

from .clock import cpu_seconds
from .data import DataBatch, sequence_match
from .render import build_program

BIG = 1e4


def _qk_library(nq: int, nk: int, q_tokens: bool, k_tokens: bool, specials: dict) -> list[tuple[str, np.ndarray | None]]:
    a = np.arange(nq)[:, None]
    b = np.arange(nk)[None, :]
    out: list[tuple[str, np.ndarray | None]] = [("uniform", None)]
    if k_tokens:
        out += [("k==BOS", np.broadcast_to(b == specials["bos"], (nq, nk))),
                ("k==SEP", np.broadcast_to(b == specials["sep"], (nq, nk)))]
    if nq == nk and q_tokens == k_tokens:
        out += [("k==q", a == b), ("k==q-1", b == a - 1), ("k==q-3", b == a - 3),
                ("(q-k) even", ((a - b) % 2 == 0) & (a >= b)), ("(q-k) % 3 == 0", ((a - b) % 3 == 0) & (a >= b))]
    out += [("ramp up in k", np.broadcast_to((b + 1) / nk, (nq, nk))),
            ("ramp down in k", np.broadcast_to((nk - b) / nk, (nq, nk)))]
    return [(name, None if p is None else BIG * np.asarray(p, dtype=np.float64)) for name, p in out]


def _qb_library(nk: int, k_tokens: bool, specials: dict) -> list[tuple[str, np.ndarray | None]]:
    b = np.arange(nk)
    out: list[tuple[str, np.ndarray | None]] = [("uniform", None)]
    if k_tokens:
        out += [(f"only {name}", b == specials[name]) for name in ("bos", "eos", "sep")]
    out += [("ramp up in k", (b + 1) / nk), ("ramp down in k", (nk - b) / nk)]
    return [(name, None if p is None else BIG * np.asarray(p, dtype=np.float64)) for name, p in out]


def _lm_library(n_in: int, V: int, in_tokens: bool, eos: int) -> list[tuple[str, np.ndarray | None]]:
    out: list[tuple[str, np.ndarray | None]] = [("uniform", None)]
    to_eos = np.zeros((n_in, V))
    to_eos[:, eos] = 1
    out.append(("to_eos", BIG * to_eos))
    if in_tokens:
        out.append(("inp==out", BIG * np.eye(V)))
    return out


#: Position patterns whose soft select is a hard one: the pattern's keys get 10^4 / sqrt(d_h) more than
#: the others, so the softmax is uniform over them (the rest get below 1e-270 of their weight), and
#: where no key matches (early queries) it is uniform over every key, which the expression also selects.
POSITION_SELECTS = {
    "k==q": "k == q",
    "k==q-1": "k == q - 1 or q == 0",
    "k==q-3": "k == q - 3 or q < 3",
    "(q-k) even": "(q - k) % 2 == 0",
    "(q-k) % 3 == 0": "(q - k) % 3 == 0",
}


def hard_selects(report: dict, specials: dict) -> dict:
    """The matched score terms that are hard selects, by term key: ``(expression, on)`` where ``on`` is
    "positions" (both sides the positions) or "token keys" (``k==BOS``: BOS is the token at position 0
    of every sequence, so it always matches). Read from ``greedy_match``'s report (nothing when its
    result was not kept); the renderer uses one where it is a head's only term."""
    if not report.get("kept"):
        return {}
    out = {}
    for label, name in report.get("matched", {}).items():
        kind, *rest = label.split("/")
        if kind != "qk":
            continue
        key = (kind, *map(int, rest))
        if name in POSITION_SELECTS:
            out[key] = (POSITION_SELECTS[name], "positions")
        elif name == "k==BOS":
            out[key] = (f"k == {specials['bos']}", "token keys")
    return out


def program_accuracy(program: rasp.Program, data: DataBatch, size: int = 128) -> float:
    """Match accuracy of a program (run by the benchmark's interpreter) against the model's logits."""
    from bench.program.interpret_fast import run_program_with_outputs

    hits = 0
    for chunk in data.chunks(size):
        # the output alone, each value freed after its last use (evaluate keeps every value and selector)
        logits = torch.from_numpy(run_program_with_outputs(program, chunk.ids.numpy())[1])
        hits += int(sequence_match(logits, chunk).sum())
    return hits / max(len(data), 1)


def greedy_match(W, g, C, kind: str, data: DataBatch, specials: dict, deadline: float,
                 accept: float = 0.96, keep: float = 0.95, converted: dict | None = None) -> tuple[dict, dict]:
    """Greedy primitive replacement (after MLP conversion ``converted``); returns (overrides, report)."""
    
    from .match_mlp import basis_name

    converted = converted or {}

    def build(overrides):
        return build_program(W, g, C, kind, overrides=overrides, converted=converted)

    base = build({})
    acc0 = program_accuracy(base, data)
    overrides: dict = {}
    names: dict = {}
    sizes = {"tokens": W.vocab_size, "positions": W.n_positions, "resid": W.d}
    interactions = []
    for h in g.heads:
        if h.terms is None or len(h.terms) + len(h.qbias) > 64:
            continue
        for p, r in h.terms:
            bp, br = basis_name(g, p, converted), basis_name(g, r, converted)
            lib = _qk_library(sizes[bp], sizes[br], bp == "tokens", br == "tokens", specials)
            interactions.append((("qk", h.layer, h.head, p, r), [(n, None if t is None else t / math.sqrt(W.d_head))
                                                                  for n, t in lib]))
        for r in h.qbias:
            br = basis_name(g, r, converted)
            lib = _qb_library(sizes[br], br == "tokens", specials)
            interactions.append((("qb", h.layer, h.head, r), [(n, None if t is None else t / math.sqrt(W.d_head))
                                                              for n, t in lib]))
    for p in g.lm:
        bp = basis_name(g, p, converted)
        interactions.append((("lm", p), _lm_library(sizes[bp], W.vocab_size, bp == "tokens", specials["eos"])))
    bias_lib = [("uniform", None), ("to_eos", BIG * (np.arange(W.vocab_size) == specials["eos"]).astype(float))]
    interactions.append((("lm_bias",), bias_lib))
    tried = 0
    for key, library in interactions:
        for name, table in library:
            if cpu_seconds() > deadline:
                break
            trial = {**overrides, key: table}
            tried += 1
            acc = program_accuracy(build(trial), data)
            if acc >= accept * acc0:
                overrides, names[key] = trial, name
                break
    final = program_accuracy(build(overrides), data) if overrides else acc0
    report = {"acc0": acc0, "final": final, "tried": tried,
              "matched": {"/".join(map(str, k)): v for k, v in names.items()}}
    if final < keep * acc0:
        report["kept"] = False
        return {}, report
    report["kept"] = True
    return overrides, report
