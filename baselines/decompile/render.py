"""Rendering a path graph as a program of the benchmark's language (docs/decompile.md §2, §5).

Every variable becomes a program variable over its basis: ``tokens`` and
``indices`` (one-hot cat values), an aggregate ``aggregate(soft_select(...),
X_u)`` (a distribution over u's basis; ``numerical=True`` for cat values), an
MLP output ``mlp(readout(...), gelu_new)`` over the ``resid`` basis (the
residual-stream coordinates, embedding I). Each variable v has an embedding
E_v (|B_v| x d): W_te, W_pe, ``E_u Lambda_v W_V W_O`` for an aggregate, I for an MLP.

A head in stage-3 form is ``soft_select`` of ``score(X_p, X_r, M_pr)`` terms
and ``key_score(X_r, w_r)`` query-bias terms, with ``M_pr = (E_p Lambda_q
W_Q)(E_r Lambda_k W_K)^T / sqrt(d_h)`` and ``w_r = (E_r Lambda_k W_K) c_r /
sqrt(d_h)``. A head in stage-2 form (or one with more terms than the language
allows) is one bilinear score between its summed query and key projections,
each a ``readout`` into a ``dhead`` basis. The logits are ``readout(X_p, U_p)``
with ``U_p = E_p Lambda_f W_te^T`` plus the bias ``u_0``.

The program computes exactly what :func:`executors.forward_paths` computes
(tested to 1e-4 through the harness's own interpreter).
"""

from __future__ import annotations

import math

import numpy as np
import torch

import bench.program as rasp
from bench.program.errors import MAX_TERMS

from .consts import Consts
from .graph import PathGraph, live_vars
from .linear_ln import ln_matrix
from .split_mlp import Split, readout_terms
from .weights import Weights


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().double().cpu().numpy().copy()


def linear_sum(terms: list, bias: np.ndarray, basis) -> rasp.Node:
    """``bias + sum x @ table`` as one readout, or a tree of readouts when there are more than MAX_TERMS terms.

    Terms that read the same variable (e.g. ``tokens`` and an MLP replaced by
    ``keep_one(wte)``, an alias of ``tokens``) are merged into one table.
    """
    merged: dict = {}
    for node, table in terms:
        merged[node] = merged[node] + table if node in merged else table
    terms = list(merged.items())
    if len(terms) <= MAX_TERMS:
        return rasp.readout(*terms, bias=bias, basis=basis)
    size = bias.shape[0]
    parts = [rasp.readout(*terms[i:i + MAX_TERMS], bias=np.zeros(size), basis=basis)
             for i in range(0, len(terms), MAX_TERMS)]
    return linear_sum([(p, np.eye(size)) for p in parts], bias, basis)


def primitive_name(u: int, g: PathGraph) -> str:
    """The program node name of a converted MLP's primitive (``mlp0_p``)."""
    return f"{g.vars[u].name}_p"


