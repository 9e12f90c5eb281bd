"""Positionwise operations: ``map`` and ``sequence_map``.

The function is either an expression (:mod:`.expr`) or a lookup table with a
default. The output kind follows from the arguments:

- with ``basis`` given, the output is ``cat[basis]``: an expression's value is
  rounded half up (``floor(v + 0.5)``) and replaced by ``default`` when it
  falls outside the basis; a table maps keys to categories;
- without ``basis``, the output is ``num``, or ``vec`` when an argument is a
  ``vec``: the expression then runs elementwise over the basis, with ``i``
  bound to the entry's index (a ``num``/``cat`` argument is broadcast).

Tables need ``cat`` arguments; keys and category values must lie in their
bases; a missing key gives ``default``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import fields as F
from .errors import MAX_TABLE_ENTRIES, ProgramError
from .expr import Expr
from .ops import Node, register_op
from .vtypes import NUM, Basis, ValueType

MAP_VARIABLES = ("x", "i")
SEQUENCE_MAP_VARIABLES = ("x", "y", "i")
_DENSE_GRID = 1 << 16  # evaluate an expression of two categories once per pair below this many pairs


def to_cat_np(values: np.ndarray, size: int, default: int) -> np.ndarray:
    rounded = np.floor(np.asarray(values, dtype=np.float64) + 0.5)
    return np.where((rounded >= 0) & (rounded < size), rounded, default).astype(np.int64)


def to_cat(value: float, size: int, default: int) -> int:
    rounded = math.floor(value + 0.5)
    return rounded if 0 <= rounded < size else default


def _over_entries(expr, env: dict, n: int) -> np.ndarray:
    """``expr`` elementwise over vec values of ``n`` entries: ``i`` is the entry's index, whose bounds
    (0 to n - 1) let the evaluator skip clips that would change nothing."""
    return expr.eval_np({**env, "i": np.arange(n, dtype=np.float64)}, {"i": (0.0, n - 1.0)})


def _table_entries(entries, arity: int, what: str) -> tuple[tuple, ...]:
    """Normalize ``{key: value}`` / ``[[key..., value], ...]`` into sorted tuples; keys are ints."""
    if isinstance(entries, dict):
        items = [((*k, v) if isinstance(k, tuple) else (k, v)) for k, v in entries.items()]
    elif isinstance(entries, (list, tuple)):
        items = entries
    else:
        raise ProgramError(f"{what} must be a dict or a list of [key, value] entries")
    if len(items) > MAX_TABLE_ENTRIES:
        raise ProgramError(f"{what} has more than {MAX_TABLE_ENTRIES} entries")
    out, seen = [], set()
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != arity + 1:
            raise ProgramError(f"{what}: every entry must be {arity} key(s) and a value, got {str(item)[:40]}")
        key = tuple(F.number(k, f"{what} key", integer=True) for k in item[:arity])
        if key in seen:
            raise ProgramError(f"{what}: key {list(key)} appears twice")
        seen.add(key)
        value = item[arity]
        out.append((*key, F.int_or_float(value, f"{what} value")))
    return tuple(sorted(out))


class _Function:
    """Shared parts of map and sequence_map: expression-or-table, default, output basis."""

    expr: Expr | None
    table: tuple | None
    default: float | int
    basis: Basis | None
    arity: ClassVar[int]

    def bases(self):
        return (self.basis,) if self.basis is not None else ()

    def n_params(self) -> int:
        return self.expr.n_nodes if self.expr is not None else len(self.table) + 1

    def _check_output(self, ctx, types: list[ValueType]) -> ValueType:
        problems = []
        F.int_or_float(self.default, "default")
        vec_args = [t for t in types if t.kind == "vec"]
        for name, t in zip("xy", types):
            if t.kind not in ("cat", "num", "vec"):
                problems.append(f"argument {name} must be cat, num or vec, got {t}")
        if problems:
            raise ProgramError(problems)
        if self.table is not None:
            if any(t.kind != "cat" for t in types):
                raise ProgramError("a lookup table needs cat arguments (use an expression for num/vec)")
            for axis, t in enumerate(types):
                size = ctx.size(t.basis)
                bad = [e[axis] for e in self.table if not 0 <= e[axis] < size]
                if bad:
                    raise ProgramError(f"table key {bad[0]} outside basis {t.basis} of size {size}")
        elif "i" in self.expr.names_used and not vec_args:
            raise ProgramError("the name i (basis index) is only defined when an argument is a vec")
        if vec_args:
            if self.basis is not None:
                raise ProgramError("an elementwise map over a vec has no output basis")
            if len({t.basis for t in vec_args}) > 1:
                raise ProgramError(f"vec arguments over different bases {vec_args[0].basis} and {vec_args[1].basis}")
            return ValueType("vec", vec_args[0].basis)
        if self.basis is None:
            return NUM
        size = ctx.size(self.basis.name)
        values = [self.default] + ([e[-1] for e in self.table] if self.table is not None else [])
        bad = [v for v in values if not (F.is_int(v) and 0 <= v < size)]
        if bad:
            raise ProgramError(f"category {bad[0]!r} (value or default) outside basis {self.basis.name} of size {size}")
        return ValueType("cat", self.basis.name)

    def _fn_fields(self) -> dict:
        out = {"expr": self.expr.source} if self.expr is not None else {"table": [list(e) for e in self.table]}
        out["default"] = self.default
        out["basis"] = self.basis.name if self.basis is not None else None
        return out

    @classmethod
    def _parse_fn(cls, obj, basis, variables) -> dict:
        if ("expr" in obj) == ("table" in obj):
            raise ProgramError("exactly one of the fields 'expr' and 'table' is needed")
        name = obj.get("basis")
        base = basis(F.check_name(name, "field 'basis'")) if name is not None else None
        default = obj.get("default", 0)
        default = F.int_or_float(default, "field 'default'")
        if "expr" in obj:
            return {"expr": Expr(obj["expr"], variables), "table": None, "default": default, "basis": base}
        return {"expr": None, "table": _table_entries(obj["table"], cls.arity, "field 'table'"), "default": default,
                "basis": base}

    # ----- evaluation helpers ------------------------------------------------------
    def _dense_table(self, sizes: list[int], categorical: bool) -> np.ndarray:
        dtype = np.int64 if categorical else np.float64
        dense = np.full(sizes, self.default, dtype=dtype)
        for entry in self.table:
            dense[entry[:-1]] = entry[-1]
        return dense

    def _finish_np(self, values: np.ndarray, out: ValueType, ctx) -> np.ndarray:
        if out.kind == "cat":
            return to_cat_np(values, ctx.sizes[out.basis], self.default)
        return values

    def _finish_one(self, value: float, out: ValueType, ctx):
        if out.kind == "cat":
            return to_cat(value, ctx.sizes[out.basis], self.default)
        return value

    def _fn_text(self, args: list[str], out_kind: str) -> str:
        if self.table is not None:
            shown = ", ".join(
                f"{e[0] if len(e) == 2 else tuple(e[:-1])}: {e[-1]!r}" for e in self.table[:8]
            ) + (f", ... {len(self.table)} entries" if len(self.table) > 8 else "")
            return f"lookup({', '.join(args)}, {{{shown}}}, default={self.default!r})"
        text = self.expr.render(dict(zip("xy", args)))
        if out_kind == "cat":
            return f"categorical({text}{', default=' + repr(self.default) if self.default else ''})"
        return f"{'elementwise' if 'vec' == out_kind else 'numerical'}({text})"


@register_op
@dataclass(frozen=True, eq=False)
class Map(_Function, Node):
    """``f(x)`` at every position."""

    x: Node
    expr: Expr | None = None
    table: tuple | None = None
    default: float | int = 0
    basis: Basis | None = None

    op: ClassVar[str] = "map"
    arity: ClassVar[int] = 1

    def inputs(self):
        return (self.x,)

    def typecheck(self, ctx, types):
        return self._check_output(ctx, types)

    def to_fields(self, ref):
        return {"x": ref(self.x), **self._fn_fields()}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("x",), ("expr", "table", "default", "basis"))
        return cls(node(F.field(obj, "x", F.ref_id)), **cls._parse_fn(obj, basis, MAP_VARIABLES))

    def run_batch(self, ctx, x):
        out, (tx,) = ctx.out, ctx.in_types
        if self.table is not None:
            return self._dense_table([ctx.sizes[tx.basis]], out.kind == "cat")[x]
        if out.kind == "vec":
            return _over_entries(self.expr, {"x": x}, x.shape[-1])
        if tx.kind == "cat":  # evaluate once per category, then index
            grid = np.arange(ctx.sizes[tx.basis], dtype=np.float64)
            return self._finish_np(self.expr.eval_np({"x": grid}), out, ctx)[x]
        return self._finish_np(self.expr.eval_np({"x": x}), out, ctx)

    def run_one(self, ctx, x):
        out = ctx.out
        if self.table is not None:
            lookup = {e[0]: e[1] for e in self.table}
            convert = int if out.kind == "cat" else float
            return [convert(lookup.get(v, self.default)) for v in x]
        if out.kind == "vec":
            return [[self.expr.eval_scalar({"x": e, "i": float(i)}) for i, e in enumerate(v)] for v in x]
        return [self._finish_one(self.expr.eval_scalar({"x": float(v)}), out, ctx) for v in x]

    def render(self, args, out):
        return self._fn_text(args, out.kind)


@register_op
@dataclass(frozen=True, eq=False)
class SequenceMap(_Function, Node):
    """``f(x, y)`` at every position."""

    x: Node
    y: Node
    expr: Expr | None = None
    table: tuple | None = None
    default: float | int = 0
    basis: Basis | None = None

    op: ClassVar[str] = "sequence_map"
    arity: ClassVar[int] = 2

    def inputs(self):
        return (self.x, self.y)

    def typecheck(self, ctx, types):
        return self._check_output(ctx, types)

    def to_fields(self, ref):
        return {"x": ref(self.x), "y": ref(self.y), **self._fn_fields()}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("x", "y"), ("expr", "table", "default", "basis"))
        x, y = node(F.field(obj, "x", F.ref_id)), node(F.field(obj, "y", F.ref_id))
        return cls(x, y, **cls._parse_fn(obj, basis, SEQUENCE_MAP_VARIABLES))

    def run_batch(self, ctx, x, y):
        out = ctx.out
        if self.table is not None:
            dense = self._dense_table([ctx.sizes[t.basis] for t in ctx.in_types], out.kind == "cat")
            return dense[x, y]
        if out.kind == "vec":
            x = x if x.ndim == 3 else x[..., None]
            y = y if y.ndim == 3 else y[..., None]
            n = max(x.shape[-1], y.shape[-1])
            return _over_entries(self.expr, {"x": x, "y": y}, n)
        sizes = [ctx.sizes[t.basis] if t.kind == "cat" else None for t in ctx.in_types]
        if None not in sizes and sizes[0] * sizes[1] <= _DENSE_GRID:
            gx, gy = np.meshgrid(np.arange(sizes[0], dtype=np.float64), np.arange(sizes[1], dtype=np.float64),
                                 indexing="ij")
            return self._finish_np(self.expr.eval_np({"x": gx, "y": gy}), out, ctx)[x, y]
        return self._finish_np(self.expr.eval_np({"x": x, "y": y}), out, ctx)

    def run_one(self, ctx, x, y):
        out = ctx.out
        if self.table is not None:
            lookup = {(e[0], e[1]): e[2] for e in self.table}
            convert = int if out.kind == "cat" else float
            return [convert(lookup.get((a, b), self.default)) for a, b in zip(x, y)]
        if out.kind == "vec":
            rows = []
            for a, b in zip(x, y):
                n = len(a) if isinstance(a, list) else len(b)
                row = []
                for i in range(n):
                    xa = a[i] if isinstance(a, list) else float(a)
                    yb = b[i] if isinstance(b, list) else float(b)
                    row.append(self.expr.eval_scalar({"x": xa, "y": yb, "i": float(i)}))
                rows.append(row)
            return rows
        return [self._finish_one(self.expr.eval_scalar({"x": float(a), "y": float(b)}), out, ctx) for a, b in zip(x, y)]

    def render(self, args, out):
        return self._fn_text(args, out.kind)
