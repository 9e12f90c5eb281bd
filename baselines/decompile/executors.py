"""Executors of the decompiled graphs, and the exact conversions between stages (docs/decompile.md §3.1-§3.3).

Every executor reads its sources from a dictionary it fills itself, never from
the model's residual stream:

- :func:`forward_stage1`: edge-level graph; each target's input is
  ``sum_s [m x_s + (1 - m) a_s] + o_t``, then the real or the linearised
  LayerNorm, then the consumer's original weights (with their biases).
- both output ``W.pos0``'s logits at position 0 when it is set (token-set models);
- :func:`forward_paths`: path-level graph with linearised LayerNorms. ``R[v]``
  is the residual contribution ``X_v E_v`` (B, T, d) of variable ``v``; an
  aggregate is ``A (R_u Lambda_v W_V) W_O`` (exactly linear in its value path,
  no bias); a head's scores are ``(sum q-paths + c_q) . (sum k-paths)`` in
  stage-2 form or a sum of (q-path, k-path) and query-bias terms in stage-3
  form. Key-side constants are dropped (softmax-invariant); query-side
  constants keep ``beta`` and ``b_Q`` exactly.

Masks are ``(B, n_edges)`` floats (one sample per row) or None (all on).

The conversions (:func:`paths_from_stage1`, :func:`fold_stage2`) move every
constant where the next stage expects it, so that the converted graph with all
masks on computes exactly the previous stage's hard-masked graph (tested).
"""

from __future__ import annotations

import math

import torch

from .consts import Consts
from .graph import PathGraph, Stage1Graph, apply_stage2_mask, path_graph_from_stage1, to_terms
from .linear_ln import linear_ln, ln_matrix, real_ln
from .weights import Weights, apply_pos0, mlp


def _causal_softmax(scores: torch.Tensor) -> torch.Tensor:
    T = scores.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return scores.masked_fill(~causal, float("-inf")).softmax(-1)


