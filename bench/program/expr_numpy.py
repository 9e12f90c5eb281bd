"""The vectorized evaluator of :class:`.expr.Expr`: the checked tree walked over numpy arrays.

It gives the same bits as the scalar evaluator in :mod:`.expr` (the reference) on every
input, by the rules written there. Two things make it cheaper without changing a bit:
comparisons and ``and``/``or``/``not`` stay numpy booleans, which arithmetic reads as
1.0/0.0 through its float64 loops, and an arithmetic result is clipped to
``[-MAX_VALUE, MAX_VALUE]`` only when the interval known to hold it (from the constants, the
bounds given for variables such as ``i``, and the operators) reaches the limit.
"""

from __future__ import annotations

import ast
import math
from typing import Callable

import numpy as np

from . import detmath
from .errors import MAX_VALUE


def evaluate(tree: ast.AST, env: dict[str, np.ndarray], bounds: dict) -> np.ndarray:
    """The value of a checked expression tree on broadcastable float arrays (boolean where it is a
    truth value); ``bounds`` may give an interval holding every value of a variable."""
    return _eval_np(tree, env, bounds)[0]


def _clip_np(v):
    # Inputs are finite and within +-MAX_VALUE, so an arithmetic result can overflow to +-inf but
    # never be NaN (no inf - inf or 0 * inf can arise): clipping alone restores the invariant.
    v = np.asarray(v, dtype=np.float64)
    return np.clip(v, -MAX_VALUE, MAX_VALUE, out=v if v.flags.writeable and v.ndim else None)


def _np_div(a, b):
    zero = b == 0
    return np.where(zero, 0.0, a / np.where(zero, 1.0, b))


def _np_floordiv(a, b):
    zero = b == 0
    return np.where(zero, 0.0, np.floor(a / np.where(zero, 1.0, b)))


def _np_mod(a, b):
    zero = b == 0
    safe = np.where(zero, 1.0, b)
    return np.where(zero, 0.0, a - safe * np.floor(a / safe))


_NP_BIN: dict[type, Callable] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: _np_div,
    ast.FloorDiv: _np_floordiv,
    ast.Mod: _np_mod,
    ast.Pow: detmath.power_np,
}
_NP_CMP: dict[type, Callable] = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
_NP_FUN: dict[str, Callable] = {
    "abs": np.abs,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": lambda a: np.floor(a + 0.5),
}


#: An interval known to hold every value of a subexpression (``_eval_np``).
Bounds = tuple[float, float]
_ANY: Bounds = (-MAX_VALUE, MAX_VALUE)
_TRUTH: Bounds = (0.0, 1.0)


def _float(v) -> np.ndarray:
    """A boolean result as the 1.0/0.0 floats the language defines (numbers unchanged)."""
    return v.astype(np.float64) if v.dtype == np.bool_ else v


def _finish(v: np.ndarray, bounds: Bounds) -> tuple[np.ndarray, Bounds]:
    """An arithmetic result, clipped to ``[-MAX_VALUE, MAX_VALUE]`` unless its bounds show that clipping
    would change nothing (half the limit: a margin for the rounding of the bounds themselves)."""
    if max(-bounds[0], bounds[1]) <= MAX_VALUE / 2:
        return v, bounds
    return _clip_np(v), (max(bounds[0], -MAX_VALUE), min(bounds[1], MAX_VALUE))


def _bounds_of(op: ast.operator, a: Bounds, b: Bounds) -> Bounds:
    """Bounds of ``a op b`` for + - * (every other operator: the whole range)."""
    if isinstance(op, ast.Add):
        return a[0] + b[0], a[1] + b[1]
    if isinstance(op, ast.Sub):
        return a[0] - b[1], a[1] - b[0]
    if isinstance(op, ast.Mult):
        products = [x * y for x in a for y in b]
        return min(products), max(products)
    return -math.inf, math.inf


def _eval_np(node: ast.AST, env: dict, bounds: dict) -> tuple[np.ndarray, Bounds]:
    """(value, bounds) of ``node``. Comparisons and ``and``/``or``/``not`` give numpy booleans, which every
    arithmetic step reads as 1.0/0.0 (the float64 loops are asked for), so no float copy of a truth value
    is made; an arithmetic result is clipped only when its bounds reach the limit. Both change no bit."""
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return np.float64(value), (value, value)
    if isinstance(node, ast.Name):
        return np.asarray(env[node.id], dtype=np.float64), bounds.get(node.id, _ANY)
    with np.errstate(all="ignore"):
        if isinstance(node, ast.BinOp):
            (a, ba), (b, bb) = _eval_np(node.left, env, bounds), _eval_np(node.right, env, bounds)
            op = _NP_BIN[type(node.op)]
            if isinstance(op, np.ufunc):
                return _finish(op(a, b, dtype=np.float64), _bounds_of(node.op, ba, bb))
            return _finish(op(_float(a), _float(b)), (-math.inf, math.inf))
        if isinstance(node, ast.UnaryOp):
            value, b = _eval_np(node.operand, env, bounds)
            if isinstance(node.op, ast.Not):
                return value == 0, _TRUTH
            return (-_float(value), (-b[1], -b[0])) if isinstance(node.op, ast.USub) else (value, b)
        if isinstance(node, ast.BoolOp):
            truth = [_truth(_eval_np(v, env, bounds)[0]) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = truth[0]
            for t in truth[1:]:
                out = combine(out, t)
            return np.asarray(out), _TRUTH
        if isinstance(node, ast.Compare):
            left, out = _eval_np(node.left, env, bounds)[0], True
            for op, right_node in zip(node.ops, node.comparators):
                right = _eval_np(right_node, env, bounds)[0]
                out = np.logical_and(out, _NP_CMP[type(op)](left, right))
                left = right
            return np.asarray(out), _TRUTH
        if isinstance(node, ast.IfExp):
            test = _truth(_eval_np(node.test, env, bounds)[0])
            (body, bb), (orelse, bo) = _eval_np(node.body, env, bounds), _eval_np(node.orelse, env, bounds)
            return np.where(test, body, orelse), (min(bb[0], bo[0]), max(bb[1], bo[1]))
        if isinstance(node, ast.Call):
            args = [_eval_np(a, env, bounds) for a in node.args]
            name = node.func.id
            if name in ("min", "max"):
                reduce = np.minimum if name == "min" else np.maximum
                out = args[0][0]
                for a, _ in args[1:]:
                    out = reduce(out, a)
                lows, highs = [b[0] for _, b in args], [b[1] for _, b in args]
                return out, ((min(lows), min(highs)) if name == "min" else (max(lows), max(highs)))
            (value, b), = args
            reach = max(-b[0], b[1]) + 1  # |result| <= |argument| + 1: no clipping needed
            return _NP_FUN[name](_float(value)), (-reach, reach)
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse() rules this out


def _truth(value: np.ndarray) -> np.ndarray:
    return value if value.dtype == np.bool_ else value != 0
