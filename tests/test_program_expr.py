"""The safe expression language: semantics, agreement of its two evaluators, refusals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.program import Expr, ProgramError
from bench.program.errors import MAX_VALUE


def both(source: str, **env) -> float:
    """The value in both evaluators (they must agree bit for bit)."""
    expr = Expr(source, tuple(env) or ("x",))
    scalar = expr.eval_scalar({k: float(v) for k, v in env.items()})
    vector = expr.eval_np({k: np.array([float(v)]) for k, v in env.items()})
    assert vector.shape == (1,) or not env
    assert float(np.asarray(vector).reshape(-1)[0]) == scalar or (math.isnan(scalar) and math.isnan(vector[0]))
    return scalar


@pytest.mark.parametrize(
    "source, env, expected",
    [
        ("x + 2 * 3", {"x": 1}, 7.0),
        ("x / 0", {"x": 5}, 0.0),
        ("x // 0", {"x": 5}, 0.0),
        ("x % 0", {"x": 5}, 0.0),
        ("x // 2", {"x": -3}, -2.0),
        ("x % 3", {"x": -1}, 2.0),
        ("round(x)", {"x": 2.5}, 3.0),
        ("round(x)", {"x": -2.5}, -2.0),
        ("floor(x) + ceil(x)", {"x": 1.5}, 3.0),
        ("0 < x < 3", {"x": 2}, 1.0),
        ("0 < x < 3", {"x": 3}, 0.0),
        ("x and 0", {"x": 2}, 0.0),
        ("x or 0", {"x": 2}, 1.0),
        ("not x", {"x": 0}, 1.0),
        ("1 if x > 1 else -1", {"x": 0}, -1.0),
        ("min(x, 3, 2) + max(x, 7) + abs(-x)", {"x": 5}, 2 + 7 + 5),
        ("x ** 2", {"x": -3}, 9.0),
        ("x ** -1", {"x": 0}, 0.0),
        ("x ** 0.5", {"x": -4}, 0.0),
        ("10 ** 10 ** 10", {"x": 0}, MAX_VALUE),
        ("-(10 ** 10 ** 10) * x", {"x": 1}, -MAX_VALUE),
        ("(10 ** 400) - (10 ** 400)", {"x": 0}, 0.0),
        ("x * 1e12 * 1e12 * 1e12", {"x": 1}, MAX_VALUE),
        ("True + False", {"x": 0}, 1.0),
    ],
)
def test_semantics(source, env, expected):
    assert both(source, **env) == expected


def test_evaluators_agree_on_random_inputs():
    rng = np.random.default_rng(0)
    sources = ["x / y + x // y - x % y", "round(x * y) ** 2", "x ** y", "min(x, y) if x > y else max(x, -y)",
               "(x > 0 and y < 0) or not x", "floor(x / 3) * ceil(y / 7)", "abs(x - y) % 2.5"]
    x = np.round(rng.normal(size=500) * 5, 1)
    y = np.concatenate([[0.0, -0.0], np.round(rng.normal(size=498) * 3, 1)])
    for source in sources:
        expr = Expr(source, ("x", "y"))
        vector = expr.eval_np({"x": x, "y": y})
        scalar = [expr.eval_scalar({"x": a, "y": b}) for a, b in zip(x, y)]
        assert np.array_equal(vector, np.array(scalar)), source


def test_truth_values_and_skipped_clips_give_the_scalar_bits():
    """The vectorized evaluator keeps comparisons as booleans and skips clips that its bounds rule out
    (``i``'s bounds given, as ``map`` over a vec gives them); every result bit, the sign of zero and
    clipping at the limit included, is still the scalar evaluator's."""
    rng = np.random.default_rng(1)
    sources = [
        "(x > 0 and i > y and i < 9) * (9 - i) + (i == 3) * 0.5",  # the sort oracle's shape
        "(x > y) + (x < y) - (not x) * -1.5",  # truth values added to each other
        "-(x > 0) * y + i * 1e12 * 1e12 * 2e5",  # negated truth; i * 2e29 may reach the limit: clipped
        "(i + 1) * x * 1e12 - (y == 0)",  # unbounded x: clipped
        "min(x > 0, y) + max(i, x < 1) + abs(x > y) + floor(y > 0) + round(not y)",
        "(x if i < 4 else y) * (i > 2) + (1 if x else -0.0) * (y < 0)",
        "i - 9 * (x > 0)",  # -0.0 and 0.0 from truth values
    ]
    x = np.concatenate([[0.0, -0.0, 1e30, -1e30], np.round(rng.normal(size=396) * 4, 0)])
    y = np.concatenate([[-0.0, 0.0, -1e30, 1e30], np.round(rng.normal(size=396) * 3, 0)])
    i = np.arange(10, dtype=np.float64)
    for source in sources:
        expr = Expr(source, ("x", "y", "i"))
        vector = expr.eval_np({"x": x[:, None], "y": y[:, None], "i": i}, {"i": (0.0, 9.0)})
        scalar = np.array([[expr.eval_scalar({"x": a, "y": b, "i": c}) for c in i] for a, b in zip(x, y)])
        assert vector.dtype == np.float64 and vector.tobytes() == scalar.tobytes(), source


def test_counts_nodes_and_depth():
    expr = Expr("min(x, 3) + 1", ("x",))
    assert expr.n_nodes == 5  # BinOp, Call, x, 3, 1
    assert expr.depth == 3


SENTINEL = Path("/tmp") / "rasp_bench_expr_sentinel"


@pytest.mark.parametrize(
    "source, message",
    [
        ("x.__class__", "attribute"),
        ("__import__('os').system('touch " + str(SENTINEL) + "')", "calls"),
        ("open('/etc/passwd')", "calls"),
        ("(lambda: 1)()", "calls"),
        ("lambda: 1", "lambda"),
        ("x[0]", "subscript"),
        ("__builtins__", "unknown name"),
        ("y", "unknown name"),
        ("'a' * 3", "str"),
        ("f'{x}'", "strings"),
        ("[x for x in y]", "comprehension"),
        ("(y := 3)", "assignment"),
        ("min(x, key=abs)", "positional"),
        ("abs(*x)", "positional"),
        ("abs(x, x)", "arguments"),
        ("x if", "syntax"),
        ("1e400", "outside"),
        ("10000000000000", "outside"),
        ("9" * 5000, "longer"),
        ("9" * 900, "outside"),
        ("-" * 900 + "x", "deeper"),
        ("(" * 300 + "x" + ")" * 300, "syntax"),
        ("+".join(["x"] * 300), "deeper"),
        ("<".join(["x"] * 300), "syntax nodes"),
        ("x @ x", "BinOp"),
        ("x << 2", "BinOp"),
        ("x is x", "Compare"),
        ("x in x", "Compare"),
        ("{x}", "Set"),
        ("1j", "complex"),
        ("None", "NoneType"),
        ("...", "ellipsis"),
        ("yield x", "syntax"),
        ("await x", "Await"),
    ],
)
def test_refusals(source, message):
    with pytest.raises(ProgramError, match=f"(?i){message}"):
        Expr(source, ("x",))
    assert not SENTINEL.exists()


def test_non_string_expression():
    with pytest.raises(ProgramError, match="string"):
        Expr(3, ("x",))
