"""The interpreters' numerics are the same bits on every machine (docs/program_language.md, "Numerics").

- :mod:`bench.program.detmath`: the vectorized (``*_np``) and scalar ``exp``,
  ``log``, ``tanh``, ``ipow``, ``power`` and ``gelu_new`` give identical bits on
  random and edge-case inputs, whatever else shares the array, and stay within
  a few ulp of ``math``'s (the powers within their documented error growth);
- :mod:`bench.program.exactdot`: a product is the once-rounded exact sum of its
  slice products, so no summation order, permutation of the summed axis,
  chunking, memory layout or batch changes a bit; it is exact for small
  integers and one-hot operands and close to ``a @ b``;
- shipped programs give the same raw output bits under every CPU-feature
  setting of ``scripts/check_simd_independence.py`` (numpy's SIMD targets
  disabled, torch's scalar kernels, old BLAS kernels), each in a subprocess;
- the scalar (reference) and vectorized interpreters agree bit for bit
  wherever the documented rules promise it (everything but products with a
  ``vec``, which agree to ~1e-12), on shipped decompile and oracle programs.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import bench.program as rasp
from bench.program import detmath, exactdot
from bench.program.ops_attention import Aggregate
from bench.program.ops_dense import MLP, Readout
from bench.program.ops_soft import SoftSelect

ROOT = Path(__file__).resolve().parent.parent
DECOMPILE = ROOT / "submissions" / "decompile" / "programs"
ORACLE = ROOT / "submissions" / "oracle" / "programs"
TINY = 2.2250738585072014e-308  # the smallest normal number
HUGE = 1.7976931348623157e308  # the largest finite number


def bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.uint64)


def assert_same_bits(vector, scalar, inputs) -> None:
    """Identical bits, or NaN in both (NaN payloads are not pinned)."""
    vector, scalar = np.asarray(vector, dtype=np.float64), np.asarray(scalar, dtype=np.float64)
    same = (bits(vector) == bits(scalar)) | (np.isnan(vector) & np.isnan(scalar))
    if not same.all():
        where = np.flatnonzero(~same.reshape(-1))[:5]
        shown = [(inputs[n] if not isinstance(inputs, tuple) else tuple(x[n] for x in inputs),
                  vector.reshape(-1)[n], scalar.reshape(-1)[n]) for n in where]
        pytest.fail(f"{(~same).sum()} of {same.size} differ (input, vectorized, scalar): {shown}")


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the spacing of floats at ``want`` (0 when equal, inf when one is infinite)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.abs(got - want) / np.spacing(np.abs(want))
    out[got == want] = 0.0
    return np.where(np.isnan(out), np.inf, out)


def random_doubles(rng, n: int) -> np.ndarray:
    """Uniformly random bit patterns: every exponent, sign and subnormals (NaNs removed)."""
    x = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    return x[~np.isnan(x)]


# ----- detmath: exp, log, tanh ---------------------------------------------------------------

LN2 = math.log(2)
EXP_EDGES = [
    0.0, -0.0, 5e-324, -5e-324, TINY, -TINY, 1e-300, -1e-300, 1e-20, -1e-20, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.0,
    10.0, -10.0, detmath._SMALL, np.nextafter(detmath._SMALL, 1.0), np.nextafter(detmath._SMALL, 0.0),
    detmath.TANH_ONE, np.nextafter(detmath.TANH_ONE, 0.0), np.nextafter(detmath.TANH_ONE, 30.0), 11.0, 21.9,
    detmath.EXP_HIGH, np.nextafter(detmath.EXP_HIGH, 0.0), np.nextafter(detmath.EXP_HIGH, 1e3), 709.0, 709.7,
    detmath.EXP_LOW, np.nextafter(detmath.EXP_LOW, 0.0), np.nextafter(detmath.EXP_LOW, -1e3),
    -708.3964185322641, -708.39641853226, -708.4, -709.0, -720.0, -744.4, -745.0, -745.1332191019411,
    1022 * LN2, -1022 * LN2, 1023 * LN2, -1023 * LN2, -1074 * LN2, 1e308, -1e308, HUGE, -HUGE, math.inf, -math.inf,
]


def exp_inputs() -> np.ndarray:
    rng = np.random.default_rng(11)
    halves = (np.arange(-1075, 1025) + 0.5) * LN2  # rint(x / ln 2) ties: both neighbours of each
    return np.concatenate([
        EXP_EDGES, np.arange(-746.0, 711.0), halves, np.nextafter(halves, np.inf), np.nextafter(halves, -np.inf),
        rng.normal(0, 1, 4000), rng.normal(0, 1e-6, 500), rng.uniform(-750, 750, 4000), rng.uniform(-40, 40, 2000),
        random_doubles(rng, 2000),
    ])


def test_exp_vectorized_and_scalar_agree_bit_for_bit():
    x = exp_inputs()
    assert_same_bits(detmath.exp_np(x), [detmath.exp(float(v)) for v in x], x)
    assert np.isnan(detmath.exp_np(np.array([np.nan]))[0]) and math.isnan(detmath.exp(math.nan))


def test_exp_is_within_one_ulp_and_saturates_where_fdlibm_does():
    x = exp_inputs()
    got = detmath.exp_np(x)
    want = np.array([math.exp(v) if v <= detmath.EXP_HIGH else math.inf for v in x])  # math.exp raises past it
    error = ulps(got, want)
    assert error.max() <= 1.0, (x[error.argmax()], got[error.argmax()], want[error.argmax()])
    assert detmath.exp(0.0) == detmath.exp(-0.0) == 1.0
    assert detmath.exp(detmath.EXP_HIGH) < math.inf == detmath.exp(np.nextafter(detmath.EXP_HIGH, 1e3))
    assert detmath.exp(detmath.EXP_LOW) > 0.0 == detmath.exp(np.nextafter(detmath.EXP_LOW, -1e3))
    assert detmath.exp(-math.inf) == 0.0 and detmath.exp(math.inf) == math.inf
    assert np.array_equal(detmath.exp_np([-math.inf, math.inf, -1e308, 1e308]), [0.0, math.inf, 0.0, math.inf])


def log_inputs() -> np.ndarray:
    rng = np.random.default_rng(12)
    edges = [5e-324, 1e-320, 1e-310, TINY, np.nextafter(TINY, 0), np.nextafter(TINY, 1), 1e-300, 0.5, 1.0,
             np.nextafter(1.0, 0), np.nextafter(1.0, 2), detmath._SQRT_HALF, np.nextafter(detmath._SQRT_HALF, 0),
             np.nextafter(detmath._SQRT_HALF, 1), math.sqrt(2), 2.0, math.e, 10.0, 1e12, 1e30, 1e300, HUGE]
    powers = 2.0 ** np.arange(-1074, 1024, dtype=np.float64)
    near_one = 1.0 + rng.normal(0, 1e-3, 1000)
    wide = np.abs(random_doubles(rng, 3000))
    return np.concatenate([edges, powers, np.nextafter(powers, 0)[1:], np.nextafter(powers, np.inf)[:-1], near_one,
                           np.exp(rng.uniform(-740, 709, 3000)), rng.uniform(0, 10, 2000),
                           wide[np.isfinite(wide) & (wide > 0)]])


def test_log_vectorized_and_scalar_agree_bit_for_bit():
    x = log_inputs()
    assert_same_bits(detmath.log_np(x), [detmath.log(float(v)) for v in x], x)


def test_log_is_within_one_ulp_on_positive_numbers():
    x = log_inputs()
    got = detmath.log_np(x)
    error = ulps(got, [math.log(v) for v in x])
    assert error.max() <= 1.0, (x[error.argmax()], got[error.argmax()])
    assert detmath.log(1.0) == 0.0 and detmath.log_np([1.0])[0] == 0.0


def tanh_inputs() -> np.ndarray:
    rng = np.random.default_rng(13)
    around = np.concatenate([[v, np.nextafter(v, -np.inf), np.nextafter(v, np.inf)]
                             for v in (detmath._SMALL / 2, detmath.TANH_ONE, 0.1, 1.0, 5.0, 19.0, 20.0)])
    x = np.concatenate([EXP_EDGES, around, rng.normal(0, 1, 4000), rng.normal(0, 0.1, 2000), rng.uniform(-30, 30, 3000),
                        rng.normal(0, 1e-5, 500), random_doubles(rng, 1000)])
    return np.concatenate([x, -x])


def test_tanh_vectorized_and_scalar_agree_bit_for_bit():
    x = tanh_inputs()
    assert_same_bits(detmath.tanh_np(x), [detmath.tanh(float(v)) for v in x], x)
    assert np.isnan(detmath.tanh_np(np.array([np.nan]))[0]) and math.isnan(detmath.tanh(math.nan))


def test_tanh_is_within_three_units_of_2_to_the_minus_52_odd_and_saturates():
    x = tanh_inputs()
    got = detmath.tanh_np(x)
    want = np.array([math.tanh(v) for v in x])
    error = ulps(got, want)  # up to 4 ulp of the result where it is just above a power of two (|x| near 0.19)
    assert error.max() <= 4.0, (x[error.argmax()], got[error.argmax()])
    relative = np.abs(got - want)[want != 0] / np.abs(want[want != 0])
    assert relative.max() <= 3 * 2.0**-52
    assert np.array_equal(bits(detmath.tanh_np(-x)), bits(-got))  # odd, signed zeros included
    assert bits(detmath.tanh(-0.0)) == bits(-0.0) and bits(detmath.tanh_np([-0.0])[0]) == bits(-0.0)
    assert np.all(np.abs(got[np.abs(x) >= detmath.TANH_ONE]) == 1.0)


def test_gelu_new_vectorized_and_scalar_agree_bit_for_bit():
    rng = np.random.default_rng(14)
    x = np.concatenate([EXP_EDGES[:-2], rng.normal(0, 3, 5000), rng.uniform(-1e3, 1e3, 1000), [1e30, -1e30]])
    assert_same_bits(detmath.gelu_new_np(x), [detmath.gelu_new(float(v)) for v in x], x)


@pytest.mark.parametrize("name", ["exp", "tanh", "log"])
def test_vectorized_values_do_not_depend_on_the_rest_of_the_array(name):
    """Each element's bits are the same alone, in any block, whatever branch its neighbours take."""
    rng = np.random.default_rng(15)
    n = 2 * detmath._BLOCK + 777
    if name == "log":
        x = np.abs(random_doubles(rng, 2 * n))
        x = x[np.isfinite(x) & (x > 0)][:n]
    else:
        x = np.where(rng.random(n) < 0.5, rng.normal(0, 0.2, n), rng.uniform(-800, 800, n))
        x[rng.integers(0, n, 20)] = rng.choice([math.inf, -math.inf, 1e308, -1e308, 0.0, -0.0], 20)
    f = getattr(detmath, f"{name}_np")
    whole = f(x)
    assert np.array_equal(bits(f(x.reshape(-1, 1))).reshape(-1), bits(whole))
    assert np.array_equal(bits(f(x[::-1])), bits(whole[::-1]))
    for i in rng.integers(0, n, 200):
        assert bits(f(x[i:i + 1]))[0] == bits(whole[i])


