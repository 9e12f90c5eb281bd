"""The named library of elementwise nonlinearities (``apply(name, x, ...)``).

Each entry says which value kinds it accepts, the type it produces, its
parameters, and how it computes: once vectorized over numpy arrays (leading
axes are batch and position, the last axis of a ``vec`` is its basis) and once
on a single position in plain Python (for the reference interpreter).

================  ==========  =========  ========================================
name              input       output     value at one position
================  ==========  =========  ========================================
``onehot``        cat[B]      vec[B]     e_x
``argmax``        vec[B]      cat[B]     first index of the largest entry
``harden``        vec[B]      vec[B]     onehot(argmax(x))
``relu``          num/vec     same       max(x, 0)
``threshold``     num/vec     same       1.0 where x > t else 0.0 (param ``t``, default 0)
``normalize``     vec[B]      vec[B]     x / sum(x), zeros when the sum is 0
``sharpen``       vec[B]      vec[B]     normalize(relu(x) ** power) (param ``power``, default 2)
``component``     vec[B]      num        x[index] (param ``index``)
``sum``           vec[B]      num        sum of the entries
``max``           vec[B]      num        largest entry
================  ==========  =========  ========================================

Numerics: sums (``sum``, ``normalize``) run left to right over the basis in
both implementations, and ``sharpen``'s power is repeated squaring
(:func:`.detmath.ipow`), so both give the same bits on every machine.

To add one, write a :class:`Nonlinearity` and call :func:`register_nonlinearity`
(vectorized and scalar versions must do the same float operations in the same
order, or be exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from bench.registry import Registry

from . import detmath
from .errors import MAX_CONSTANT, MAX_VALUE, ProgramError
from .fields import number
from .vtypes import NUM, ValueType


@dataclass(frozen=True)
class Param:
    """A parameter: its Python type (int or float), default and allowed range."""

    type: type
    default: float | int | None
    low: float = -MAX_CONSTANT
    high: float = MAX_CONSTANT


@dataclass(frozen=True)
class Nonlinearity:
    name: str
    inputs: tuple[str, ...]  # accepted kinds of the input value
    params: dict[str, Param]
    out: Callable[[ValueType, dict], ValueType]  # output type from the input type and params
    vectorized: Callable[[np.ndarray, dict], np.ndarray]
    scalar: Callable[[object, dict], object]  # one position: int / float / list[float]
    doc: str = ""


#: The nonlinearities ``apply`` may name, by name.
NONLINEARITIES: Registry[Nonlinearity] = Registry("nonlinearity", ProgramError)


def register_nonlinearity(entry: Nonlinearity) -> Nonlinearity:
    return NONLINEARITIES.add(entry.name, entry)


def _same(t: ValueType, p: dict) -> ValueType:
    return t


def _to_vec(t: ValueType, p: dict) -> ValueType:
    return ValueType("vec", t.basis)


def _to_cat(t: ValueType, p: dict) -> ValueType:
    return ValueType("cat", t.basis)


def _to_num(t: ValueType, p: dict) -> ValueType:
    return NUM


# ----- vectorized implementations -----------------------------------------------


def _np_onehot(x: np.ndarray, p: dict) -> np.ndarray:
    size = p["_size"]
    return (x[..., None] == np.arange(size)).astype(np.float64)


def _np_harden(x: np.ndarray, p: dict) -> np.ndarray:
    return _np_onehot(np.argmax(x, axis=-1), {"_size": x.shape[-1]})


def _np_sum(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis left to right from +0.0, like the reference (numpy's ``sum`` is pairwise)."""
    return np.cumsum(x + 0.0, axis=-1)[..., -1] if x.shape[-1] else np.zeros(x.shape[:-1])


def _np_normalize(x: np.ndarray) -> np.ndarray:
    total = _np_sum(x)[..., None]
    zero = total == 0
    return np.where(zero, 0.0, x / np.where(zero, 1.0, total))


def _np_sharpen(x: np.ndarray, p: dict) -> np.ndarray:
    powered = np.minimum(detmath.ipow_np(np.maximum(x, 0.0), p["power"]), MAX_VALUE)
    return _np_normalize(powered)


