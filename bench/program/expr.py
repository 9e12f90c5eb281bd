"""The safe expression language of maps and select predicates.

An expression is a Python-syntax formula over a few named variables (``x`` for
``map``; ``x, y`` for ``sequence_map``; ``k, q`` for a select predicate; plus
``i``, the basis index, when a map runs elementwise over a ``vec``). It is
parsed with :mod:`ast` and every node checked against a whitelist:

- numbers (int, float, True/False), the allowed variable names;
- ``+ - * / // % **``, unary ``- + not``, ``and or``, comparisons (chains too),
  ``a if c else b``;
- calls of ``min(a, b, ...)``, ``max(...)``, ``abs(a)``, ``floor(a)``,
  ``ceil(a)``, ``round(a)``.

Anything else (attribute access, subscripts, other calls, lambdas, strings,
comprehensions, unknown or dunder names) is refused with a :class:`ProgramError`.
Nothing is ever passed to ``eval``/``exec``/``compile``: the checked tree is
walked by two small evaluators, one vectorized over numpy arrays and one on
Python floats (for the reference interpreter).

Semantics (identical in both evaluators): every value is a float64; booleans
are 1.0/0.0 and any nonzero number is true; ``a and b``/``a or b``/``not a``
give 1.0 or 0.0. ``a / 0``, ``a // 0`` and ``a % 0`` are 0. ``a // b`` is
``floor(a / b)`` and ``a % b`` is ``a - b * floor(a / b)``. ``round(a)`` is
``floor(a + 0.5)`` (half up). ``a ** b`` is 0 when ``a == 0 and b < 0`` or
when ``a < 0`` and ``b`` is not an integer; for an integer ``b`` it is computed
by repeated squaring (exact whenever the result is an integer or a power of
two), otherwise as ``exp(b * log(a))`` with the language's own ``exp`` and
``log`` (:mod:`.detmath`), never with a library ``pow``: both evaluators give
the same bits on every machine. After every operation the result is clipped to
``[-MAX_VALUE, MAX_VALUE]`` (NaN becomes 0), so expressions like
``10 ** 10 ** 10`` are harmless.
"""

from __future__ import annotations

import ast
import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import detmath
from .errors import MAX_CONSTANT, MAX_EXPR_CHARS, MAX_EXPR_DEPTH, MAX_EXPR_NODES, MAX_VALUE, ProgramError

FUNCTIONS = {"min": (2, 8), "max": (2, 8), "abs": (1, 1), "floor": (1, 1), "ceil": (1, 1), "round": (1, 1)}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}
_BOOLOPS = {ast.And: "and", ast.Or: "or"}
_DESCRIBE = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.Starred: "starred arguments",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.NamedExpr: "assignment expressions",
    ast.JoinedStr: "strings",
}


def _problem(source: str, what: str) -> ProgramError:
    shown = source if len(source) <= 60 else source[:57] + "..."
    return ProgramError(f"expression {shown!r}: {what}")


@dataclass(frozen=True)
class Expr:
    """A checked expression over ``variables``; equal when the source and variables are equal.

    >>> Expr("x + 1", ("x",)).eval_scalar({"x": 2.0})
    3.0
    """

    source: str
    variables: tuple[str, ...]
    _tree: ast.AST = field(init=False, repr=False, compare=False)
    n_nodes: int = field(init=False, repr=False, compare=False)
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        tree, n_nodes, depth = parse(self.source, self.variables)
        object.__setattr__(self, "_tree", tree)
        object.__setattr__(self, "n_nodes", n_nodes)
        object.__setattr__(self, "depth", depth)

    @property
    def names_used(self) -> set[str]:
        return {n.id for n in ast.walk(self._tree) if isinstance(n, ast.Name) and n.id not in FUNCTIONS}

    def eval_np(self, env: dict[str, np.ndarray], bounds: dict[str, tuple[float, float]] | None = None) -> np.ndarray:
        """Evaluate on broadcastable float arrays; returns a float64 array of their broadcast shape.

        ``bounds`` may give an interval holding every value of a variable (e.g. ``i``, the basis
        index); it only lets the evaluator skip clips that would change nothing.
        """
        shape = np.broadcast_shapes(*(np.shape(v) for v in env.values()))
        value, _ = _eval_np(self._tree, env, bounds or {})
        return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)

    def eval_scalar(self, env: dict[str, float]) -> float:
        """Evaluate on Python floats (the reference evaluator)."""
        return _eval_scalar(self._tree, env)

    def render(self, names: dict[str, str]) -> str:
        """The source with variables renamed (for pretty-printing)."""

        class Rename(ast.NodeTransformer):
            def visit_Name(self, node):
                return ast.Name(id=names.get(node.id, node.id), ctx=ast.Load())

        return ast.unparse(Rename().visit(copy.deepcopy(self._tree)))