# ----- detmath: powers ------------------------------------------------------------------------

POWER_BASES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 4.0, 10.0, 1.0000001, 0.9999999,
               1.0000000001, 0.9999999999, 5e-324, -5e-324, TINY, 1e-30, 1e12, 1e30, -1e30, 1e308, -1e308]


def test_ipow_vectorized_and_scalar_agree_bit_for_bit():
    rng = np.random.default_rng(21)
    a = np.concatenate([POWER_BASES, [math.inf, -math.inf, math.nan], rng.normal(0, 2, 2000),
                        rng.integers(-20, 21, 500).astype(float), random_doubles(rng, 300)])
    n = np.concatenate([np.arange(0, 70), [127, 128, 255, 256, 1000, 1023, 1024, 1075, 2047],
                        rng.integers(0, 2 ** detmath.MAX_POWER_BITS, 500)])
    grid_a, grid_n = (g.ravel() for g in np.meshgrid(a, n[:40], indexing="ij"))
    a = np.concatenate([grid_a, np.repeat(a, 4)])
    n = np.concatenate([grid_n, rng.choice(n, a.size - grid_a.size)])
    assert_same_bits(detmath.ipow_np(a, n), [detmath.ipow(float(x), int(k)) for x, k in zip(a, n)], (a, n))


