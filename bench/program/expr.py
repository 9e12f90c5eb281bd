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
walked by two small evaluators, one vectorized over numpy arrays
(:mod:`.expr_numpy`) and one on Python floats (for the reference interpreter).

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

from . import detmath, expr_numpy
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
        value = expr_numpy.evaluate(self._tree, env, bounds or {})
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


# ----- the scalar evaluator (the reference; .expr_numpy is the vectorized one) ------


def sanitize(v: float) -> float:
    return _clip(v)


def _clip(v: float) -> float:
    if v != v:
        return 0.0
    return min(max(float(v), -MAX_VALUE), MAX_VALUE)


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
