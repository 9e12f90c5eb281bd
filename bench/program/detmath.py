"""The language's own exp, log, tanh and powers: the same bits on every machine.

numpy's and torch's ``exp``/``tanh``/``power`` take different code paths on
different CPUs (SIMD kernels, SVML, libm) and library versions, and those paths
differ in the last bits; a last-bit difference can flip a comparison, a
rounding to a category or an argmax. So the interpreters never call them.
Every function here is a fixed sequence of IEEE-754 double operations that are
exactly rounded everywhere (``+ - * /``, comparisons, ``floor``/``rint``,
``frexp``/``ldexp``), written twice with the same sequence: once over numpy
arrays (``*_np``) and once on a Python float. The two give identical bits, on
every machine, whatever numpy's SIMD path or version (tests/test_program_numerics.py).

- ``exp``, ``log``: fdlibm's algorithms (argument reduction by ``ln 2`` and the
  same polynomial), accurate to about 1 ulp;
- ``tanh(x)``: ``e / (e + 2)`` with ``e = expm1(2|x|)`` (a Taylor polynomial
  below 0.35, ``exp(2|x|) - 1`` above), sign restored; 1 past 22;
- ``ipow(a, n)``: binary exponentiation (square and multiply, lowest bit first),
  so integer and power-of-two results are exact;
- ``power(a, b)``: the expression language's ``a ** b`` (see :mod:`.expr`).
"""

from __future__ import annotations

import math

import numpy as np

LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: k * LN2_HI is exact for |k| < 2**21
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
EXP_HIGH = 7.09782712893383973096e02  # exp overflows above
EXP_LOW = -7.45133219101941108420e02  # exp underflows to 0 below
_P = (1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05,
      -1.65339022054652515390e-06, 4.13813679705723846039e-08)
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_SQRT_HALF = 0.7071067811865476
_EXPM1_COEFFS = tuple(1.0 / math.factorial(n) for n in range(13, 1, -1))  # 1/13! ... 1/2!
_SMALL = 0.34657359027997264  # ln(2) / 2: below this, expm1 is its Taylor polynomial
TANH_ONE = 22.0  # tanh(x) rounds to 1 for x >= 22
MAX_POWER_BITS = 11  # integer exponents above 2**11 decide by |a| alone (see power)
_BLOCK = 1 << 15  # elements per block in the vectorized kernels (keeps temporaries in cache)


def _blockwise(kernel, x: np.ndarray) -> np.ndarray:
    """``kernel`` over flat blocks of float64 ``x`` (a new array of x's shape)."""
    x = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    with np.errstate(all="ignore"):
        for start in range(0, flat.size, _BLOCK):
            out[start:start + _BLOCK] = kernel(flat[start:start + _BLOCK])
    return out.reshape(x.shape)


# ----- exp ------------------------------------------------------------------------------


def _exp_block(x: np.ndarray) -> np.ndarray:
    low, high = x.min(initial=0.0) < EXP_LOW, x.max(initial=0.0) > EXP_HIGH
    if low or high:
        low, high = x < EXP_LOW, x > EXP_HIGH
        x = np.clip(x, EXP_LOW, EXP_HIGH)
    k = np.rint(x * INV_LN2)
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    k = k.astype(np.int64)
    if k.size and -1022 <= k.min() and k.max() <= 1023:  # 2**k is a normal number: y * 2**k is exact
        y *= ((k + 1023) << 52).view(np.float64)
    else:
        half = k >> 1  # y * 2**k as (y * 2**half) * 2**(k - half): both factors are normal numbers, the
        y *= ((half + 1023) << 52).view(np.float64)  # first product is exact, the second rounds once
        y *= ((k - half + 1023) << 52).view(np.float64)  # (like ldexp, which is several times slower)
    if low is not False:
        y[low] = 0.0
        y[high] = np.inf
    return y


def exp_np(x) -> np.ndarray:
    """``exp`` elementwise (float64; +-inf and NaN are not expected: values are clipped)."""
    return _blockwise(_exp_block, x)