# ----- plain-Python implementations (one position) ------------------------------


def _argmax(values: list[float]) -> int:
    best = 0
    for index, value in enumerate(values):
        if value > values[best]:
            best = index
    return best


def _normalize(values: list[float]) -> list[float]:
    total = 0.0
    for v in values:
        total += v
    return [0.0 if total == 0 else v / total for v in values]


def _elementwise(f: Callable[[float], float]) -> Callable[[object, dict], object]:
    def apply(x, p):
        return [f(v, p) for v in x] if isinstance(x, list) else f(x, p)

    return apply


def _sharpen(x: list[float], p: dict) -> list[float]:
    return _normalize([min(detmath.ipow(max(v, 0.0), p["power"]), MAX_VALUE) for v in x])


def _sum(x: list[float], p: dict) -> float:
    total = 0.0
    for v in x:
        total += v
    return total


for _entry in [
    Nonlinearity(
        "onehot", ("cat",), {}, _to_vec, _np_onehot,
        lambda x, p: [1.0 if i == x else 0.0 for i in range(p["_size"])],
        "one-hot vector of a category",
    ),
    Nonlinearity(
        "argmax", ("vec",), {}, _to_cat, lambda x, p: np.argmax(x, axis=-1).astype(np.int64),
        lambda x, p: _argmax(x), "first index of the largest entry",
    ),
    Nonlinearity(
        "harden", ("vec",), {}, _same, _np_harden,
        lambda x, p: [1.0 if i == _argmax(x) else 0.0 for i in range(len(x))], "one-hot of the argmax",
    ),
    Nonlinearity(
        "relu", ("num", "vec"), {}, _same, lambda x, p: np.maximum(x, 0.0),
        _elementwise(lambda v, p: max(v, 0.0)), "max(x, 0) elementwise",
    ),
    Nonlinearity(
        "threshold", ("num", "vec"), {"t": Param(float, 0.0)}, _same,
        lambda x, p: (x > p["t"]).astype(np.float64),
        _elementwise(lambda v, p: 1.0 if v > p["t"] else 0.0), "1.0 where x > t else 0.0",
    ),
    Nonlinearity(
        "normalize", ("vec",), {}, _same, lambda x, p: _np_normalize(x),
        lambda x, p: _normalize(x), "x / sum(x), zeros when the sum is 0",
    ),
    Nonlinearity(
        "sharpen", ("vec",), {"power": Param(int, 2, 1, 16)}, _same, _np_sharpen, _sharpen,
        "normalize(relu(x) ** power)",
    ),
    Nonlinearity(
        "component", ("vec",), {"index": Param(int, None, 0, 1 << 20)}, _to_num,
        lambda x, p: x[..., p["index"]], lambda x, p: x[p["index"]], "x[index]",
    ),
    Nonlinearity("sum", ("vec",), {}, _to_num, lambda x, p: _np_sum(x), _sum, "sum of the entries"),
    Nonlinearity("max", ("vec",), {}, _to_num, lambda x, p: x.max(-1), lambda x, p: max(x), "largest entry"),
]:
    register_nonlinearity(_entry)


def check_params(entry: Nonlinearity, params: dict) -> list[str]:
    """Problems with ``params`` for ``entry`` (unknown names, wrong types, out of range)."""
    problems = []
    for key in params:
        if key not in entry.params:
            shown = repr(key)[:30]
            problems.append(f"{entry.name}: unknown parameter {shown} (known: {', '.join(entry.params) or 'none'})")
    for key, spec in entry.params.items():
        if key not in params:
            if spec.default is None:
                problems.append(f"{entry.name}: parameter {key!r} is required")
            continue
        try:
            number(params[key], f"{entry.name}: parameter {key!r}", integer=spec.type is int, low=spec.low,
                   high=spec.high)
        except ProgramError as err:
            problems.extend(err.problems)
    return problems


def resolved_params(entry: Nonlinearity, params: dict) -> dict:
    """Defaults filled in, values cast to their declared types."""
    out = {}
    for key, spec in entry.params.items():
        value = params.get(key, spec.default)
        out[key] = spec.type(value)
    return out
