"""Soft selectors: attention weights from summed score terms, then a causal softmax.

``soft_select(*terms)``: a term ``score(query, key, table)`` adds
``onehot(query[i]) @ table @ onehot(key[j])`` to the scores (a ``vec``
argument is used as is instead of a one-hot), a term ``key_score(key, vector)``
adds ``vector @ onehot(key[j])``. No terms: uniform attention over the prefix.
The softmax runs over keys ``0..i`` only; the result is aggregated like a hard
selector (:mod:`.ops_attention`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import detmath, fast_attention as fast
from . import fields as F
from .errors import MAX_TERMS, ProgramError
from .ops import Node, register_op
from .vtypes import SOFT


@dataclass(frozen=True, eq=False)
class ScoreTerm:
    """One summand of a soft selector's scores: a (query, key) table, or a key-only vector."""

    query: Node | None
    key: Node
    scores: np.ndarray  # (n_query, n_key), or (n_key,) without a query

    def __post_init__(self):
        for what, v in (("query", self.query), ("key", self.key)):
            if v is not None and not isinstance(v, Node):
                raise ProgramError(f"score term {what}: expected a program variable, got {type(v).__name__}")


@register_op
@dataclass(frozen=True, eq=False)
class SoftSelect(Node):
    """Softmax attention over the prefix with scores summed from ``terms``."""

    terms: tuple[ScoreTerm, ...] = ()
    op: ClassVar[str] = "soft_select"

    def inputs(self):
        return tuple(v for term in self.terms for v in ((term.query, term.key) if term.query is not None else (term.key,)))

    def _split(self, values: tuple) -> list[tuple]:
        """Regroup the flat input values into (query or None, key) per term."""
        out, position = [], 0
        for term in self.terms:
            if term.query is not None:
                out.append((values[position], values[position + 1]))
                position += 2
            else:
                out.append((None, values[position]))
                position += 1
        return out

    def typecheck(self, ctx, types):
        if len(self.terms) > MAX_TERMS:
            raise ProgramError(f"more than {MAX_TERMS} score terms")
        problems = []
        for n, (term, (tq, tk)) in enumerate(zip(self.terms, self._split(tuple(types)))):
            shape = []
            for what, t in (("query", tq), ("key", tk)):
                if t is None:
                    continue
                if t.kind not in ("cat", "vec"):
                    problems.append(f"term {n}: the {what} must be cat or vec, got {t}")
                else:
                    shape.append(ctx.size(t.basis))
            if len(shape) == (2 if tq else 1) and term.scores.shape != tuple(shape):
                problems.append(f"term {n}: scores of shape {term.scores.shape}, expected {tuple(shape)}")
        if problems:
            raise ProgramError(problems)
        return SOFT

    def n_params(self):
        return sum(term.scores.size for term in self.terms)

    def to_fields(self, ref):
        return {"terms": [{"query": ref(t.query) if t.query is not None else None, "key": ref(t.key),
                           "scores": t.scores.tolist()} for t in self.terms]}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("terms",))
        raw = obj["terms"]
        if not isinstance(raw, list) or len(raw) > MAX_TERMS:
            raise ProgramError(f"field 'terms' must be a list of at most {MAX_TERMS} terms")
        terms = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) - {"query", "key", "scores"} or "key" not in item:
                raise ProgramError(f"term {n} must be an object with 'key', 'scores' and optionally 'query'")
            query = item.get("query")
            query = node(F.ref_id(query, f"term {n} query")) if query is not None else None
            scores = F.field(item, "scores", F.array, 2 if query is not None else 1)
            terms.append(ScoreTerm(query, node(F.ref_id(item["key"], f"term {n} key")), scores))
        return cls(tuple(terms))

    def run_batch(self, ctx, *values):
        parts = [(term.scores, q, k, tq.kind if tq else None, tk.kind, id(term.query), id(term.key))
                 for term, (q, k), (tq, tk) in zip(self.terms, self._split(values), self._split(tuple(ctx.in_types)))]
        return fast.softmax(fast.soft_scores(parts, ctx.shape), ctx.causal)

    def run_one(self, ctx, *values):
        T = len(ctx.tokens)
        parts = [(t.scores.tolist(), q, k) for t, (q, k) in zip(self.terms, self._split(values))]
        out = []
        for i in range(T):
            row = []
            for j in range(i + 1):
                score = 0.0
                for table, q, k in parts:
                    score += _pair_score(table, q[i] if q is not None else None, k[j])
                row.append(score)
            top = max(row)
            exps = [detmath.exp(s - top) for s in row]
            total = sum(exps)
            out.append([e / total for e in exps])
        return out

    def render(self, args, out):
        parts, position = [], 0
        for term in self.terms:
            shape = "x".join(str(n) for n in term.scores.shape)
            if term.query is not None:
                parts.append(f"score({args[position]}, {args[position + 1]}, <{shape} table>)")
                position += 2
            else:
                parts.append(f"key_score({args[position]}, <{shape} table>)")
                position += 1
        return f"soft_select({', '.join(parts)})"


def _pair_score(table: list, q, k) -> float:
    """onehot-or-vector(q) @ table @ onehot-or-vector(k), in plain Python."""
    k_parts = [(b, w) for b, w in enumerate(k)] if isinstance(k, list) else [(k, 1.0)]
    if q is None:
        return sum(w * table[b] for b, w in k_parts)
    q_parts = [(a, w) for a, w in enumerate(q)] if isinstance(q, list) else [(q, 1.0)]
    total = 0.0
    for a, wa in q_parts:
        for b, wb in k_parts:
            total += wa * table[a][b] * wb
    return total