def _ablate(m: torch.Tensor, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``m x + (1 - m) a``; ``a`` gets gradient only from rows with m < 0.001 (3.1)."""
    a_eff = torch.where(m < 1e-3, a, a.detach())
    return m * x + (1 - m) * a_eff


# ----- stage 1 -----------------------------------------------------------------------------


def init_stage1(W: Weights, g1: Stage1Graph, ln_var: dict[str, float]) -> Consts:
    """o_t = the sum of b_O of the attention layers feeding t, a_s = 0, log sigma^2 from the model."""
    C = Consts()
    zero = torch.zeros(W.d, dtype=W.wte.dtype)
    for l in range(W.n_layers):
        for h in range(W.n_heads):
            for kind in ("q", "k", "v"):
                C.log_var[(kind, l, h)] = torch.tensor(math.log(ln_var[f"blocks.{l}.ln1"]), dtype=W.wte.dtype)
                C.o[(kind, l, h)] = sum((W.layers[j].bO for j in range(l)), zero.clone())
        C.log_var[("mlp", l)] = torch.tensor(math.log(ln_var[f"blocks.{l}.ln2"]), dtype=W.wte.dtype)
        C.o[("mlp", l)] = sum((W.layers[j].bO for j in range(l + 1)), zero.clone())
    C.log_var[("lm",)] = torch.tensor(math.log(ln_var["ln_final"]), dtype=W.wte.dtype)
    C.o[("lm",)] = sum((L.bO for L in W.layers), zero.clone())
    for s, _ in g1.edges:
        C.a.setdefault(s, zero.clone())
    return C


def forward_stage1(W: Weights, g1: Stage1Graph, C: Consts, ids: torch.Tensor, pos: torch.Tensor,
                   mask: torch.Tensor | None = None, linear: bool = True, return_sources: bool = False):
    """Logits (B, T, V) of the stage-1 graph; with ``return_sources`` also the source dictionary."""
    src = {("wte",): W.wte[ids], ("wpe",): W.wpe[pos]}
    into: dict = {}
    for e, (s, t) in enumerate(g1.edges):
        into.setdefault(t, []).append(e)

    def target_input(t):
        x = C.o[t].expand(ids.shape + (W.d,))
        for e in into.get(t, []):
            s = g1.edges[e][0]
            x = x + src[s] if mask is None else x + _ablate(mask[:, e, None, None], src[s], C.a[s])
        return x

    def norm(x, g, b, key):
        return linear_ln(x, g, b, C.log_var[key], W.eps) if linear else real_ln(x, g, b, W.eps)

    for l, L in enumerate(W.layers):
        for h in range(W.n_heads):
            q = norm(target_input(("q", l, h)), L.ln1_g, L.ln1_b, ("q", l, h)) @ L.WQ[h] + L.bQ[h]
            k = norm(target_input(("k", l, h)), L.ln1_g, L.ln1_b, ("k", l, h)) @ L.WK[h] + L.bK[h]
            v = norm(target_input(("v", l, h)), L.ln1_g, L.ln1_b, ("v", l, h)) @ L.WV[h] + L.bV[h]
            A = _causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(W.d_head))
            src[("attn", l, h)] = (A @ v) @ L.WO[h]
        src[("mlp", l)] = mlp(L, norm(target_input(("mlp", l)), L.ln2_g, L.ln2_b, ("mlp", l)))
    logits = apply_pos0(W, norm(target_input(("lm",)), W.lnf_g, W.lnf_b, ("lm",)) @ W.wte.T, pos)
    return (logits, src) if return_sources else logits


# ----- the path graph (stages 2 and 3) ------------------------------------------------------------


def query_constant(W: Weights, C: Consts, layer: int, head: int, pre: torch.Tensor) -> torch.Tensor:
    """``(pre Lambda_q + beta) W_Q + b_Q``: every query-side constant of a head, given its pre-LN constant."""
    L = W.layers[layer]
    lam = ln_matrix(L.ln1_g, C.log_var[("q", layer, head)], W.eps)
    return (pre @ lam + L.ln1_b) @ L.WQ[head] + L.bQ[head]


def forward_paths(W: Weights, g: PathGraph, C: Consts, ids: torch.Tensor, pos: torch.Tensor,
                  mask: torch.Tensor | None = None, return_vars: bool = False):
    """Logits (B, T, V) of a path graph (stage-2 or stage-3 form) with linearised LayerNorms."""
    stage3 = g.is_stage3
    edges = g.stage3_edges() if stage3 else g.stage2_edges()
    index = {e: i for i, e in enumerate(edges)}
    shape = ids.shape + (W.d,)
    sqrt_dh = math.sqrt(W.d_head)

    def m(edge):
        return None if mask is None else mask[:, index[edge], None, None]

    def masked_sum(pre: torch.Tensor, items):
        """``pre + sum m R + (1 - m) a`` over (edge, var) items (stage-2 masks) or plain sums (stage 3)."""
        x = pre.expand(shape)
        for edge, v in items:
            mm = None if stage3 else m(edge)
            x = x + R[v] if mm is None else x + _ablate(mm, R[v], C.a[v])
        return x

    R: dict[int, torch.Tensor] = {}
    for v, var in enumerate(g.vars):
        if var.kind == "tok":
            R[v] = W.wte[ids]
        elif var.kind == "pos":
            R[v] = W.wpe[pos]
    layers = sorted({h.layer for h in g.heads} | {mm.layer for mm in g.mlps})
    for layer in layers:
        L = W.layers[layer]
        for i, h in enumerate(g.heads):
            if h.layer != layer:
                continue
            lam_q = ln_matrix(L.ln1_g, C.log_var[("q", layer, h.head)], W.eps) @ L.WQ[h.head]
            lam_k = ln_matrix(L.ln1_g, C.log_var[("k", layer, h.head)], W.eps) @ L.WK[h.head]
            K = {r: R[r] @ lam_k for r in h.k}
            if not stage3:
                scores = _stage2_scores(W, C, layer, i, h, R, K, lam_q, shape, m)
            else:
                scores = _stage3_scores(W, C, layer, i, h, R, K, lam_q, shape, m)
            if isinstance(scores, float):
                scores = torch.zeros(ids.shape + (ids.shape[1],), dtype=W.wte.dtype)
            A = _causal_softmax(scores / sqrt_dh)
            for o in h.out:
                u = g.vars[o].value
                lam_v = ln_matrix(L.ln1_g, C.log_var[("v", o)], W.eps)
                out = (A @ (R[u] @ lam_v @ L.WV[h.head])) @ L.WO[h.head]
                mm = None if stage3 else m(("v", i, o))
                R[o] = out if mm is None else _ablate(mm, out, C.a[o])
        for j, spec in enumerate(g.mlps):
            if spec.layer == layer:
                x = masked_sum(C.o[("mlp", layer)], [(("mlp", j, u), u) for u in spec.inputs])
                R[spec.out] = mlp(L, linear_ln(x, L.ln2_g, L.ln2_b, C.log_var[("mlp", layer)], W.eps))
    x = masked_sum(C.o[("lm",)], [(("lm", p), p) for p in g.lm])
    logits = apply_pos0(W, linear_ln(x, W.lnf_g, W.lnf_b, C.log_var[("lm",)], W.eps) @ W.wte.T, pos)
    return (logits, R) if return_vars else logits


def _stage2_scores(W: Weights, C: Consts, layer: int, i: int, h, R: dict, K: dict, lam_q: torch.Tensor, shape, m):
    """A stage-2 head's attention scores: masked query and key sums (masked-out query paths add their mean)."""
    pre = C.o[("q", layer, h.head)].expand(shape)
    q = 0.0
    for p in h.q:
        mm = m(("q", i, p))
        if mm is None:
            q = q + R[p]
        else:
            q = q + mm * R[p]
            pre = pre + (1 - mm) * torch.where(mm < 1e-3, C.a[p], C.a[p].detach())
    q = q @ lam_q + query_constant(W, C, layer, h.head, pre)
    k = 0.0
    for r in h.k:
        mm = m(("k", i, r))
        k = k + (K[r] if mm is None else mm * K[r])
    return q @ k.transpose(-1, -2)


def _stage3_scores(W: Weights, C: Consts, layer: int, i: int, h, R: dict, K: dict, lam_q: torch.Tensor, shape, m):
    """A stage-3 head's attention scores: a sum over its (query path, key path) terms and query biases.

    A plain float 0.0 when no term is left (the caller turns it into zeros).
    """
    Q = {p: R[p] @ lam_q for p in h.q}
    scores = 0.0
    for r in h.k:
        qr = 0.0
        for p, r2 in h.terms:
            if r2 == r:
                mm = m(("qk", i, p, r))
                qr = qr + (Q[p] if mm is None else mm * Q[p])
        if r in h.qbias:
            mm = m(("qb", i, r))
            cr = C.c[(layer, h.head, r)]
            qr = qr + (cr if mm is None else mm * cr)
        if not isinstance(qr, float):
            scores = scores + qr.expand(shape[:-1] + (W.d_head,)) @ K[r].transpose(-1, -2)
    return scores


# ----- exact conversions between stages ------------------------------------------------------------


def paths_from_stage1(W: Weights, g1: Stage1Graph, C1: Consts, keep: torch.Tensor) -> tuple[PathGraph, Consts]:
    """The path graph of a hard stage-1 mask (after dangling removal) with constants that make it exact.

    o_t absorbs the ablation constants of t's cut edges and the value-bias
    constants of the live heads feeding t; value paths carry no constant.
    """
    g = path_graph_from_stage1(g1, keep)
    C1 = C1.detached()
    keep_list = keep.tolist()
    live_heads = {(h.layer, h.head) for h in g.heads}
    head_const: dict = {}

    def new_o(target):
        """o_t plus the constants of t's cut edges and of the live heads feeding t."""
        o = C1.o[target].clone()
        for e in g1.edges_into(target):
            s = g1.edges[e][0]
            if not keep_list[e]:
                o = o + C1.a[s]
            elif s[0] == "attn" and (s[1], s[2]) in live_heads:
                o = o + head_const[(s[1], s[2])]
        return o

    for l, L in enumerate(W.layers):  # in layer order: a head's constant depends on earlier heads' constants
        for h in range(W.n_heads):
            lam = ln_matrix(L.ln1_g, C1.log_var[("v", l, h)], W.eps)
            head_const[(l, h)] = ((new_o(("v", l, h)) @ lam + L.ln1_b) @ L.WV[h] + L.bV[h]) @ L.WO[h]

    C = Consts()
    for h in g.heads:
        for kind in ("q", "k"):
            C.log_var[(kind, h.layer, h.head)] = C1.log_var[(kind, h.layer, h.head)].clone()
        C.o[("q", h.layer, h.head)] = new_o(("q", h.layer, h.head))
        for o in h.out:
            C.log_var[("v", o)] = C1.log_var[("v", h.layer, h.head)].clone()
    for spec in g.mlps:
        C.log_var[("mlp", spec.layer)] = C1.log_var[("mlp", spec.layer)].clone()
        C.o[("mlp", spec.layer)] = new_o(("mlp", spec.layer))
    C.log_var[("lm",)] = C1.log_var[("lm",)].clone()
    C.o[("lm",)] = new_o(("lm",))
    for v in range(len(g.vars)):
        C.a[v] = torch.zeros(W.d, dtype=W.wte.dtype)
    return g, C


def fold_stage2(W: Weights, g: PathGraph, C: Consts, keep: list[bool]) -> tuple[PathGraph, Consts]:
    """Apply a hard stage-2 mask: cut edges' (and dead variables') ablation constants move into o_t."""
    C = C.detached()
    edges = g.stage2_edges()
    on = {e for e, k in zip(edges, keep) if k}
    dead = {o for i, h in enumerate(g.heads) for o in h.out if ("v", i, o) not in on}
    g2 = apply_stage2_mask(g, keep)
    alive = {o for h in g2.heads for o in h.out} | {m.out for m in g2.mlps} | \
            {v for v, var in enumerate(g.vars) if var.kind in ("tok", "pos")}
    dead |= {v for v in range(len(g.vars)) if v not in alive}

    def extra(items):
        total = torch.zeros(W.d, dtype=W.wte.dtype)
        for edge, v in items:
            if edge not in on or v in dead:
                total = total + C.a[v]
        return total

    for i, h in enumerate(g.heads):
        C.o[("q", h.layer, h.head)] = C.o[("q", h.layer, h.head)] + extra([(("q", i, p), p) for p in h.q])
    for j, spec in enumerate(g.mlps):
        C.o[("mlp", spec.layer)] = C.o[("mlp", spec.layer)] + extra([(("mlp", j, u), u) for u in spec.inputs])
    C.o[("lm",)] = C.o[("lm",)] + extra([(("lm", p), p) for p in g.lm])
    return g2, C


def stage3_from_stage2(W: Weights, g2: PathGraph, C: Consts) -> tuple[PathGraph, Consts]:
    """Stage-3 form with every term on; c starts at the head's exact query constant.

    See docs/decompile.md §3.3 and §9.9.
    """
    g3 = to_terms(g2)
    C = C.detached()
    for h in g3.heads:
        cq = query_constant(W, C, h.layer, h.head, C.o[("q", h.layer, h.head)])
        for r in h.qbias:
            C.c[(h.layer, h.head, r)] = cq.clone()
    return g3, C
