"""Value types: what a variable holds at every position.

- ``cat``: an integer category in ``range(basis.size)``;
- ``num``: a float;
- ``vec``: a float vector indexed by the categories of a basis;
- ``sel``: a hard selector, a boolean (query, key) matrix;
- ``soft``: a soft selector, attention weights over the keys of every query.

A :class:`Basis` is a named finite set of categories ``0..size-1``. Three names
are standard and sized by the program: ``tokens`` (the vocabulary),
``positions`` (``n_positions``) and ``bool`` (2). Any other name is a custom
basis whose size is given where it is first used and must agree everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["cat", "num", "vec", "sel", "soft"]
STANDARD_BASES = ("tokens", "positions", "bool")


@dataclass(frozen=True)
class Basis:
    """A named finite basis; ``size`` is None for ``tokens``/``positions`` until a program sizes them."""

    name: str
    size: int | None = None

    def __str__(self) -> str:
        if self.name in STANDARD_BASES or self.size is None:
            return self.name
        return f"{self.name}:{self.size}"


TOKENS = Basis("tokens")
POSITIONS = Basis("positions")
BOOL = Basis("bool", 2)


def as_basis(spec) -> Basis:
    """``"tokens"``/``"positions"``/``"bool"``, an int ``n`` (basis ``range{n}``), a ``(name, size)`` or a Basis."""
    if isinstance(spec, Basis):
        return BOOL if spec.name == "bool" else spec
    if isinstance(spec, str):
        if spec == "bool":
            return BOOL
        return Basis(spec)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return Basis(f"range{spec}", spec)
    if isinstance(spec, tuple) and len(spec) == 2:
        return Basis(str(spec[0]), spec[1])
    raise TypeError(f"not a basis: {spec!r} (use 'tokens', 'positions', 'bool', an int size or Basis(name, size))")


@dataclass(frozen=True)
class ValueType:
    """The type of a variable: its kind and, for cat/vec, its basis name."""

    kind: Kind
    basis: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}[{self.basis}]" if self.basis else self.kind


NUM = ValueType("num")
SEL = ValueType("sel")
SOFT = ValueType("soft")


def cat(basis: str) -> ValueType:
    return ValueType("cat", basis)


def vec(basis: str) -> ValueType:
    return ValueType("vec", basis)