def exp(x: float) -> float:
    if x != x:  # NaN (not expected) stays NaN, as in exp_np (round() would raise)
        return x
    if x < EXP_LOW:
        return 0.0
    if x > EXP_HIGH:
        return math.inf
    k = float(round(x * INV_LN2))
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (_P[0] + t * (_P[1] + t * (_P[2] + t * (_P[3] + t * _P[4]))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    half = int(k) >> 1
    return (y * math.ldexp(1.0, half)) * math.ldexp(1.0, int(k) - half)


# ----- tanh -----------------------------------------------------------------------------


def _expm1_small(r):
    """expm1(r) for |r| <= ln(2)/2 (arrays or floats): r + r*r * (1/2! + r * (1/3! + ... r/13!))."""
    p = _EXPM1_COEFFS[0]
    for c in _EXPM1_COEFFS[1:]:
        p = p * r + c
    return r + (r * r) * p


def _tanh_block(x: np.ndarray) -> np.ndarray:
    a2 = np.minimum(np.abs(x) * 2.0, 2.0 * TANH_ONE)
    small = a2 <= _SMALL
    n_small = np.count_nonzero(small)
    if n_small == small.size:
        e = _expm1_small(a2)
    elif n_small == 0:
        e = _exp_block(a2) - 1.0
    else:
        e = np.empty_like(a2)
        e[small] = _expm1_small(a2[small])
        big = ~small
        e[big] = _exp_block(a2[big]) - 1.0
    t = e / (e + 2.0)
    t[a2 == 2.0 * TANH_ONE] = 1.0
    return np.copysign(t, x)


def tanh_np(x) -> np.ndarray:
    return _blockwise(_tanh_block, x)


def tanh(x: float) -> float:
    a2 = abs(x) * 2.0
    if a2 >= 2.0 * TANH_ONE:
        return math.copysign(1.0, x)
    e = _expm1_small(a2) if a2 <= _SMALL else exp(a2) - 1.0
    return math.copysign(e / (e + 2.0), x)


# ----- log (x > 0) ------------------------------------------------------------------------


def _log_tail(f, k):
    """fdlibm's log(1 + f) + k * ln 2 for sqrt(1/2) - 1 <= f < sqrt(2) - 1 (arrays or floats)."""
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    hfsq = 0.5 * f * f
    return k * LN2_HI - ((hfsq - (s * (hfsq + (t2 + t1)) + k * LN2_LO)) - f)


def log_np(x) -> np.ndarray:
    """Natural log of positive float64 values."""
    m, k = np.frexp(np.asarray(x, dtype=np.float64))
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    k = (k - low).astype(np.float64)
    return _log_tail(m - 1.0, k)


def log(x: float) -> float:
    m, k = math.frexp(x)
    if m < _SQRT_HALF:
        m, k = m * 2.0, k - 1
    return _log_tail(m - 1.0, float(k))


# ----- powers -------------------------------------------------------------------------


def ipow_np(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``a ** n`` for integers ``0 <= n < 2**MAX_POWER_BITS`` by binary exponentiation (broadcast)."""
    a, n = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.int64))
    result, base, n = np.ones(a.shape), a, n.copy()
    with np.errstate(all="ignore"):
        while True:
            result = np.where((n & 1) == 1, result * base, result)
            n >>= 1
            if not n.any():
                return result
            base = base * base


def ipow(a: float, n: int) -> float:
    result, base = 1.0, a
    while True:
        if n & 1:
            result = result * base
        n >>= 1
        if not n:
            return result
        base = base * base


def power_np(a, b) -> np.ndarray:
    """The expression language's ``a ** b`` (see :func:`power`), broadcast over float64 arrays."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    integral = b == np.floor(b)
    n = np.abs(b)
    small = integral & (n < 2**MAX_POWER_BITS)
    with np.errstate(all="ignore"):
        out = ipow_np(a, np.where(small, n, 0))
        odd = np.fmod(n, 2.0) == 1.0
        huge = np.where(np.abs(a) > 1, np.inf, np.where(np.abs(a) < 1, 0.0, 1.0))
        out = np.where(small, out, np.where(odd & (a < 0), -huge, huge))
        out = np.where(b < 0, np.where(out == 0, np.copysign(np.inf, out), 1.0 / out), out)
        positive = np.where(a > 0, a, 1.0)
        fractional = exp_np(b * log_np(positive))
        out = np.where(integral, out, np.where(a > 0, fractional, 0.0))
    return np.where((a == 0) & (b < 0), 0.0, out)


def power(a: float, b: float) -> float:
    """``a ** b``: 0 when ``a == 0 and b < 0`` or ``a < 0`` and ``b`` is not an integer;
    integer ``b``: :func:`ipow` of ``|b|`` (reciprocal for ``b < 0``), or for ``|b| >= 2**11``
    the limit by ``|a|`` alone (inf, 0 or 1, signed by parity); otherwise ``exp(b * log(a))``
    (0 for ``a == 0``). Overflow gives inf (clipped by the caller)."""
    if a == 0 and b < 0:
        return 0.0
    if b != math.floor(b):
        return exp(b * log(a)) if a > 0 else 0.0
    n = abs(b)
    if n < 2**MAX_POWER_BITS:
        out = ipow(a, int(n))
    else:
        out = math.inf if abs(a) > 1 else 0.0 if abs(a) < 1 else 1.0
        out = -out if a < 0 and math.fmod(n, 2.0) == 1.0 else out
    if b < 0:
        return math.copysign(math.inf, out) if out == 0 else 1.0 / out
    return out


def gelu_new_np(h: np.ndarray) -> np.ndarray:
    """GPT-2's tanh approximation of GELU, with the cube as ``(h * h) * h``."""
    h = np.asarray(h, dtype=np.float64)
    with np.errstate(all="ignore"):
        return 0.5 * h * (1.0 + tanh_np(GELU_C * (h + 0.044715 * ((h * h) * h))))


def gelu_new(v: float) -> float:
    return 0.5 * v * (1.0 + tanh(GELU_C * (v + 0.044715 * ((v * v) * v))))


GELU_C = 0.7978845608028654  # sqrt(2 / pi), rounded
