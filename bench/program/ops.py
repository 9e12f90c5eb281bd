"""The operation kinds of the language: base class, registry, inputs and constants.

Every operation kind is ONE registered frozen dataclass (:func:`register_op`)
that says everything about it:

- ``inputs()``: the variables it reads (a program is the DAG they form);
- ``typecheck(ctx, input_types)``: its parameters and input types, giving its
  own :class:`ValueType` (raises :class:`ProgramError` with every problem);
- ``to_fields`` / ``from_fields``: its JSON form;
- ``n_params()``: its size cost; ``is_attention``: whether it is a layer;
- ``run_batch(ctx, *values)``: the vectorized interpreter (numpy over a
  padded batch, selectors as ``(B, T, T)`` query-by-key arrays);
- ``run_one(ctx, *values)``: the reference interpreter (plain Python lists
  over one sequence);
- ``render(args)``: its line in the pretty-printed program.

Nodes are immutable and compared by identity; programs compare by their JSON.
The other kinds live in :mod:`.ops_map`, :mod:`.ops_attention`, :mod:`.ops_soft` and
:mod:`.ops_dense`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np

from bench.registry import Registry

from . import fields as F
from .errors import ProgramError
from .vtypes import BOOL, NUM, SEL, Basis, ValueType, as_basis

#: Operation classes by their ``op`` name (the ``"op"`` field of a program's JSON nodes).
OPS: Registry[type["Node"]] = Registry("op", ProgramError)


def register_op(cls: type["Node"]) -> type["Node"]:
    """Class decorator: make ``cls`` a known operation kind under ``cls.op``."""
    return OPS.add(cls.op, cls)


@dataclass
class CheckContext:
    """What type checking needs to know about the program: basis sizes."""

    sizes: dict[str, int]

    def size(self, basis: str) -> int:
        if basis not in self.sizes:
            raise ProgramError(f"unknown basis {basis!r}")
        return self.sizes[basis]


@dataclass
class BatchContext:
    """The vectorized interpreter's view of one padded batch."""

    tokens: np.ndarray  # (B, T) int64
    sizes: dict[str, int]
    in_types: list[ValueType] = field(default_factory=list)  # of the node being run
    out: ValueType | None = None  # the node's own type

    @property
    def shape(self) -> tuple[int, int]:
        return self.tokens.shape

    @property
    def causal(self) -> np.ndarray:  # (T, T) bool: query i sees key j <= i
        T = self.tokens.shape[1]
        return np.tri(T, T, dtype=bool)


@dataclass
class SeqContext:
    """The reference interpreter's view of one sequence."""

    tokens: list[int]
    sizes: dict[str, int]
    in_types: list[ValueType] = field(default_factory=list)  # of the node being run
    out: ValueType | None = None  # the node's own type


