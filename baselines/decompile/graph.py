"""The decompiler's graphs: stage-1 edges, the path graph (stages 2 and 3), dangling-edge removal.

Stage 1 (docs/decompile.md §3.1): sources ``wte``, ``wpe``, every head output
``attn-l-h`` and every ``mlp-l``; targets ``q/k/v`` of every head, every MLP
and the unembedding ``lm``; an edge is allowed when its source comes earlier
in the forward pass than its target (an MLP also reads its own layer's heads).

The path graph (2.1, 2.2, 3.2, 3.3) has one variable per path: the token and
position embeddings, one aggregate per (head, value path), and one variable
per (non-split) MLP. A head lists its query paths, key paths and value paths;
in stage-2 form its score is ``(sum of q-paths + constant) . (sum of k-paths)``,
in stage-3 form it is an explicit list of (q-path, k-path) terms and
query-bias terms (one per k-path).

Dangling removal (3.4) works on any DAG of nodes with required input slots:
a node is reached when every slot has a live edge from a reached node (a head
needs q, k and v), useful when it has a live edge to a useful node (``lm`` is
useful); an edge survives when its source is reached and its target reached
and useful. It runs batched over per-row masks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

# ----- stage 1 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage1Graph:
    """Edges (source, target) of the stage-1 graph; sources and targets are tuples like ("attn", l, h)."""

    n_layers: int
    n_heads: int
    edges: tuple[tuple[tuple, tuple], ...]

    @staticmethod
    def full(n_layers: int, n_heads: int) -> "Stage1Graph":
        edges = []
        sources = [("wte",), ("wpe",)]
        for l in range(n_layers):
            for h in range(n_heads):
                for kind in ("q", "k", "v"):
                    edges += [(s, (kind, l, h)) for s in sources]
            heads = [("attn", l, h) for h in range(n_heads)]
            edges += [(s, ("mlp", l)) for s in sources + heads]
            sources = sources + heads + [("mlp", l)]
        edges += [(s, ("lm",)) for s in sources]
        return Stage1Graph(n_layers, n_heads, tuple(edges))

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def edges_into(self, target: tuple) -> list[int]:
        return [i for i, (_, t) in enumerate(self.edges) if t == target]

    def dag(self) -> "Dag":
        nodes = [("wte",), ("wpe",)]
        slots = {("wte",): (), ("wpe",): ()}
        for l in range(self.n_layers):
            for h in range(self.n_heads):
                nodes.append(("attn", l, h))
                slots[("attn", l, h)] = ("q", "k", "v")
            nodes.append(("mlp", l))
            slots[("mlp", l)] = ("in",)
        nodes.append(("lm",))
        slots[("lm",)] = ("in",)
        edges = []
        for i, (s, t) in enumerate(self.edges):
            if t[0] in ("q", "k", "v"):
                edges.append((s, ("attn", t[1], t[2]), t[0], i))
            else:
                edges.append((s, t, "in", i))
        return Dag(tuple(nodes), slots, tuple(edges))


# ----- dangling-edge removal ---------------------------------------------------------------


@dataclass(frozen=True)
class Dag:
    """Nodes in topological order, their required slots, and edges (src, dst, slot, mask index or -1 = fixed)."""

    nodes: tuple
    slots: dict
    edges: tuple

    def live_edges(self, on: torch.Tensor) -> torch.Tensor:
        """(B, E) bool: the masked-on edges that connect the embeddings to ``lm`` (on: (B, E) bool)."""
        B = on.shape[0]
        true = torch.ones(B, dtype=torch.bool)
        edge_on = [true if e[3] < 0 else on[:, e[3]] for e in self.edges]
        into: dict = {n: [] for n in self.nodes}
        out_of: dict = {n: [] for n in self.nodes}
        for j, (s, t, slot, _) in enumerate(self.edges):
            into[t].append(j)
            out_of[s].append(j)
        reached = {}
        for n in self.nodes:
            r = true.clone()
            for slot in self.slots[n]:
                any_live = torch.zeros(B, dtype=torch.bool)
                for j in into[n]:
                    s, _, sl, _ = self.edges[j]
                    if sl == slot:
                        any_live |= edge_on[j] & reached[s]
                r &= any_live
            reached[n] = r
        useful = {}
        for n in reversed(self.nodes):
            if n == ("lm",):
                useful[n] = reached[n]
                continue
            u = torch.zeros(B, dtype=torch.bool)
            for j in out_of[n]:
                u |= edge_on[j] & useful[self.edges[j][1]]
            useful[n] = u & reached[n]
        keep = torch.zeros_like(on)
        for j, (s, t, _, idx) in enumerate(self.edges):
            if idx >= 0:
                keep[:, idx] = on[:, idx] & reached[s] & useful[t]
        return keep


# ----- the path graph ------------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """A program variable: ``tok``/``pos`` embeddings, an ``attn`` aggregate, or an ``mlp`` output."""

    name: str
    kind: str
    layer: int = -1
    head: int = -1
    value: int = -1  # attn: the index of the aggregated variable


@dataclass(frozen=True)
class HeadSpec:
    layer: int
    head: int
    q: tuple[int, ...]
    k: tuple[int, ...]
    out: tuple[int, ...]  # attn variables, one per value path
    terms: tuple[tuple[int, int], ...] | None = None  # stage-3 (q-path, k-path) terms; None: stage-2 form
    qbias: tuple[int, ...] | None = None  # stage-3 key paths with a query-bias term


@dataclass(frozen=True)
class MlpSpec:
    layer: int
    inputs: tuple[int, ...]
    out: int


@dataclass(frozen=True)
class PathGraph:
    vars: tuple[Var, ...]
    heads: tuple[HeadSpec, ...]
    mlps: tuple[MlpSpec, ...]
    lm: tuple[int, ...]

    @property
    def is_stage3(self) -> bool:
        return all(h.terms is not None for h in self.heads)

    def stage2_edges(self) -> list[tuple]:
        """Maskable stage-2 edges: ("q"|"k", head index, var), ("v", head index, attn var), ("mlp", i, var), ("lm", var)."""
        edges = []
        for i, h in enumerate(self.heads):
            edges += [("q", i, p) for p in h.q] + [("k", i, r) for r in h.k] + [("v", i, o) for o in h.out]
        for i, m in enumerate(self.mlps):
            edges += [("mlp", i, u) for u in m.inputs]
        edges += [("lm", p) for p in self.lm]
        return edges

    def stage3_edges(self) -> list[tuple]:
        """Maskable stage-3 terms: ("qk", head index, p, r) and ("qb", head index, r)."""
        edges = []
        for i, h in enumerate(self.heads):
            edges += [("qk", i, p, r) for p, r in h.terms] + [("qb", i, r) for r in h.qbias]
        return edges

    def n_terms(self) -> int:
        return sum(len(h.terms) + len(h.qbias) for h in self.heads if h.terms is not None)

    def stage2_dag(self) -> Dag:
        """The DAG for dangling removal over stage-2 masks: head nodes need q and k, aggregates need their head and v."""
        slots: dict = {("lm",): ("in",)}
        edges = []
        index = {e: i for i, e in enumerate(self.stage2_edges())}
        order = []
        for v, var in enumerate(self.vars):
            if var.kind in ("tok", "pos"):
                order.append(("var", v))
                slots[("var", v)] = ()
        for layer in sorted({h.layer for h in self.heads} | {m.layer for m in self.mlps}):
            for i, h in enumerate(self.heads):
                if h.layer != layer:
                    continue
                order.append(("head", i))
                slots[("head", i)] = ("q", "k")
                edges += [(("var", p), ("head", i), "q", index[("q", i, p)]) for p in h.q]
                edges += [(("var", r), ("head", i), "k", index[("k", i, r)]) for r in h.k]
                for o in h.out:
                    order.append(("var", o))
                    slots[("var", o)] = ("head", "v")
                    edges.append((("head", i), ("var", o), "head", -1))
                    edges.append((("var", self.vars[o].value), ("var", o), "v", index[("v", i, o)]))
            for j, m in enumerate(self.mlps):
                if m.layer == layer:
                    order.append(("var", m.out))
                    slots[("var", m.out)] = ("in",)
                    edges += [(("var", u), ("var", m.out), "in", index[("mlp", j, u)]) for u in m.inputs]
        order.append(("lm",))
        edges += [(("var", p), ("lm",), "in", index[("lm", p)]) for p in self.lm]
        return Dag(tuple(order), slots, tuple(edges))


def path_graph_from_stage1(g1: Stage1Graph, keep: torch.Tensor) -> PathGraph:
    """Expand the surviving stage-1 edges (keep: (E,) bool, after dangling removal) into paths (3.2)."""
    live = [e for e, k in zip(g1.edges, keep.tolist()) if k]
    vars_: list[Var] = []
    expansion: dict[tuple, list[int]] = {}

    def add(var: Var) -> int:
        vars_.append(var)
        return len(vars_) - 1

    for name, kind in ((("wte",), "tok"), (("wpe",), "pos")):
        if any(s == name for s, _ in live):
            expansion[name] = [add(Var(name[0], kind))]
    heads, mlps = [], []

    def paths_into(target: tuple) -> tuple[int, ...]:
        out: list[int] = []
        for s, t in live:
            if t == target:
                out += expansion.get(s, [])
        return tuple(out)

    for l in range(g1.n_layers):
        for h in range(g1.n_heads):
            q, k, v = paths_into(("q", l, h)), paths_into(("k", l, h)), paths_into(("v", l, h))
            if not (q and k and v):
                continue
            outs = tuple(add(Var(_attn_name(l, h, vars_[u].name, len(vars_)), "attn", l, h, u)) for u in v)
            expansion[("attn", l, h)] = list(outs)
            heads.append(HeadSpec(l, h, q, k, outs))
        inputs = paths_into(("mlp", l))
        if inputs:
            out = add(Var(f"mlp{l}", "mlp", l))
            expansion[("mlp", l)] = [out]
            mlps.append(MlpSpec(l, inputs, out))
    return PathGraph(tuple(vars_), tuple(heads), tuple(mlps), paths_into(("lm",)))


def apply_stage2_mask(g: PathGraph, keep: list[bool]) -> PathGraph:
    """Drop the stage-2 edges with ``keep`` False, then the variables nothing uses any more."""
    edges = g.stage2_edges()
    on = {e for e, k in zip(edges, keep) if k}
    heads = [replace(h, q=tuple(p for p in h.q if ("q", i, p) in on), k=tuple(r for r in h.k if ("k", i, r) in on),
                     out=tuple(o for o in h.out if ("v", i, o) in on)) for i, h in enumerate(g.heads)]
    mlps = [replace(m, inputs=tuple(u for u in m.inputs if ("mlp", i, u) in on)) for i, m in enumerate(g.mlps)]
    lm = tuple(p for p in g.lm if ("lm", p) in on)
    return prune_unused(PathGraph(g.vars, tuple(h for h in heads if h.q and h.k and h.out),
                                  tuple(m for m in mlps if m.inputs), lm))


def to_terms(g: PathGraph) -> PathGraph:
    """Stage-2 form to stage-3 form: every (q-path, k-path) pair and one query-bias term per k-path."""
    heads = tuple(h if h.terms is not None else
                  replace(h, terms=tuple((p, r) for p in h.q for r in h.k), qbias=tuple(h.k)) for h in g.heads)
    return replace(g, heads=heads)


def apply_stage3_mask(g: PathGraph, keep: list[bool]) -> PathGraph:
    """Drop the stage-3 terms with ``keep`` False, then the variables nothing uses any more."""
    on = {e for e, k in zip(g.stage3_edges(), keep) if k}
    heads = []
    for i, h in enumerate(g.heads):
        terms = tuple((p, r) for p, r in h.terms if ("qk", i, p, r) in on)
        qbias = tuple(r for r in h.qbias if ("qb", i, r) in on)
        q = tuple(p for p in h.q if any(t[0] == p for t in terms))
        k = tuple(r for r in h.k if any(t[1] == r for t in terms) or r in qbias)
        heads.append(replace(h, q=q, k=k, terms=terms, qbias=qbias))
    return prune_unused(replace(g, heads=tuple(heads)))


def prune_unused(g: PathGraph) -> PathGraph:
    """Remove variables no consumer reads (repeatedly), keeping the variable indices stable.

    Removing a variable nothing reads changes no output, so this step is exact.
    A head keeps its value paths even with no score terms (it then attends uniformly).
    """
    heads, mlps, lm = list(g.heads), list(g.mlps), g.lm
    while True:
        used = set(lm)
        for h in heads:
            used |= set(h.q) | set(h.k) | {g.vars[o].value for o in h.out}
            if h.terms is not None:
                used |= {p for p, _ in h.terms} | {r for _, r in h.terms} | set(h.qbias)
        for m in mlps:
            used |= set(m.inputs)
        new_heads = []
        for h in heads:
            outs = tuple(o for o in h.out if o in used)
            if outs:
                new_heads.append(replace(h, out=outs))
        new_mlps = [m for m in mlps if m.out in used]
        if len(new_heads) == len(heads) and all(len(a.out) == len(b.out) for a, b in zip(new_heads, heads)) \
                and len(new_mlps) == len(mlps):
            return PathGraph(g.vars, tuple(new_heads), tuple(new_mlps), lm)
        heads, mlps = new_heads, new_mlps


def live_vars(g: PathGraph) -> list[int]:
    """Indices of the variables the graph still computes, in topological order."""
    out = {o for h in g.heads for o in h.out} | {m.out for m in g.mlps}
    used = set(g.lm) | {u for m in g.mlps for u in m.inputs}
    for h in g.heads:
        used |= set(h.q) | set(h.k) | {g.vars[o].value for o in h.out}
    keep = out | {v for v in used if g.vars[v].kind in ("tok", "pos")}
    return sorted(keep)


def _attn_name(layer: int, head: int, value: str, index: int) -> str:
    """``a{layer}{head}_{value path}`` (an identifier of at most 64 characters), read right to left."""
    name = f"a{layer}{head}_{value}" if layer < 10 and head < 10 else f"a{layer}_{head}_{value}"
    return name if len(name) <= 60 else f"a{layer}_{head}_v{index}"
