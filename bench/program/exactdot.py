"""Matrix products whose every bit is the same with every BLAS, kernel and summation order.

A float64 matrix product from a BLAS library rounds its partial sums in an
order the library picks (by CPU, SIMD width, version, matrix shape, threads),
so the last bits of ``a @ b`` differ between machines. Here every product is
computed from *exact* pieces instead (an error-free splitting, as in Ozaki's
scheme):

1. each row of ``a`` (over the summed axis) gets a power-of-two scale ``2**e``
   above its largest magnitude and is cut into two slices, ``a ~ hi + lo``,
   ``hi`` an integer of at most ``beta`` bits times ``2**(e - beta)`` and ``lo``
   one of ``beta - 1`` bits times ``2**(e - 2 beta)`` (what is below is dropped);
   the same for each column of ``b``;
2. ``hi_a @ hi_b`` and ``hi_a @ lo_b + lo_a @ hi_b`` are sums of at most ``K``
   products that are integers below ``2**(2 beta)`` on one power-of-two grid
   per output entry, ``beta = (53 - ceil(log2 K)) // 2`` (21 bits for ``K`` up
   to 2048), so any BLAS computes them *exactly*, in any order, with or
   without FMA;
3. the result is their sum, rounded once.

The result is a fixed function of the operands, accurate to about
``K * 2**(-2 beta)`` of ``max|a_row| * max|b_col|`` (around 1e-12 relative);
the dropped ``lo @ lo`` and the cut below ``2**-2beta`` make it differ from a
plain float64 product in the last ~10 bits, never between machines. When
every entry is an integer of at most ``beta`` bits relative to its row's (or
column's) largest (one-hot vectors, counts, small tables), the low slices are
zero and the product is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MANTISSA = 53
_BLAS = None  # threadpoolctl's controller of the BLAS libraries loaded, found on first use


def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread.

    The products here are exact, so the thread count changes no bit; it changes the speed. A
    BLAS pool spinning on two threads collapses when another process holds a core (4x slower,
    measured on 2 cores beside a second scoring process), so the interpreter runs on one and
    parallel work is split between processes instead.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def pow2(n) -> np.ndarray:
    """``2.0 ** n`` for integers ``-1022 <= n <= 1023`` (exact; much faster than ldexp)."""
    return ((np.asarray(n, dtype=np.int64) + 1023) << 52).view(np.float64)


def slice_bits(k: int) -> int:
    """Bits per slice for sums of ``k`` products: ``k * 2**(2 * beta) <= 2**53``."""
    return (_MANTISSA - max(math.ceil(math.log2(max(k, 1))), 0)) // 2


#: Lines whose largest magnitude is below 2**E_MIN are sliced as if it were 2**E_MIN (entries
#: below about 1e-133 become 0): every nonzero slice and slice product stays a normal number.
E_MIN = -400


@dataclass(frozen=True)
class Sliced:
    """An operand as two exactly scaled slices, ``x ~ hi + lo``.

    ``hi / 2**(e - beta)`` and ``lo / 2**(e - 2 beta)`` are integers of at most ``beta`` and
    ``beta - 1`` bits, ``e`` (the operand's shape with the summed axis reduced to 1) one exponent
    per line; the part of a line below ``2**(e - 2 beta - 1)`` is dropped.
    """

    hi: np.ndarray
    lo: np.ndarray
    beta: int

    def keep(self, axis: int, index: np.ndarray) -> "Sliced":
        """Only the entries ``index`` along the summed ``axis`` (the others being known to be 0)."""
        if index.size and index[-1] - index[0] == index.size - 1:  # a range (of positions, of one term): views
            index = slice(int(index[0]), int(index[-1]) + 1)
            where = (slice(None),) * (axis % self.hi.ndim) + (index,)
            return Sliced(self.hi[where], self.lo[where], self.beta)
        return Sliced(np.take(self.hi, index, axis), np.take(self.lo, index, axis), self.beta)


def split(x: np.ndarray, axis: int, beta: int, e: np.ndarray | None = None) -> Sliced:
    """Slices of ``x`` with one exponent per line along ``axis`` (the summed axis), ``max|x| < 2**e``.

    ``e`` may be given (it must bound the line).
    """
    x = np.asarray(x, dtype=np.float64)
    e = line_exponents(x, axis) if e is None else np.maximum(e, E_MIN)
    hi = _round_to(x, e - beta)
    lo = np.subtract(x, hi)  # exact: |x - hi| <= 2**(e - beta - 1), on x's own grid
    return Sliced(hi, _round_to(lo, e - 2 * beta, out=lo), beta)


def line_exponents(x: np.ndarray, axis: int = -1, also: float = 0.0) -> np.ndarray:
    """The exponent :func:`split` gives each line of ``x`` along ``axis`` (``max|line| < 2**e``, at
    least :data:`E_MIN`), as if the line also held ``also``; from max and min (no ``|x|`` array)."""
    largest = np.maximum(np.max(x, axis=axis, keepdims=True, initial=abs(also)),
                         -np.min(x, axis=axis, keepdims=True, initial=-abs(also)))
    return np.maximum(np.frexp(largest)[1], E_MIN)


def _round_to(x: np.ndarray, n: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x`` rounded to the nearest multiple of ``2**n`` (ties to even), for ``|x| < 2**(n + 51)``.

    Adding ``1.5 * 2**(n + 52)`` puts the sum in a binade whose spacing is ``2**n``, so the
    addition rounds there (nearest, ties to even: the shift is an even multiple of the spacing)
    and subtracting the shift back is exact: the same result as ``rint(x / 2**n) * 2**n`` in
    two passes instead of three, with +0.0 where that gives -0.0.
    """
    shift = 1.5 * pow2(n + 52)
    out = np.add(x, shift, out=out)
    out -= shift
    return out


def product(a: Sliced, b: Sliced, causal: str | None = None) -> np.ndarray:
    """``a @ b`` from slices (``a`` sliced along its last axis, ``b`` along its second to last).

    ``hi_a @ hi_b`` and ``hi_a @ lo_b + lo_a @ hi_b`` are each exact in any BLAS (integers below
    2**53 on one power-of-two grid per output); their sum rounds once.

    ``causal="keys"``: ``a`` is (..., T, T) over (query, key) and zero above the diagonal, so
    query rows only read keys up to themselves; ``causal="out"``: the result is (..., T, T) and
    only its lower triangle is wanted (the rest is unspecified). Either way the values computed
    do not depend on it: it only skips work.
    """
    out, mid = exact_parts(a, b, causal)
    if mid is not None:
        out += mid
    return out


def exact_parts(a: Sliced, b: Sliced, causal: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``hi_a @ hi_b`` and ``hi_a @ lo_b + lo_a @ hi_b`` (None when both low slices are 0), each exact:
    parts of products cut from the same row and column exponents may be added part by part, exactly,
    before the one rounding of :func:`product` (``hi + mid``)."""
    mid = [(a.hi, b.lo)] if b.lo.any() else []
    mid += [(a.lo, b.hi)] if a.lo.any() else []
    return _blocked([(a.hi, b.hi)], causal), _blocked(mid, causal) if mid else None


_TABLES: dict = {}  # id(table) -> (table, beta, Sliced): a program's tables are read-only


def _table_slices(table: np.ndarray, beta: int) -> Sliced:
    cached = _TABLES.get(id(table))
    if cached is None or cached[0] is not table or cached[1] != beta:
        if len(_TABLES) > 512:
            _TABLES.clear()
        cached = (table, beta, split(table, -2, beta))
        if not table.flags.writeable:
            _TABLES[id(table)] = cached
    return cached[2]


def matmul(a: np.ndarray, b: np.ndarray, k: int | None = None, causal: str | None = None) -> np.ndarray:
    """``a @ b`` (numpy broadcasting of leading axes), the same bits everywhere.

    Rows of ``a`` and columns of ``b`` are sliced separately; ``k`` bounds the summed length (the
    slice width follows from it; default ``a.shape[-1]``).
    """
    beta = slice_bits(k or a.shape[-1])
    return product(split(a, -1, beta), split(b, -2, beta), causal)


#: Bytes :data:`VALUES` may hold at once (``bench.program.cost`` counts them in every chunk's bound).
VALUE_CACHE_BYTES = 128 << 20


class ValueCache:
    """What products derive from a program's values (their slices, where they are zero), kept while
    the interpreter keeps the value: a value read by several readouts or aggregates is sliced once.

    The entries of a value are keyed by ``id(value)`` and hold the value itself (so an id cannot be
    reused while the entry lives); :meth:`release` drops them when the interpreter frees the value.
    Nothing is cached outside ``with cache:`` (tables have their own cache, :func:`_table_slices`),
    nor past ``max_bytes`` (what does not fit is made again by each reader).
    """

    def __init__(self, max_bytes: int = VALUE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: dict = {}  # (id(value), what) -> (value, derived, bytes)
        self._by_value: dict = {}  # id(value) -> keys of its entries
        self._bytes = 0
        self.active = False

    def get(self, value: np.ndarray, what, make):
        if not self.active:
            return make()
        key = (id(value), what)
        hit = self._entries.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        derived = make()
        size = _nbytes(derived)
        if self._bytes + size <= self.max_bytes:
            self._entries[key] = (value, derived, size)
            self._by_value.setdefault(id(value), set()).add(key)
            self._bytes += size
        return derived

    def release(self, value) -> None:
        for key in self._by_value.pop(id(value), ()):
            self._bytes -= self._entries.pop(key)[2]

    def __enter__(self):
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        self._entries.clear()
        self._by_value.clear()
        self._bytes = 0


def _nbytes(obj) -> int:
    """Bytes of the arrays in a cache entry (arrays, :class:`Sliced`, :class:`Keys`, tuples of them)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(x) for x in obj)
    if hasattr(obj, "__dataclass_fields__"):
        return sum(_nbytes(getattr(obj, name)) for name in obj.__dataclass_fields__)
    return 0


#: The interpreter's cache of value slices (:class:`ValueCache`), active while it runs a program.
VALUES = ValueCache()


def _row_slices(x: np.ndarray, beta: int):
    """``x`` sliced along its last axis, and which of its entries (positions, n) are nonzero in some row."""
    nonzero = x != 0
    # (positions, n): whether an entry is nonzero at that position in some row of the batch
    by_position = nonzero.reshape((-1,) + x.shape[-2:]).any(0) if x.ndim >= 2 else nonzero[None]
    return split(x, -1, beta), by_position


def times_table(x: np.ndarray, table: np.ndarray, value: bool = False) -> np.ndarray:
    """``x @ table`` for (..., n) values and an (n, m) table, skipping entries of ``x`` that are 0 throughout.

    The slices are cut from the whole rows of ``x`` and whole columns of ``table`` first, so
    skipping exact zeros changes no bit of the result. ``value``: ``x`` is a program value, whose
    slices :data:`VALUES` keeps for its other readers.
    """
    beta = slice_bits(table.shape[0])
    if value:
        a, by_position = VALUES.get(x, ("rows", beta), lambda: _row_slices(x, beta))
    else:
        a, by_position = _row_slices(x, beta)
    b = _table_slices(table, beta)
    used = np.flatnonzero(by_position.any(0))
    if used.size < 0.8 * x.shape[-1]:
        a, b = a.keep(-1, used), b.keep(0, used)
        by_position = by_position[:, used]
    if x.ndim >= 3 and x.shape[-2] >= 2 * CAUSAL_BLOCKS:
        ends = _row_block_ends(by_position)
        if ends is not None:
            return _row_blocked(a, b, ends)
    return product(a, b)


def _row_block_ends(by_position: np.ndarray) -> list[tuple[int, int, int]] | None:
    """(start, stop, used) per block of positions, from a (positions, columns) table of where some row is
    nonzero: ``used`` is one past the last column any of the block's positions reads. Returned when cutting
    each block there saves at least a quarter of the columns: values over positions (an aggregate of
    ``indices``, or of such a value) are zero past their own position, so early positions read few
    columns. None when it would not pay."""
    t, k = by_position.shape
    if k == 0:
        return None
    last = np.where(by_position, np.arange(1, k + 1), 0).max(-1)  # (t,)
    edges = [t * r // CAUSAL_BLOCKS for r in range(CAUSAL_BLOCKS + 1)]
    blocks = [(start, stop, int(last[start:stop].max())) for start, stop in zip(edges[:-1], edges[1:])]
    return blocks if sum((stop - start) * used for start, stop, used in blocks) <= 0.75 * t * k else None


def _row_blocked(a: Sliced, b: Sliced, blocks: list[tuple[int, int, int]]) -> np.ndarray:
    """``a @ b`` block of positions by block, each block reading only its first ``used`` columns of ``a``
    (the rest are 0 in its rows) and rows of ``b``: exact products, so the same bits as the whole."""
    out = np.zeros(a.hi.shape[:-1] + (b.hi.shape[-1],))
    for start, stop, used in blocks:
        if used:
            rows = (slice(None),) * (a.hi.ndim - 2) + (slice(start, stop), slice(0, used))
            out[..., start:stop, :] = product(Sliced(a.hi[rows], a.lo[rows], a.beta),
                                              Sliced(b.hi[:used], b.lo[:used], b.beta))
    return out


@dataclass(frozen=True)
class Keys:
    """Values over keys, ready for :func:`weighted_sum`: per key the exponent ``e`` of its largest
    entry (``(..., T, 1)``) and its vector scaled by ``2**-e`` (exactly: below 1) and sliced."""

    e: np.ndarray
    unit: Sliced


def key_slices(v: np.ndarray, k: int) -> Keys:
    """:class:`Keys` of (..., T, n) values, for sums over at most ``k`` keys."""
    e_v = line_exponents(v)  # (..., T, 1) per key
    unit_v = v * pow2(-e_v)  # |v_j| < 1: exact
    return Keys(e_v, split(unit_v, -2, slice_bits(k), e=np.zeros((1, 1), np.int64)))


def weighted_sum(w: np.ndarray, v: np.ndarray | Keys, k: int) -> np.ndarray:
    """``w @ v`` for (..., T, T) query-by-key weights, zero above the diagonal, and (..., T, n) values.

    Each key's value vector is scaled by a power of two of its own (folded into the weights), so
    the slicing of query ``i``'s sum reads nothing but keys ``j <= i``: the result at a query does
    not depend on later keys, padding, or the batch. ``k`` bounds the number of keys. ``v`` may be
    given as its :func:`key_slices` (``k`` the same), made once for every selector aggregating it.
    """
    keys = v if isinstance(v, Keys) else key_slices(v, k)
    scaled_w = w * pow2(np.swapaxes(keys.e, -1, -2))  # w_ij * 2**e_j: exact
    return product(split(scaled_w, -1, slice_bits(k)), keys.unit, "keys")


#: Query blocks of a causal product: block r only reads keys below its end (5/8 of the work).
CAUSAL_BLOCKS = 4


def _blocked(pairs: list, causal: str | None) -> np.ndarray:
    """The sum of ``left @ right`` over integer-valued slice pairs (exact), skipping causal zeros."""
    a, b = pairs[0]
    t = a.shape[-2]
    if causal is None or t < 2 * CAUSAL_BLOCKS:
        out = np.matmul(a, b)
        for left, right in pairs[1:]:
            out += np.matmul(left, right)
        return out
    width = b.shape[-1] if causal == "keys" else t
    out = np.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (t, width))
    edges = [t * r // CAUSAL_BLOCKS for r in range(CAUSAL_BLOCKS + 1)]
    for start, stop in zip(edges[:-1], edges[1:]):
        for left, right in pairs:
            if causal == "keys":
                out[..., start:stop, :] += np.matmul(left[..., start:stop, :stop], right[..., :stop, :])
            else:
                out[..., start:stop, :stop] += np.matmul(left[..., start:stop, :], right[..., :, :stop])
    return out