class Renderer:
    """Holds the embeddings E_v while it builds the program variable by variable."""

    def __init__(self, W: Weights, g: PathGraph, C: Consts, overrides: dict | None = None,
                 converted: dict | None = None, share_aggregates: bool = False, factor: bool = False,
                 hard: dict | None = None):
        self.W, self.g, self.C = W, g, C
        #: matched terms that are hard selects (match_select.hard_selects): a head whose only term is one
        #: becomes ``select`` with its relation instead of ``soft_select`` of its pattern table
        self.hard = hard or {}
        #: stage-3 heads: score terms grouped into factored (low-rank) scores where that is smaller (_factored_terms)
        self.factor = factor
        #: value paths that alias one node (an MLP replaced by keep_one) share one aggregate; off while
        #: matching, which reads every path's values by its variable name
        self.share_aggregates = share_aggregates
        #: MLPs replaced by a primitive (match_mlp.Conversion): out var -> (input var, C (|B_in| x d), primitive);
        #: the MLP variable becomes its input (or the primitive of its input) with embedding C
        self.converted = converted or {}
        self.cat: dict[int, bool] = {}
        #: replaced tables by term key (None deletes the term): ("qk", l, h, p, r), ("qb", l, h, r), ("lm", p), ("lm_bias",)
        self.overrides = overrides or {}
        self.node: dict[int, rasp.Node] = {}
        self.E: dict[int, torch.Tensor] = {}

    def is_cat(self, v: int) -> bool:
        return self.cat[v]

    def build(self, kind: str, name: str = "decompile") -> rasp.Program:
        W, g, C = self.W, self.g, self.C
        for v in live_vars(g):
            var = g.vars[v]
            if var.kind == "tok":
                self.node[v], self.E[v], self.cat[v] = rasp.tokens, W.wte, True
            elif var.kind == "pos":
                self.node[v], self.E[v], self.cat[v] = rasp.indices, W.wpe, True
        for layer in sorted({h.layer for h in g.heads} | {m.layer for m in g.mlps}):
            for h in g.heads:
                if h.layer == layer:
                    self._head(h)
            for spec in g.mlps:
                if spec.layer == layer:
                    self._mlp(spec)
        lam = ln_matrix(W.lnf_g, C.log_var[("lm",)], W.eps)
        terms = [(self.node[p], self._table(("lm", p), lambda p=p: _np(self.E[p] @ lam @ W.wte.T))) for p in g.lm]
        terms = [t for t in terms if t[1] is not None]
        bias = self._table(("lm_bias",), lambda: _np((C.o[("lm",)] @ lam + W.lnf_b) @ W.wte.T))
        bias = np.zeros(W.vocab_size) if bias is None else bias
        out = linear_sum(terms, bias, "tokens").named("logits")
        program = rasp.Program(out, vocab_size=W.vocab_size, kind=kind, n_positions=W.n_positions, name=name)
        if W.pos0 is None:
            return program
        return self._with_pos0(program, terms, bias, kind, name)

    def _with_pos0(self, program: rasp.Program, terms: list, bias: np.ndarray, kind: str, name: str) -> rasp.Program:
        """Position 0 reads out the model's own logits: the ``tokens`` row of BOS adds what the program lacks there.

        In every task BOS is the token at position 0 and nowhere else, and
        position 0 attends only to itself, so the program's logits there are
        one constant vector and a BOS row is exact. It costs nothing where the
        readout already has a ``tokens`` term (the rows are merged) and one
        ``vocab x vocab`` table otherwise (an ``indices`` row 0 would cost
        ``n_positions x vocab``).
        """
        W = self.W
        bos, target = W.pos0
        at0 = rasp.evaluate(program, np.array([[bos]]))["logits"][0, 0]
        fix = np.zeros((W.vocab_size, W.vocab_size))
        fix[bos] = _np(target) - at0
        out = linear_sum(terms + [(rasp.tokens, fix)], bias, "tokens").named("logits")  # merges a tokens term
        return rasp.Program(out, vocab_size=W.vocab_size, kind=kind, n_positions=W.n_positions, name=name)

    def _head(self, h) -> None:
        W, C = self.W, self.C
        L = W.layers[h.layer]
        scale = 1.0 / math.sqrt(W.d_head)
        fq = {p: self.E[p] @ ln_matrix(L.ln1_g, C.log_var[("q", h.layer, h.head)], W.eps) @ L.WQ[h.head] for p in h.q}
        fk = {r: self.E[r] @ ln_matrix(L.ln1_g, C.log_var[("k", h.layer, h.head)], W.eps) @ L.WK[h.head] for r in h.k}
        terms = None
        if h.terms is not None and self.factor:
            terms = self._factored_terms(h, fq, fk, scale) + self._qbias_terms(h, fk, scale)
        elif h.terms is not None:
            terms = []
            for p, r in h.terms:
                table = self._table(("qk", h.layer, h.head, p, r), lambda p=p, r=r: _np(fq[p] @ fk[r].T) * scale)
                if table is not None:
                    terms.append(rasp.score(self.node[p], self.node[r], table))
            terms += self._qbias_terms(h, fk, scale)
        if terms is None or len(terms) > MAX_TERMS:
            terms = self._projected_terms(h, fq, fk, scale)
        sel = self._hard_select(h) or rasp.soft_select(*terms)
        sel = sel.named(f"s{h.layer}{h.head}" if h.layer < 10 and h.head < 10 else f"s{h.layer}_{h.head}")
        made: dict = {}  # value node -> its aggregate (shared when share_aggregates)
        for o in h.out:
            u = self.g.vars[o].value
            if self.node[u] not in made or not self.share_aggregates:
                made[self.node[u]] = rasp.aggregate(sel, self.node[u], numerical=self.is_cat(u)).named(
                    self.g.vars[o].name)
            self.node[o] = made[self.node[u]]
            self.cat[o] = False
            lam_v = ln_matrix(L.ln1_g, C.log_var[("v", o)], W.eps)
            self.E[o] = self.E[u] @ lam_v @ L.WV[h.head] @ L.WO[h.head]

    def _hard_select(self, h):
        """``select`` with the relation of the head's one remaining term, where that is a hard pattern
        (``self.hard``) between the positions, or ``k==BOS`` on token keys; else None."""
        if h.terms is None or not self.hard:
            return None
        keys = [("qk", h.layer, h.head, p, r) for p, r in h.terms] + [("qb", h.layer, h.head, r) for r in h.qbias]
        left = [key for key in keys if not (key in self.overrides and self.overrides[key] is None)]
        if len(left) != 1 or left[0] not in self.hard:
            return None
        (_, _, _, p, r), (expression, on) = left[0], self.hard[left[0]]
        kinds = {self.g.vars[p].kind, self.g.vars[r].kind}
        if on == "positions" and kinds == {"pos"}:
            return rasp.select(self.node[r], self.node[p], expression)
        if on == "token keys" and self.g.vars[r].kind == "tok":
            return rasp.select(self.node[r], self.node[p] if self.is_cat(p) else self.node[r], expression)
        return None

    def _qbias_terms(self, h, fk, scale) -> list:
        """``key_score(X_r, w_r)`` per query-bias term of a stage-3 head (unless replaced by nothing)."""
        terms = []
        for r in h.qbias:
            c = self.C.c[(h.layer, h.head, r)]
            table = self._table(("qb", h.layer, h.head, r), lambda r=r, c=c: _np(fk[r] @ c) * scale)
            if table is not None:
                terms.append(rasp.key_score(self.node[r], table))
        return terms

    def _factored_terms(self, h, fq, fk, scale) -> list:
        """A stage-3 head's (query, key) terms, with the unreplaced ones grouped into factored scores.

        Keys read by the same set of query paths form a block in which every (query, key) pair is a
        term: its scores are ``q . k`` with ``q = sum_p X_p (E_p Lambda_q W_Q)`` and ``k = sum_r X_r
        (E_r Lambda_k W_K)``, so the block can be one score between two ``dhead`` readouts instead of
        one ``|B_p| x |B_r|`` table per pair (the same function; the tables are rank ``d_h`` anyway).
        A side with one variable may use the variable itself (its projection goes into the table).
        Each block takes whichever form has the fewest parameters: a pair of position variables costs
        ``n_positions**2`` as a table and about ``2 n_positions d_h`` factored. Terms replaced by a
        primitive (or deleted) keep their own term.
        """
        out, by_key = [], {}
        for p, r in h.terms:
            key = ("qk", h.layer, h.head, p, r)
            if key in self.overrides:
                if self.overrides[key] is not None:
                    out.append(rasp.score(self.node[p], self.node[r], self.overrides[key]))
            else:
                by_key.setdefault(r, []).append(p)
        blocks: dict = {}
        for r, ps in by_key.items():
            blocks.setdefault(tuple(ps), []).append(r)
        for ps, rs in blocks.items():
            out += self._block_terms(list(ps), rs, fq, fk, scale)
        return out

    def _block_terms(self, ps: list, rs: list, fq, fk, scale) -> list:
        """The score terms of a complete block of (query, key) pairs, in its smallest form."""
        dh, size = self.W.d_head, lambda v: self.E[v].shape[0]
        pairwise = sum(size(p) for p in ps) * sum(size(r) for r in rs)

        def side_cost(vs, projected):  # parameters of one side, and its width in the score table
            return (sum(size(v) for v in vs) * dh + dh, dh) if projected else (0, size(vs[0]))

        best = None
        for q_proj in ([False, True] if len(ps) == 1 else [True]):
            for k_proj in ([False, True] if len(rs) == 1 else [True]):
                (cq, wq), (ck, wk) = side_cost(ps, q_proj), side_cost(rs, k_proj)
                cost = cq + ck + wq * wk
                if best is None or cost < best[0]:
                    best = (cost, q_proj, k_proj)
        if best[0] >= pairwise:
            return [rasp.score(self.node[p], self.node[r], _np(fq[p] @ fk[r].T) * scale) for r in rs for p in ps]
        _, q_proj, k_proj = best
        basis = rasp.Basis("dhead", dh)
        eye = torch.eye(dh, dtype=self.W.wte.dtype)
        if q_proj:
            q_node, q_side = linear_sum([(self.node[p], _np(fq[p])) for p in ps], np.zeros(dh), basis), eye
        else:
            q_node, q_side = self.node[ps[0]], fq[ps[0]]
        if k_proj:
            k_node, k_side = linear_sum([(self.node[r], _np(fk[r])) for r in rs], np.zeros(dh), basis), eye
        else:
            k_node, k_side = self.node[rs[0]], fk[rs[0]]
        return [rasp.score(q_node, k_node, _np(q_side @ k_side.T) * scale)]

    def _table(self, key, exact):
        """The override of a term if there is one (None: deleted), else its exact table."""
        return self.overrides[key] if key in self.overrides else exact()

    def _projected_terms(self, h, fq, fk, scale) -> list:
        """One bilinear score between the summed query and key projections (stage-2 form or too many terms)."""
        from .executors import query_constant

        dh = rasp.Basis("dhead", self.W.d_head)
        if h.terms is None:
            pre = self.C.o[("q", h.layer, h.head)]
            q_bias = _np(query_constant(self.W, self.C, h.layer, h.head, pre))
            q_terms = [(self.node[p], _np(fq[p])) for p in h.q]
            k_terms = [(self.node[r], _np(fk[r])) for r in h.k]
            q = linear_sum(q_terms, q_bias, dh)
            k = linear_sum(k_terms, np.zeros(self.W.d_head), dh)
            return [rasp.score(q, k, np.eye(self.W.d_head) * scale)]
        # stage-3 form with too many terms: group the terms by key path
        out = []
        for r in h.k:
            q_terms = [(self.node[p], _np(fq[p])) for p, r2 in h.terms if r2 == r]
            c = self.C.c[(h.layer, h.head, r)] if r in h.qbias else torch.zeros(self.W.d_head, dtype=self.W.wte.dtype)
            if not q_terms and r not in h.qbias:
                continue
            q = linear_sum(q_terms, _np(c), dh) if q_terms else None
            if q is None:
                out.append(rasp.key_score(self.node[r], _np(fk[r] @ c) * scale))
            else:
                out.append(rasp.score(q, self.node[r], _np(fk[r].T) * scale))
        return out

    def _mlp(self, spec) -> None:
        W, C = self.W, self.C
        if isinstance(self.converted.get(spec.out), Split):
            return self._split_mlp(spec, self.converted[spec.out])
        if spec.out in self.converted:
            src, table, primitive = self.converted[spec.out]
            if primitive is None:  # keep_one / erase: an alias of the input
                self.node[spec.out], self.cat[spec.out] = self.node[src], self.cat[src]
            else:
                fn, params = primitive
                self.node[spec.out] = rasp.apply(fn, self.node[src], **params).named(primitive_name(spec.out, self.g))
                self.cat[spec.out] = False
            self.E[spec.out] = torch.as_tensor(table, dtype=W.wte.dtype)
            return
        L = W.layers[spec.layer]
        lam = ln_matrix(L.ln2_g, C.log_var[("mlp", spec.layer)], W.eps)
        resid = rasp.Basis("resid", W.d)
        terms = [(self.node[u], _np(self.E[u] @ lam)) for u in spec.inputs]
        pre = linear_sum(terms, _np(C.o[("mlp", spec.layer)] @ lam + L.ln2_b), resid).named(f"mlp{spec.layer}_in")
        layers = [(_np(L.W_fc), _np(L.b_fc)), (_np(L.W_proj), _np(L.b_proj))]
        self.node[spec.out] = rasp.mlp(pre, layers, activation="gelu_new", basis=resid).named(f"mlp{spec.layer}")
        self.cat[spec.out] = False
        self.E[spec.out] = torch.eye(W.d, dtype=W.wte.dtype)

    def _split_mlp(self, spec, split: Split) -> None:
        """An MLP replaced by a sum of per-input readouts (:mod:`split_mlp`): one readout over ``resid``."""
        terms = readout_terms(split, lambda u: (self.node[u], self.E[u].shape[0]), f"mlp{spec.layer}")
        resid = rasp.Basis("resid", self.W.d)
        self.node[spec.out] = linear_sum(terms, np.asarray(split.bias), resid).named(f"mlp{spec.layer}")
        self.cat[spec.out] = False
        self.E[spec.out] = torch.eye(self.W.d, dtype=self.W.wte.dtype)


def build_program(W: Weights, g: PathGraph, C: Consts, kind: str, name: str = "decompile",
                  overrides: dict | None = None, converted: dict | None = None,
                  share_aggregates: bool = False, factor: bool = False, hard: dict | None = None) -> rasp.Program:
    """The program of a path graph (stage-2 or stage-3 form); ``kind`` is the task kind (token / token_set).

    ``overrides`` replaces term tables by primitive patterns (see :mod:`match_select`); ``factor``
    groups a stage-3 head's unreplaced terms into factored scores where that is smaller
    (:meth:`Renderer._factored_terms`); ``hard`` names the replaced terms that are hard selects
    (:meth:`Renderer._hard_select`).
    """
    return Renderer(W, g, C, overrides, converted, share_aggregates, factor, hard).build(kind, name)