def test_ipow_is_exact_for_integers_and_powers_of_two_and_accurate_otherwise():
    rng = np.random.default_rng(22)
    for x, k in zip(rng.integers(-40, 41, 3000), rng.integers(0, 20, 3000)):
        exact = int(x) ** int(k)
        if abs(exact) < 2**53:
            assert detmath.ipow(float(x), int(k)) == float(exact)
    k = np.arange(0, 1024)
    assert np.array_equal(detmath.ipow_np(2.0, k), [math.ldexp(1.0, int(n)) for n in k])
    assert detmath.ipow(2.0, 1024) == math.inf
    k = np.arange(0, 1075)
    assert np.array_equal(detmath.ipow_np(0.5, k), [math.ldexp(1.0, -int(n)) for n in k])  # down to 5e-324
    assert np.array_equal(detmath.ipow_np(-2.0, [3, 4]), [-8.0, 16.0]) and detmath.ipow(math.nan, 0) == 1.0
    # repeated squaring: the relative error grows at most about linearly in the exponent
    a = np.concatenate([rng.normal(0, 2, 3000), rng.uniform(0.9, 1.1, 1000)])
    n = rng.integers(1, 2 ** detmath.MAX_POWER_BITS, a.size)
    n[: a.size // 2] = rng.integers(1, 40, a.size // 2)
    got = detmath.ipow_np(a, n)
    want = np.array([math.pow(x, int(k)) if x and abs(int(k) * math.log(abs(x))) < 690 else math.nan
                     for x, k in zip(a, n)])
    normal = np.isfinite(want) & (np.abs(want) > 1e-290)
    error = ulps(got[normal], want[normal])
    assert np.all(error <= n[normal]), (a[normal][error.argmax()], n[normal][error.argmax()], error.max())
    assert np.all(error[n[normal] <= 2] <= 1.0)


def power_grid():
    rng = np.random.default_rng(23)
    a = np.concatenate([POWER_BASES, rng.normal(0, 3, 120), np.abs(rng.normal(0, 3, 120)),
                        np.exp(rng.uniform(-60, 60, 60))])
    b = np.concatenate([[0.0, -0.0, 1, -1, 2, -2, 3, -3, 0.5, -0.5, 1 / 3, 2.5, -2.5, 0.1, -0.1, 1e-300, -1e-300,
                         5e-324,
                         89, -89, 2047, -2047, 2048, -2048, 2049, -2049, 4503599627370497.0, 1e16, 1e30, -1e30,
                         np.nextafter(2.0, 3), np.nextafter(2.0, 1), np.nextafter(2048.0, 0)],
                        rng.normal(0, 3, 300), rng.integers(-60, 61, 120), rng.uniform(-1e4, 1e4, 50)])
    grid_a, grid_b = (g.ravel() for g in np.meshgrid(a, b, indexing="ij"))
    return grid_a, grid_b


def test_power_vectorized_and_scalar_agree_bit_for_bit():
    a, b = power_grid()
    assert_same_bits(detmath.power_np(a, b), [detmath.power(float(x), float(y)) for x, y in zip(a, b)], (a, b))


def test_power_special_cases_are_the_documented_ones():
    cases = [
        (0.0, -2.0, 0.0), (-0.0, -3.0, 0.0), (0.0, -0.5, 0.0), (0.0, 0.0, 1.0), (0.0, 0.5, 0.0), (-0.0, 3.0, -0.0),
        (-2.0, 0.5, 0.0), (-8.0, 1 / 3, 0.0), (-2.0, 3.0, -8.0), (-2.0, -3.0, -0.125), (5.0, -0.0, 1.0),
        (2.0, -89.0, math.ldexp(1.0, -89)), (4.0, -3.0, 1 / 64), (2.0, -1023.0, math.ldexp(1.0, -1023)),
        (1.0001, 4096.0, math.inf), (0.9999, 4096.0, 0.0), (-1.0001, 4097.0, -math.inf), (-1.0001, 4096.0, math.inf),
        (-1.0, 2049.0, -1.0), (1.0, 1e30, 1.0), (1.5, -4096.0, 0.0), (0.5, -4096.0, math.inf),
        (-0.5, -4097.0, -math.inf),
        (10.0, 1e30, math.inf), (10.0, -1e30, 0.0), (2.0, 1024.0, math.inf),
    ]
    for a, b, want in cases:
        got_scalar, got_vector = detmath.power(a, b), detmath.power_np(a, b)[()]
        assert bits(got_scalar) == bits(want) == bits(got_vector), (a, b, got_scalar, got_vector, want)
    for x in range(0, 512):  # the oracle programs' 4 ** -x and 2 ** (y - 89): exact
        assert detmath.power(4.0, -float(x)) == math.ldexp(1.0, -2 * x) == detmath.power_np(4.0, -float(x))
        assert detmath.power(2.0, float(x - 256)) == math.ldexp(1.0, x - 256)
    for a in range(-12, 13):
        for b in range(0, 12):
            assert detmath.power(float(a), float(b)) == float(a**b)


def test_power_accuracy_grows_only_as_documented():
    """Fractional ``b``: ``exp(b * log a)``, a few ulp plus ~2 ulp per unit of ``|b log a|``; integer ``|b| < 2**11``:
    repeated squaring, at most ``|b|`` ulp (+1 for the reciprocal)."""
    a, b = power_grid()
    got = detmath.power_np(a, b)

    def reference(x, y):
        try:
            return math.pow(x, y)
        except (ValueError, OverflowError):
            return math.nan

    want = np.array([reference(x, y) for x, y in zip(a, b)])
    integral = b == np.floor(b)
    normal = np.isfinite(want) & (np.abs(want) > 1e-290) & (np.abs(want) < 1e300)
    fractional = normal & ~integral & (a > 0)
    error = ulps(got[fractional], want[fractional])
    bound = 2.0 + 2.0 * np.abs(b[fractional] * np.log(a[fractional]))
    assert np.all(error <= bound), (a[fractional][np.argmax(error - bound)], b[fractional][np.argmax(error - bound)])
    small = normal & integral & (np.abs(b) < 2 ** detmath.MAX_POWER_BITS)
    error = ulps(got[small], want[small])
    assert np.all(error <= np.abs(b[small]) + 1.0), error.max()


# ----- exactdot -------------------------------------------------------------------------------


def operands(rng, shape_a, shape_b, spread: float = 3.0):
    """Random operands with magnitudes over a few decades, some zeros, a zero line and a tiny line."""
    a = rng.normal(size=shape_a) * np.exp(rng.normal(0, spread, shape_a))
    b = rng.normal(size=shape_b) * np.exp(rng.normal(0, spread, shape_b))
    a[rng.random(shape_a) < 0.1] = 0.0
    b[rng.random(shape_b) < 0.1] = 0.0
    if shape_a[-2] > 2:
        a[..., 0, :] = 0.0
        a[..., 1, :] *= 1e-200
    return a, b


def exact_value(a: exactdot.Sliced, b: exactdot.Sliced, i: int, j: int) -> float:
    """The once-rounded exact sum of ``hi_a hi_b + hi_a lo_b + lo_a hi_b`` over the summed axis (2-d operands)."""
    total = Fraction(0)
    for k in range(a.hi.shape[-1]):
        ah, al, bh, bl = (Fraction(float(v)) for v in (a.hi[i, k], a.lo[i, k], b.hi[k, j], b.lo[k, j]))
        total += ah * bh + ah * bl + al * bh
    return float(total)  # int / int: correctly rounded


@pytest.mark.parametrize("k", [1, 2, 5, 33, 200, 2048])
def test_split_slices_are_integers_on_their_grid(k):
    rng = np.random.default_rng(31 + k)
    x, _ = operands(rng, (5, k), (k, 1))
    beta = exactdot.slice_bits(k)
    s = exactdot.split(x, -1, beta)
    e = np.maximum(np.frexp(np.abs(x).max(-1, keepdims=True))[1], exactdot.E_MIN)
    hi, lo = s.hi * exactdot.pow2(beta - e), s.lo * exactdot.pow2(2 * beta - e)
    assert np.array_equal(hi, np.rint(hi)) and np.abs(hi).max() <= 2**beta
    assert np.array_equal(lo, np.rint(lo)) and np.abs(lo).max() <= 2 ** (beta - 1)
    assert np.all(np.abs(x - s.hi - s.lo) <= exactdot.pow2(e - 2 * beta - 1))
    assert k * 4 ** beta <= 2**53


@pytest.mark.parametrize("k", [1, 3, 17, 150, 2048])
def test_product_is_the_once_rounded_exact_sum_of_slice_products(k):
    """So every BLAS, kernel and summation order gives these bits: no partial sum ever rounds."""
    rng = np.random.default_rng(41 + k)
    if k == 2048:  # the worst case for the 2**53 bound: every product large and of one sign
        a, b = rng.uniform(0.5, 1.0, (2, k)), rng.uniform(0.5, 1.0, (k, 2))
    else:
        a, b = operands(rng, (4, k), (k, 3))
    beta = exactdot.slice_bits(k)
    sa, sb = exactdot.split(a, -1, beta), exactdot.split(b, -2, beta)
    got = exactdot.product(sa, sb)
    want = np.array([[exact_value(sa, sb, i, j) for j in range(b.shape[1])] for i in range(a.shape[0])])
    assert np.array_equal(bits(got), bits(want))
    assert np.array_equal(bits(got), bits(exactdot.matmul(a, b)))
    hihi = np.matmul(sa.hi, sb.hi)  # and each partial product is exact in float64
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            exact = sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(sa.hi[i], sb.hi[:, j]))
            assert Fraction(float(hihi[i, j])) == exact