def parse(source: str, variables: tuple[str, ...]) -> tuple[ast.AST, int, int]:
    """Parse and check ``source``; returns (tree, node count, depth) or raises ProgramError."""
    if not isinstance(source, str):
        raise ProgramError(f"an expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_EXPR_CHARS:
        raise _problem(source, f"longer than {MAX_EXPR_CHARS} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as err:
        raise _problem(source, f"syntax error ({err.msg})") from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise _problem(source, "too deeply nested or too large to parse") from None
    n_nodes, depth = 0, 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        n_nodes += 1
        depth = max(depth, level)
        if n_nodes > MAX_EXPR_NODES:
            raise _problem(source, f"more than {MAX_EXPR_NODES} syntax nodes")
        if depth > MAX_EXPR_DEPTH:
            raise _problem(source, f"nested deeper than {MAX_EXPR_DEPTH}")
        stack.extend((child, level + 1) for child in _children(node, source, variables))
    return tree, n_nodes, depth


def _children(node: ast.AST, source: str, variables: tuple[str, ...]) -> list[ast.AST]:
    """Check one node against the whitelist and return the children to check next."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return []
        if isinstance(value, (int, float)):
            if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_CONSTANT:
                shown = repr(value) if len(repr(value)) <= 20 else repr(value)[:17] + "..."
                raise _problem(source, f"number {shown} outside [-{MAX_CONSTANT:g}, {MAX_CONSTANT:g}]")
            return []
        raise _problem(source, f"constants of type {type(value).__name__} are not allowed")
    if isinstance(node, ast.Name):
        if node.id not in variables:
            raise _problem(source, f"unknown name {node.id!r} (allowed: {', '.join(variables)})")
        return []
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return [node.operand]
    if isinstance(node, ast.BoolOp) and type(node.op) in _BOOLOPS:
        return list(node.values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        return [node.left, *node.comparators]
    if isinstance(node, ast.IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            raise _problem(source, f"only calls of {', '.join(FUNCTIONS)} are allowed")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _problem(source, f"{name}() takes plain positional arguments")
        lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            raise _problem(source, f"{name}() takes {lo}..{hi} arguments, got {len(node.args)}")
        return list(node.args)
    what = _DESCRIBE.get(type(node), type(node).__name__)
    raise _problem(source, f"{what} not allowed")


# ----- numeric helpers (shared rules, two implementations) ----------------------


def _clip_np(v):
    # Inputs are finite and within +-MAX_VALUE, so an arithmetic result can overflow to +-inf but
    # never be NaN (no inf - inf or 0 * inf can arise): clipping alone restores the invariant.
    v = np.asarray(v, dtype=np.float64)
    return np.clip(v, -MAX_VALUE, MAX_VALUE, out=v if v.flags.writeable and v.ndim else None)


def sanitize_np(v: np.ndarray) -> np.ndarray:
    """NaN -> 0 and clipping, for values computed outside expressions (MLPs, readouts)."""
    return np.clip(np.nan_to_num(v, nan=0.0, posinf=MAX_VALUE, neginf=-MAX_VALUE), -MAX_VALUE, MAX_VALUE)


def sanitize(v: float) -> float:
    return _clip(v)


def _clip(v: float) -> float:
    if v != v:
        return 0.0
    return min(max(float(v), -MAX_VALUE), MAX_VALUE)


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


def _div(a: float, b: float) -> float:
    return 0.0 if b == 0 else a / b


def _floordiv(a: float, b: float) -> float:
    return 0.0 if b == 0 else float(math.floor(a / b)) if math.isfinite(a / b) else a / b


def _mod(a: float, b: float) -> float:
    if b == 0:
        return 0.0
    q = a / b
    return a - b * (float(math.floor(q)) if math.isfinite(q) else q)


def _floor(a: float) -> float:
    return float(math.floor(a)) if math.isfinite(a) else a


def _ceil(a: float) -> float:
    return float(math.ceil(a)) if math.isfinite(a) else a


_PY_BIN: dict[type, Callable] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _div,
    ast.FloorDiv: _floordiv,
    ast.Mod: _mod,
    ast.Pow: detmath.power,
}
_PY_CMP: dict[type, Callable] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_PY_FUN: dict[str, Callable] = {"abs": abs, "floor": _floor, "ceil": _ceil, "round": lambda a: _floor(a + 0.5)}


def _eval_scalar(node: ast.AST, env: dict) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(env[node.id])
    if isinstance(node, ast.BinOp):
        return _clip(_PY_BIN[type(node.op)](_eval_scalar(node.left, env), _eval_scalar(node.right, env)))
    if isinstance(node, ast.UnaryOp):
        value = _eval_scalar(node.operand, env)
        if isinstance(node.op, ast.Not):
            return 1.0 if value == 0 else 0.0
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BoolOp):
        truth = [_eval_scalar(v, env) != 0 for v in node.values]
        return 1.0 if (all(truth) if isinstance(node.op, ast.And) else any(truth)) else 0.0
    if isinstance(node, ast.Compare):
        left = _eval_scalar(node.left, env)
        result = True
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval_scalar(right_node, env)
            result = result and _PY_CMP[type(op)](left, right)
            left = right
        return 1.0 if result else 0.0
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval_scalar(node.test, env) != 0 else node.orelse
        return _eval_scalar(branch, env)
    if isinstance(node, ast.Call):
        args = [_eval_scalar(a, env) for a in node.args]
        name = node.func.id
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        return _PY_FUN[name](args[0])
    raise AssertionError(f"unchecked node {type(node).__name__}")
