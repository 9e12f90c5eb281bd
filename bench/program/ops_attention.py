"""Attention-like operations: selectors, aggregation, selector width (soft selectors: :mod:`.ops_soft`).

A hard selector is a boolean matrix ``S[query i, key j]``; a soft selector is a
matrix of attention weights. **Causality is enforced here, not trusted**: a
selector never selects a key ``j > i`` (the vectorized interpreter ANDs every
selector with the lower triangle; the reference builds only keys ``0..i``), and
a soft selector's softmax runs over keys ``0..i`` only.

- ``select(keys, queries, predicate)``: ``S[i, j] = predicate(keys[j], queries[i])``
  for ``j <= i``; the predicate is EQ, LT, LEQ, GT, GEQ, NEQ (``LT`` means
  ``key < query``, as in tracr), TRUE, FALSE, or an expression over ``k`` and
  ``q`` (nonzero means selected). Keys and queries are ``cat`` or ``num``.
- ``selector_and/or/not``: elementwise logic (``not`` stays causal).
- ``aggregate(selector, values)``:

  * ``num`` values: the mean over the selected keys (``default``, 0 unless
    given, when nothing is selected); with a soft selector, the weighted sum;
  * ``vec`` values, or ``cat`` values with ``numerical=True`` (one-hot, so the
    result is a histogram over the basis): the same, per entry; a zero vector
    when nothing is selected;
  * ``cat`` values (categorical aggregate, hard selectors only): the selected
    value when every selected key carries the same value (in particular when
    exactly one key is selected), otherwise ``default``; ``default`` when
    nothing is selected. tracr requires a single selected key or equal values;
    we define the other cases instead of leaving them undefined.
- ``selector_width(selector)``: the number of selected keys, a ``num``.
- ``soft_select(*terms)``: attention scores summed over terms, then a causal
  softmax. A term ``score(query, key, table)`` adds ``onehot(query[i]) @ table
  @ onehot(key[j])`` (a ``vec`` argument is used as is instead of a one-hot),
  a term ``key_score(key, vector)`` adds ``vector @ onehot(key[j])``. No terms:
  uniform attention over the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import fast_attention as fast
from . import fields as F
from .errors import ProgramError
from .expr import Expr
from .ops import Node, expect_kind, register_op
from .vtypes import NUM, SEL, ValueType

PREDICATES = {"EQ": "==", "LT": "<", "LEQ": "<=", "GT": ">", "GEQ": ">=", "NEQ": "!=", "TRUE": "true", "FALSE": "false"}
_NP_PREDICATES = {
    "EQ": np.equal, "LT": np.less, "LEQ": np.less_equal, "GT": np.greater, "GEQ": np.greater_equal,
    "NEQ": np.not_equal,
}
_PY_PREDICATES = {
    "EQ": lambda k, q: k == q, "LT": lambda k, q: k < q, "LEQ": lambda k, q: k <= q, "GT": lambda k, q: k > q,
    "GEQ": lambda k, q: k >= q, "NEQ": lambda k, q: k != q, "TRUE": lambda k, q: True, "FALSE": lambda k, q: False,
}
SELECT_VARIABLES = ("k", "q")
_DENSE_GRID = 1 << 16


def _expect_selector(what: str, t: ValueType) -> None:
    expect_kind(what, t, "sel")


def _expr_on_distinct_values(expr: Expr, k: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``expr(k, q) != 0`` for (B, 1, T) keys and (B, T, 1) queries, as a (B, T, T) bool array.

    Evaluated once per distinct (query value, key value) pair of the batch when there are at
    most ``_DENSE_GRID`` of them, then gathered: the same float operations on the same values,
    so the same booleans (``+0.0`` and ``-0.0`` share an entry, and no operation of the
    language gives them different truth values), B times less work on numeric positions.
    """
    k_values, k_index = np.unique(k, return_inverse=True)
    q_values, q_index = np.unique(q, return_inverse=True)
    if k_values.size * q_values.size > _DENSE_GRID:
        return expr.eval_np({"k": k, "q": q}) != 0
    table = expr.eval_np({"k": k_values[None, :], "q": q_values[:, None]}) != 0  # (n_q, n_k)
    return _gather(table, q_index.reshape(q.shape), k_index.reshape(k.shape))