@dataclass(frozen=True, eq=False)
class Node:
    """A variable of a program: the operation that computes it, and an optional name."""

    label: str | None = field(default=None, kw_only=True)

    op: ClassVar[str] = ""
    is_leaf: ClassVar[bool] = False  # inputs and constants: not counted in n_ops
    is_attention: ClassVar[bool] = False  # counts as one layer in depth

    # ----- structure -----------------------------------------------------------
    def inputs(self) -> tuple["Node", ...]:
        return ()

    def bases(self) -> tuple[Basis, ...]:
        """The bases this node names in its own parameters."""
        return ()

    def named(self, name: str) -> "Node":
        """A copy of this variable carrying ``name`` (used as its id and in printing)."""
        return dataclasses.replace(self, label=F.check_name(name, "a variable name"))

    # ----- selectors compose with & | ~ ---------------------------------------
    def __and__(self, other: "Node") -> "Node":
        from .ops_attention import SelectorAnd

        return SelectorAnd(self, _node(other, "&"))

    def __or__(self, other: "Node") -> "Node":
        from .ops_attention import SelectorOr

        return SelectorOr(self, _node(other, "|"))

    def __invert__(self) -> "Node":
        from .ops_attention import SelectorNot

        return SelectorNot(self)

    def __repr__(self) -> str:
        return f"<{self.op}{' ' + self.label if self.label else ''}>"

    # ----- to be provided by every operation kind ------------------------------
    def typecheck(self, ctx: CheckContext, types: list[ValueType]) -> ValueType:
        raise NotImplementedError

    def n_params(self) -> int:
        return 0

    def to_fields(self, ref: Callable[["Node"], str]) -> dict:
        return {}

    @classmethod
    def from_fields(cls, obj: dict, node: Callable[[str], "Node"], basis: Callable[[str], Basis]) -> "Node":
        F.check_keys(obj, ())
        return cls()

    def run_batch(self, ctx: BatchContext, *values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def run_one(self, ctx: SeqContext, *values: list) -> list:
        raise NotImplementedError

    def render(self, args: list[str], out: ValueType) -> str:
        return f"{self.op}({', '.join(args)})"


def _node(value, where: str) -> Node:
    if not isinstance(value, Node):
        raise ProgramError(f"{where}: expected a program variable, got {type(value).__name__}")
    return value


def expect_kind(what: str, t: ValueType, *kinds: str) -> None:
    if t.kind not in kinds:
        raise ProgramError(f"{what} must be {' or '.join(kinds)}, got {t}")


# ----- inputs and constants ----------------------------------------------------------


@register_op
@dataclass(frozen=True, eq=False)
class Tokens(Node):
    """The input token ids: ``cat[tokens]``."""

    op: ClassVar[str] = "tokens"
    is_leaf: ClassVar[bool] = True

    def typecheck(self, ctx, types):
        return ValueType("cat", "tokens")

    def run_batch(self, ctx, *values):
        return ctx.tokens

    def run_one(self, ctx, *values):
        return list(ctx.tokens)


@register_op
@dataclass(frozen=True, eq=False)
class Indices(Node):
    """The positions ``0..T-1``: ``cat[positions]``."""

    op: ClassVar[str] = "indices"
    is_leaf: ClassVar[bool] = True

    def typecheck(self, ctx, types):
        return ValueType("cat", "positions")

    def run_batch(self, ctx, *values):
        B, T = ctx.shape
        return np.broadcast_to(np.arange(T, dtype=np.int64), (B, T))

    def run_one(self, ctx, *values):
        return list(range(len(ctx.tokens)))


@register_op
@dataclass(frozen=True, eq=False)
class Constant(Node):
    """The same value at every position: ``cat`` (an int in ``basis``), ``num`` or ``vec`` over ``basis``."""

    kind: str
    value: object  # int (cat), float (num) or a read-only 1-d float array (vec)
    basis: Basis | None = None

    op: ClassVar[str] = "constant"
    is_leaf: ClassVar[bool] = True

    def bases(self):
        return (self.basis,) if self.basis is not None else ()

    def typecheck(self, ctx, types):
        if self.kind == "num":
            if self.basis is not None:
                raise ProgramError("a num constant has no basis")
            return NUM
        if self.basis is None:
            raise ProgramError(f"a {self.kind} constant needs a basis")
        size = ctx.size(self.basis.name)
        if self.kind == "cat":
            if not 0 <= self.value < size:
                raise ProgramError(f"value {self.value} outside basis {self.basis.name} of size {size}")
        elif len(self.value) != size:
            raise ProgramError(f"vector of length {len(self.value)} for basis {self.basis.name} of size {size}")
        return ValueType(self.kind, self.basis.name)

    def n_params(self):
        return len(self.value) if self.kind == "vec" else 1

    def to_fields(self, ref):
        value = [float(v) for v in self.value] if self.kind == "vec" else self.value
        return {"kind": self.kind, "value": value, "basis": self.basis.name if self.basis else None}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("kind", "value"), ("basis",))
        kind = obj["kind"]
        name = obj.get("basis")
        base = basis(F.check_name(name, "field 'basis'")) if name is not None else None
        if kind == "cat":
            return cls("cat", F.field(obj, "value", F.number, integer=True), base)
        if kind == "num":
            return cls("num", F.field(obj, "value", F.number), base)
        if kind == "vec":
            return cls("vec", F.field(obj, "value", F.array, 1), base)
        raise ProgramError(f"field 'kind' must be 'cat', 'num' or 'vec', got {str(kind)[:20]!r}")

    def run_batch(self, ctx, *values):
        B, T = ctx.shape
        if self.kind == "vec":
            return np.broadcast_to(np.asarray(self.value), (B, T, len(self.value)))
        dtype = np.int64 if self.kind == "cat" else np.float64
        return np.full((B, T), self.value, dtype=dtype)

    def run_one(self, ctx, *values):
        value = [float(v) for v in self.value] if self.kind == "vec" else self.value
        return [value for _ in ctx.tokens]

    def render(self, args, out):
        value = "[" + ", ".join(f"{v:g}" for v in self.value) + "]" if self.kind == "vec" else repr(self.value)
        return f"constant({value}{', basis=' + str(self.basis) if self.basis else ''})"


def make_constant(value, basis=None) -> Constant:
    """``constant(3, basis="bool")`` (cat), ``constant(0.5)`` (num), ``constant([...], basis=...)`` (vec)."""
    base = as_basis(basis) if basis is not None else None
    if isinstance(value, (list, tuple, np.ndarray)):
        return Constant("vec", F.array(value, "constant", 1), base)
    if base is not None:
        return Constant("cat", F.number(value, "constant", integer=True), base)
    return Constant("num", F.number(value, "constant"), None)


__all__ = ["OPS", "register_op", "Node", "Tokens", "Indices", "Constant", "BOOL", "SEL"]