class _ShuffledBlas:
    """numpy with ``matmul`` summing the products in a random order, one at a time (another "BLAS")."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(np, name)

    def matmul(self, a, b):
        out = np.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]))
        for k in self.rng.permutation(a.shape[-1]):
            out = out + a[..., :, k, None] * b[..., k, None, :]
        return out


def test_product_bits_do_not_depend_on_order_permutation_chunking_layout_or_batch(monkeypatch):
    rng = np.random.default_rng(51)
    k = 300
    a, b = operands(rng, (6, k), (k, 5))
    whole = exactdot.matmul(a, b)
    order = rng.permutation(k)
    assert np.array_equal(bits(exactdot.matmul(a[:, order], b[order])), bits(whole))
    assert np.array_equal(bits(exactdot.matmul(np.asfortranarray(a), np.asfortranarray(b))), bits(whole))
    rows = np.concatenate([exactdot.matmul(a[i:i + 1], b) for i in range(a.shape[0])])
    columns = np.concatenate([exactdot.matmul(a, b[:, j:j + 2]) for j in range(0, b.shape[1], 2)], axis=1)
    assert np.array_equal(bits(rows), bits(whole)) and np.array_equal(bits(columns), bits(whole))
    other, _ = operands(rng, (6, k), (k, 5))
    batched = exactdot.matmul(np.stack([other, a, other * 1e5]), b)
    assert np.array_equal(bits(batched[1]), bits(whole))
    assert np.array_equal(bits(exactdot.matmul(a[None], np.stack([b, b]))[1]), bits(whole))
    for seed in range(3):
        monkeypatch.setattr(exactdot, "np", _ShuffledBlas(seed))
        assert np.array_equal(bits(exactdot.matmul(a, b)), bits(whole))
        assert np.array_equal(bits(exactdot.matmul(a[:, order], b[order])), bits(whole))


def test_causal_products_skip_work_without_changing_a_bit():
    rng = np.random.default_rng(61)
    T, n = 23, 7
    beta = exactdot.slice_bits(T)
    w = np.tril(rng.random((3, T, T)))
    v, _ = operands(rng, (3, T, n), (1, 1))
    full = exactdot.product(exactdot.split(w, -1, beta), exactdot.split(v, -2, beta))
    keys = exactdot.product(exactdot.split(w, -1, beta), exactdot.split(v, -2, beta), causal="keys")
    assert np.array_equal(bits(keys), bits(full))
    q, kk = operands(rng, (3, T, n), (3, n, T))
    beta = exactdot.slice_bits(n)
    full = exactdot.product(exactdot.split(q, -1, beta), exactdot.split(kk, -2, beta))
    out = exactdot.product(exactdot.split(q, -1, beta), exactdot.split(kk, -2, beta), causal="out")
    lower = np.tri(T, dtype=bool)
    assert np.array_equal(bits(out[:, lower]), bits(full[:, lower]))


def test_values_over_positions_are_multiplied_block_by_block_without_changing_a_bit(monkeypatch):
    rng = np.random.default_rng(65)
    T, P, m = 40, 60, 9  # a value over positions (P of them): zero past its own position, as aggregates of indices
    x, table = operands(rng, (3, T, P), (P, m))
    x *= np.tri(T, P)
    beta = exactdot.slice_bits(P)
    whole = exactdot.product(exactdot.split(x, -1, beta), exactdot.split(table, -2, beta))
    blocked = []
    monkeypatch.setattr(exactdot, "_row_blocked", lambda *a, _f=exactdot._row_blocked: blocked.append(1) or _f(*a))
    assert np.array_equal(bits(exactdot.times_table(x, table)), bits(whole)) and blocked  # cut by blocks
    dense, _ = operands(rng, (3, T, P), (1, 1))
    blocked.clear()
    full = exactdot.product(exactdot.split(dense, -1, beta), exactdot.split(table, -2, beta))
    assert np.array_equal(bits(exactdot.times_table(dense, table)), bits(full)) and not blocked  # nothing to cut
    zeros = exactdot.times_table(np.zeros((3, T, P)), table)  # no column used at all
    assert zeros.shape == (3, T, m) and not zeros.any()


def test_products_of_one_hot_and_small_integer_operands_are_exact():
    rng = np.random.default_rng(71)
    V, m = 40, 9
    table = rng.integers(-(2**20), 2**20, (V, m)).astype(np.float64) * 2.0**-7
    ids = rng.integers(0, V, (3, 50))
    onehot = (ids[..., None] == np.arange(V)).astype(np.float64)
    assert np.array_equal(bits(exactdot.matmul(onehot, table)), bits(table[ids]))
    assert np.array_equal(bits(exactdot.times_table(onehot, table)), bits(table[ids]))
    counts = rng.integers(0, 60, (5, 300)).astype(np.float64)
    small = rng.integers(-1000, 1001, (300, 4))
    exact = (counts.astype(np.int64) @ small).astype(np.float64)
    assert np.array_equal(exactdot.matmul(counts, small.astype(np.float64)), exact)
    # attention on a single key: exactly that key's values
    assert np.array_equal(exactdot.weighted_sum(np.eye(50)[None], table[ids[:1]], 50), table[ids[:1]])


@pytest.mark.parametrize("k", [1, 3, 16, 64, 256, 1024, 2048])
def test_products_are_close_to_float64_matmul(k):
    rng = np.random.default_rng(81 + k)
    beta = exactdot.slice_bits(k)
    a, b = rng.normal(size=(30, k)), rng.normal(size=(k, 20))  # ordinary operands: ~1e-11 of |a| @ |b| or better
    error, scale = np.abs(exactdot.matmul(a, b) - a @ b), np.abs(a) @ np.abs(b)
    assert np.all(error <= 1e-11 * scale)
    a, b = operands(rng, (30, k), (k, 20))  # the documented bound: ~k 2**(-2 beta) of max|row| max|column|
    error = np.abs(exactdot.matmul(a, b) - a @ b)
    floor = 2.0**exactdot.E_MIN  # lines below it are sliced as if their largest entry were 2**E_MIN
    line = np.maximum(np.abs(a).max(-1), floor)[:, None] * np.maximum(np.abs(b).max(0), floor)[None, :]
    assert np.all(error <= 4 * k * 2.0 ** (-2 * beta) * line + 2.0**-52 * (np.abs(a) @ np.abs(b)))


def test_times_table_skips_zero_entries_without_changing_a_bit():
    rng = np.random.default_rng(91)
    table = rng.normal(size=(64, 12))
    table.setflags(write=False)
    x = rng.normal(size=(4, 10, 64))
    x[..., 5:] = 0.0  # most entries unused everywhere: the skipping path
    got = exactdot.times_table(x, table)
    assert np.array_equal(bits(got), bits(exactdot.matmul(x, table)))
    assert np.array_equal(bits(exactdot.times_table(x, table)), bits(got))  # cached slices of the table
    assert np.array_equal(bits(exactdot.times_table(x, np.array(table))), bits(got))


def test_weighted_sums_read_only_earlier_keys_and_ignore_batch_and_padding():
    rng = np.random.default_rng(101)
    B, T, n = 3, 17, 6
    w = np.tril(rng.random((B, T + 5, T + 5)))
    w /= w.sum(-1, keepdims=True)
    v, _ = operands(rng, (B, T + 5, n), (1, 1), spread=5.0)
    whole = exactdot.weighted_sum(w[:, :T, :T], v[:, :T], T + 5)
    padded = exactdot.weighted_sum(w, v, T + 5)
    assert np.array_equal(bits(padded[:, :T]), bits(whole))
    alone = np.concatenate([exactdot.weighted_sum(w[r:r + 1, :T, :T], v[r:r + 1, :T], T + 5) for r in range(B)])
    assert np.array_equal(bits(alone), bits(whole))
    for i in (0, 4, T - 2):
        later = v.copy()
        later[:, i + 1:] = rng.normal(0, 1e6, later[:, i + 1:].shape)
        assert np.array_equal(bits(exactdot.weighted_sum(w, later, T + 5)[:, : i + 1]), bits(padded[:, : i + 1]))
    assert np.allclose(whole, w[:, :T, :T] @ v[:, :T], rtol=1e-11, atol=1e-12 * np.abs(v).max())


# ----- CPU-feature independence, in subprocesses --------------------------------------------

SIMD_PROGRAMS = [ORACLE / "sort.json", ORACLE / "addition.json", DECOMPILE / "012_0_2.json", DECOMPILE / "d3.json",
                 DECOMPILE / "tomita7.json", DECOMPILE / "aastar.json"]

WORKER = r'''
import hashlib, sys
import numpy as np
import bench.program as rasp
from bench.program import detmath, exactdot
from bench.program.interpret_fast import run_program_with_outputs

for path in sys.argv[1:]:
    program = rasp.Program.load(path)
    rng = np.random.default_rng(20240601)
    B, T = 24, min(24, program.n_positions)
    ids = rng.integers(0, program.vocab_size, size=(B, T))
    lengths = rng.integers(1, T + 1, size=B)
    pred, raw = run_program_with_outputs(program, ids, lengths)
    digest = hashlib.sha256(np.ascontiguousarray(raw).tobytes() + np.ascontiguousarray(pred).tobytes())
    print(path, digest.hexdigest())
rng = np.random.default_rng(7)
x = rng.normal(0, 20, 50000)
a, b = rng.normal(size=(64, 300)), rng.normal(size=(300, 48))
parts = [detmath.exp_np(-np.abs(x)), detmath.tanh_np(x), detmath.log_np(np.abs(x) + 1e-300),
         detmath.power_np(np.abs(x[:5000]), x[5000:10000] / 7), detmath.gelu_new_np(x), exactdot.matmul(a, b)]
print("detmath+exactdot", hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest())
'''


def _simd_settings() -> dict[str, dict[str, str]]:
    """The settings of scripts/check_simd_independence.py (numpy targets as this numpy reports them)."""
    path = ROOT / "scripts" / "check_simd_independence.py"
    spec = importlib.util.spec_from_file_location("check_simd_independence", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.settings()


def test_programs_give_the_same_bits_whatever_the_cpu_features(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    outputs = {}
    for name, env in _simd_settings().items():
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        environment = {**os.environ, **env, "PYTHONPATH": path}
        done = subprocess.run([sys.executable, str(script), *map(str, SIMD_PROGRAMS)], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name} ({env}):\n{done.stderr[-3000:]}"
        outputs[name] = dict(line.split() for line in done.stdout.splitlines())
        assert len(outputs[name]) == len(SIMD_PROGRAMS) + 1, done.stdout
    first = next(iter(outputs))
    differing = {name: sorted(key for key in out if out[key] != outputs[first][key]) for name, out in outputs.items()}
    assert not any(differing.values()), f"raw output digests differ from {first!r}: {differing}"


# ----- the two interpreters ---------------------------------------------------------------------


def bitwise_nodes(program) -> set:
    """The nodes whose values the documented rules make identical in both interpreters.

    Everything but products with a ``vec`` (exact slices vs left-to-right sums, ~1e-12 apart) and what depends on
    them: soft selectors with a ``vec`` query or key, soft aggregates of ``vec`` values, MLPs over a ``vec`` or
    with more than one layer, readouts with a ``vec`` term.
    """
    exact = set()
    for node in program.nodes:
        kinds = [program.types[v].kind for v in node.inputs()]
        if isinstance(node, SoftSelect):
            ok = "vec" not in kinds
        elif isinstance(node, Aggregate):
            ok = not (kinds[0] == "soft" and kinds[1] == "vec")
        elif isinstance(node, MLP):
            ok = kinds[0] != "vec" and len(node.layers) == 1
        elif isinstance(node, Readout):
            ok = "vec" not in kinds
        else:
            ok = True
        if ok and all(v in exact for v in node.inputs()):
            exact.add(node)
    return exact


def compare_interpreters(program, ids: np.ndarray, lengths: np.ndarray) -> None:
    fast = rasp.evaluate(program, ids, lengths)
    exact = {program.ids[n] for n in bitwise_nodes(program)}
    for row, length in enumerate(lengths):
        length = int(length)
        reference = rasp.evaluate_reference(program, ids[row, :length])
        for node_id, ref_value in reference.items():
            kind = program.type_of(node_id).kind
            value = fast[node_id][row][:length]
            if kind in ("sel", "soft"):
                value = value[:, :length]
                expected = np.zeros((length, length), dtype=value.dtype)
                for i, keys in enumerate(ref_value):
                    expected[i, : i + 1] = keys
            else:
                expected = np.asarray(ref_value, dtype=value.dtype).reshape(value.shape)
            if node_id in exact:
                same = bits(value) == bits(expected) if value.dtype == np.float64 else value == expected
                assert same.all(), (f"{node_id} ({kind}, row {row}): not bit for bit, max difference "
                                    f"{np.max(np.abs(value - expected))}")
            else:
                scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
                assert np.allclose(value, expected, rtol=1e-10, atol=1e-10 * scale), f"{node_id} ({kind}, row {row})"
        predictions = rasp.run_program(program, ids[row:row + 1, :length])
        assert np.array_equal(predictions, rasp.run_reference(program, ids[row, :length])[None])


@pytest.mark.parametrize("path", [DECOMPILE / "012_0_2.json", DECOMPILE / "d3.json", DECOMPILE / "tomita7.json",
                                  DECOMPILE / "ab_d_bc.json", ORACLE / "addition.json", ORACLE / "sort.json"],
                         ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_interpreters_agree_on_shipped_programs(path):
    program = rasp.Program.load(path)
    rng = np.random.default_rng(202)
    T = min(14, program.n_positions)
    ids = rng.integers(0, program.vocab_size, size=(4, T))
    compare_interpreters(program, ids, np.array([T, 1, 9, T - 3]))


def test_soft_select_score_terms_are_summed_in_term_order():
    """``score(tokens, tokens) + score(tokens, indices) + key_score(tokens)``: the reference adds the terms left to
    right; so must the vectorized interpreter, even when terms with the same key are not adjacent."""
    rng = np.random.default_rng(303)
    V, N = 5, 16
    terms = [rasp.score(rasp.tokens, rasp.tokens, rng.normal(0, 3, (V, V))),
             rasp.score(rasp.tokens, rasp.indices, rng.normal(0, 3, (V, N))),
             rasp.key_score(rasp.tokens, rng.normal(0, 3, V))]
    weights = rasp.soft_select(*terms)
    histogram = rasp.aggregate(weights, rasp.tokens, numerical=True)
    output = rasp.readout((histogram, rng.normal(size=(V, V))))
    program = rasp.Program(output, vocab_size=V, kind="token", n_positions=N)
    ids = rng.integers(0, V, size=(8, 12))
    compare_interpreters(program, ids, np.full(8, 12))