def _gather(table: np.ndarray, q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``table[q, k]`` for an (n_q, n_k) bool table, (B, T, 1) query and (B, 1, T) key entries: where
    the table depends on the key alone (``k == 1``) or the query alone, one entry per key or query,
    broadcast (the same booleans, without a (B, T, T) gather)."""
    if table.size == 0:
        return table[q, k]
    if (table == table[:1]).all():
        return table[0][k]
    if (table == table[:, :1]).all():
        return table[:, 0][q]
    return table[q, k]


@register_op
@dataclass(frozen=True, eq=False)
class Select(Node):
    """A hard selector from comparing ``keys[j]`` with ``queries[i]``."""

    keys: Node
    queries: Node
    predicate: str | None = "EQ"
    expr: Expr | None = None

    op: ClassVar[str] = "select"

    def inputs(self):
        return (self.keys, self.queries)

    def typecheck(self, ctx, types):
        problems = []
        for what, t in zip(("keys", "queries"), types):
            if t.kind not in ("cat", "num"):
                problems.append(f"{what} must be cat or num, got {t}")
        if (self.predicate is None) == (self.expr is None):
            problems.append("needs exactly one of a named predicate and an expression")
        elif self.predicate is not None and self.predicate not in PREDICATES:
            problems.append(f"unknown predicate {str(self.predicate)[:20]!r} (known: {', '.join(PREDICATES)})")
        if problems:
            raise ProgramError(problems)
        return SEL

    def n_params(self):
        return self.expr.n_nodes if self.expr is not None else 1

    def to_fields(self, ref):
        out = {"keys": ref(self.keys), "queries": ref(self.queries)}
        if self.expr is not None:
            out["expr"] = self.expr.source
        else:
            out["predicate"] = self.predicate
        return out

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("keys", "queries"), ("predicate", "expr"))
        keys, queries = node(F.field(obj, "keys", F.ref_id)), node(F.field(obj, "queries", F.ref_id))
        if ("predicate" in obj) == ("expr" in obj):
            raise ProgramError("exactly one of the fields 'predicate' and 'expr' is needed")
        if "expr" in obj:
            return cls(keys, queries, None, Expr(obj["expr"], SELECT_VARIABLES))
        predicate = obj["predicate"]
        if not isinstance(predicate, str) or predicate not in PREDICATES:
            raise ProgramError(f"unknown predicate {str(predicate)[:20]!r} (known: {', '.join(PREDICATES)})")
        return cls(keys, queries, predicate)

    def run_batch(self, ctx, keys, queries):
        k, q = keys[:, None, :], queries[:, :, None]  # (B, 1, T) keys along j, (B, T, 1) queries along i
        if self.predicate == "TRUE":
            return fast.Prefix(ctx.shape)  # built only if an operation needs the (B, T, T) array
        if self.predicate == "FALSE":
            selected = np.full(k.shape[:1] + (q.shape[1], k.shape[2]), self.predicate == "TRUE")
        elif self.predicate is not None:
            selected = _NP_PREDICATES[self.predicate](k, q)
        else:
            tk, tq = ctx.in_types
            if tk.kind == tq.kind == "cat" and ctx.sizes[tk.basis] * ctx.sizes[tq.basis] <= _DENSE_GRID:
                gq, gk = np.meshgrid(np.arange(ctx.sizes[tq.basis], dtype=np.float64),
                                     np.arange(ctx.sizes[tk.basis], dtype=np.float64), indexing="ij")
                table = self.expr.eval_np({"k": gk, "q": gq}) != 0  # (n_q, n_k)
                selected = _gather(table, q, k)
            else:
                selected = _expr_on_distinct_values(self.expr, k, q)
        return selected & ctx.causal

    def run_one(self, ctx, keys, queries):
        if self.predicate is not None:
            test = _PY_PREDICATES[self.predicate]
        else:
            def test(k, q):
                return self.expr.eval_scalar({"k": float(k), "q": float(q)}) != 0
        return [[bool(test(keys[j], queries[i])) for j in range(i + 1)] for i in range(len(queries))]

    def render(self, args, out):
        if self.expr is not None:
            return f"select({args[0]}, {args[1]}, {self.expr.source})"
        return f"select({args[0]}, {args[1]}, {PREDICATES[self.predicate]})"


@dataclass(frozen=True, eq=False)
class _SelectorPair(Node):
    a: Node
    b: Node
    symbol: ClassVar[str] = ""

    def inputs(self):
        return (self.a, self.b)

    def typecheck(self, ctx, types):
        problems = [f"argument {n} must be sel, got {t}" for n, t in zip("ab", types) if t.kind != "sel"]
        if problems:
            raise ProgramError(problems)
        return SEL

    def to_fields(self, ref):
        return {"a": ref(self.a), "b": ref(self.b)}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("a", "b"))
        return cls(node(F.field(obj, "a", F.ref_id)), node(F.field(obj, "b", F.ref_id)))

    def render(self, args, out):
        return f"{args[0]} {self.symbol} {args[1]}"


@register_op
@dataclass(frozen=True, eq=False)
class SelectorAnd(_SelectorPair):
    """Keys selected by both selectors (``a & b``)."""

    op: ClassVar[str] = "selector_and"
    symbol: ClassVar[str] = "&"

    def run_batch(self, ctx, a, b):
        return fast.dense(a) & fast.dense(b)

    def run_one(self, ctx, a, b):
        return [[x and y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


@register_op
@dataclass(frozen=True, eq=False)
class SelectorOr(_SelectorPair):
    """Keys selected by either selector (``a | b``)."""

    op: ClassVar[str] = "selector_or"
    symbol: ClassVar[str] = "|"

    def run_batch(self, ctx, a, b):
        return fast.dense(a) | fast.dense(b)

    def run_one(self, ctx, a, b):
        return [[x or y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


@register_op
@dataclass(frozen=True, eq=False)
class SelectorNot(Node):
    """Keys (at or before the query) not selected (``~a``)."""

    a: Node
    op: ClassVar[str] = "selector_not"

    def inputs(self):
        return (self.a,)

    def typecheck(self, ctx, types):
        _expect_selector("argument a", types[0])
        return SEL

    def to_fields(self, ref):
        return {"a": ref(self.a)}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("a",))
        return cls(node(F.field(obj, "a", F.ref_id)))

    def run_batch(self, ctx, a):
        return ~fast.dense(a) & ctx.causal

    def run_one(self, ctx, a):
        return [[not x for x in row] for row in a]

    def render(self, args, out):
        return f"~{args[0]}"


@register_op
@dataclass(frozen=True, eq=False)
class SelectorWidth(Node):
    """The number of keys a hard selector selects, as a ``num``."""

    selector: Node
    op: ClassVar[str] = "selector_width"
    is_attention: ClassVar[bool] = True

    def inputs(self):
        return (self.selector,)

    def typecheck(self, ctx, types):
        _expect_selector("the selector", types[0])
        return NUM

    def to_fields(self, ref):
        return {"selector": ref(self.selector)}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("selector",))
        return cls(node(F.field(obj, "selector", F.ref_id)))

    def run_batch(self, ctx, selector):
        return fast.selector_width(selector)

    def run_one(self, ctx, selector):
        return [float(sum(1 for s in row if s)) for row in selector]


@register_op
@dataclass(frozen=True, eq=False)
class Aggregate(Node):
    """Average ``values`` over the selected keys (see the module docstring for every case)."""

    selector: Node
    values: Node
    numerical: bool = False
    default: float | int = 0

    op: ClassVar[str] = "aggregate"
    is_attention: ClassVar[bool] = True

    def inputs(self):
        return (self.selector, self.values)

    def typecheck(self, ctx, types):
        ts, tv = types
        F.int_or_float(self.default, "default")
        expect_kind("the selector", ts, "sel", "soft")
        expect_kind("the values", tv, "cat", "num", "vec")
        if tv.kind == "cat" and not self.numerical:
            if ts.kind == "soft":
                raise ProgramError("a soft selector aggregates cat values only with numerical=True (a histogram)")
            size = ctx.size(tv.basis)
            if not (F.is_int(self.default) and 0 <= self.default < size):
                raise ProgramError(f"default {self.default!r} outside basis {tv.basis} of size {size}")
            return tv
        if tv.kind == "num":
            return NUM
        if self.default != 0:
            raise ProgramError("a vec-valued aggregate has the zero vector as default (default must be 0)")
        return ValueType("vec", tv.basis)

    def to_fields(self, ref):
        return {"selector": ref(self.selector), "values": ref(self.values), "numerical": self.numerical,
                "default": self.default}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("selector", "values"), ("numerical", "default"))
        default = obj.get("default", 0)
        default = F.int_or_float(default, "field 'default'")
        return cls(node(F.field(obj, "selector", F.ref_id)), node(F.field(obj, "values", F.ref_id)),
                   F.field(obj, "numerical", F.boolean, default=False), default)

    def run_batch(self, ctx, selector, values):
        ts, tv = ctx.in_types
        kind = ("onehot" if self.numerical else "cat") if tv.kind == "cat" else tv.kind
        size = ctx.sizes[tv.basis] if tv.kind == "cat" else None
        if ts.kind == "soft":
            return fast.soft_aggregate(selector, values, kind, size, ctx.sizes["positions"])
        return fast.hard_aggregate(selector, values, kind, size, self.default)

    def run_one(self, ctx, selector, values):
        ts, tv = ctx.in_types
        if tv.kind == "cat" and self.numerical:
            size = ctx.sizes[tv.basis]
            values = [[1.0 if v == c else 0.0 for c in range(size)] for v in values]
        out = []
        for i, row in enumerate(selector):
            if ts.kind == "soft":
                out.append(_weighted_sum(row, values[: i + 1]))
                continue
            chosen = [values[j] for j, s in enumerate(row) if s]
            if tv.kind == "cat" and not self.numerical:
                same = chosen and all(v == chosen[0] for v in chosen)
                out.append(chosen[0] if same else self.default)
            elif not chosen:
                out.append([0.0] * len(values[i]) if isinstance(values[i], list) else float(self.default))
            else:
                total = _weighted_sum([1.0] * len(chosen), chosen)
                out.append([t / len(chosen) for t in total] if isinstance(total, list) else total / len(chosen))
        return out

    def render(self, args, out):
        extra = ", numerical=True" if self.numerical else ""
        extra += f", default={self.default!r}" if self.default else ""
        return f"aggregate({args[0]}, {args[1]}{extra})"


def _weighted_sum(weights: list[float], values: list):
    """Sum of weight * value, in key order (numbers or lists of numbers)."""
    if values and isinstance(values[0], list):
        total = [0.0] * len(values[0])
        for w, v in zip(weights, values):
            for n in range(len(total)):
                total[n] += w * v[n]
        return total
    total = 0.0
    for w, v in zip(weights, values):
        total += w * v
    return total
