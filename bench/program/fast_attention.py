"""The vectorized interpreter's attention operations: aggregates and soft selectors.

Called by the ``run_batch`` methods in :mod:`.ops_attention`. Shapes: a hard
selector is (B, T, T) bool over (query i, key j), or a :class:`Prefix` (the
``TRUE`` selector, known by its structure and never built unless needed); a soft
selector is (B, T, T) float64 weights, zero above the diagonal.

Numerics (docs/program_language.md, "Numerics"): every value is the same, bit
for bit, on every machine and in every batch. Sums over keys are accumulated in
key order (``cumsum``, ``bincount``: sequential in numpy, like the reference
interpreter), so hard aggregates, soft aggregates of ``num`` and one-hot
values, and the softmax denominators equal the reference's bits. Soft
aggregates of ``vec`` values and score terms with a ``vec`` side are products
of exact slices (:mod:`.exactdot`); softmax uses :func:`.detmath.exp_np`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import detmath
from .exactdot import VALUES, Keys, exact_parts, key_slices, line_exponents, slice_bits, split, times_table, weighted_sum


@dataclass(frozen=True)
class Prefix:
    """The ``TRUE`` selector of a (B, T) batch: query i selects keys 0..i."""

    shape: tuple[int, int]

    def dense(self) -> np.ndarray:
        B, T = self.shape
        return np.broadcast_to(np.tri(T, T, dtype=bool), (B, T, T))


def dense(selector) -> np.ndarray:
    """A hard selector as a (B, T, T) bool array."""
    return selector.dense() if isinstance(selector, Prefix) else selector


def selector_width(selector) -> np.ndarray:
    if isinstance(selector, Prefix):
        B, T = selector.shape
        return np.broadcast_to(np.arange(1, T + 1, dtype=np.float64), (B, T))
    return np.count_nonzero(selector, axis=-1).astype(np.float64)


def _sequential_sum(terms: np.ndarray, axis: int) -> np.ndarray:
    """Sum along ``axis`` left to right, starting from +0.0 (the reference's ``total = 0.0; total += t``)."""
    return np.take(np.cumsum(terms + 0.0, axis=axis), -1, axis=axis)  # + 0.0 turns -0.0 into +0.0


# ----- hard selectors ---------------------------------------------------------------


def hard_aggregate(selector, values: np.ndarray, kind: str, size: int | None, default) -> np.ndarray:
    """``aggregate`` with a hard selector; ``kind``: "cat" (categorical), "onehot" (numerical cat), "num", "vec"."""
    if isinstance(selector, Prefix):
        return _prefix_aggregate(values, kind, size, default)
    if kind == "cat":
        return _categorical_aggregate(selector, values, default)
    counts = np.count_nonzero(selector, axis=-1)[..., None].astype(np.float64)  # (B, T, 1)
    if kind == "onehot" and _are_indices(values, size):  # each key its own category: the counts are the selector
        sums = np.zeros(selector.shape[:2] + (size,))
        sums[..., :selector.shape[-1]] = selector
    elif kind == "onehot":  # counting: exact integers in float32, whatever the summation order
        onehot = (values[..., None] == np.arange(size)).astype(np.float32)
        sums = np.matmul(selector.astype(np.float32), onehot).astype(np.float64)
    elif kind == "num":
        sums = _sequential_sum(np.where(selector, values[:, None, :], 0.0), -1)[..., None]
    else:
        sums = np.stack([_sequential_sum(np.where(selector, values[:, None, :, n], 0.0), -1)
                         for n in range(values.shape[-1])], -1)
    out = np.where(counts > 0, sums / np.maximum(counts, 1), float(default))
    return out[..., 0] if kind == "num" else out


def _are_indices(values: np.ndarray, size: int) -> bool:
    """Whether (B, T) cat values are ``0 .. T-1`` in every row (the ``indices``), within a basis of ``size``."""
    B, T = values.shape
    return T <= size and np.array_equal(values, np.broadcast_to(np.arange(T), (B, T)))


def _prefix_aggregate(values: np.ndarray, kind: str, size: int | None, default) -> np.ndarray:
    """Aggregates over every key up to the query: running sums (or running min/max) along positions."""
    if kind == "cat":
        low, high = np.minimum.accumulate(values, axis=1), np.maximum.accumulate(values, axis=1)
        return np.where(low == high, low, default).astype(np.int64)
    counts = np.arange(1, values.shape[1] + 1, dtype=np.float64)[:, None]
    if kind == "onehot":  # running counts: integers (exact in any order), four times less memory than floats
        counting = np.int16 if values.shape[1] < np.iinfo(np.int16).max else np.int64
        sums = np.cumsum(values[..., None] == np.arange(size, dtype=values.dtype), axis=1, dtype=counting)
        return np.divide(sums, counts)
    sums = np.cumsum((values if values.ndim == 3 else values[..., None]) + 0.0, axis=1)
    out = sums / counts
    return out[..., 0] if kind == "num" else out


def _categorical_aggregate(selector: np.ndarray, values: np.ndarray, default: int) -> np.ndarray:
    big = np.iinfo(np.int64).max
    spread = np.broadcast_to(values[:, None, :], selector.shape)
    low = np.where(selector, spread, big).min(-1)
    high = np.where(selector, spread, -1).max(-1)
    return np.where(selector.any(-1) & (low == high), low, default).astype(np.int64)


# ----- soft selectors -----------------------------------------------------------------


def soft_aggregate(weights: np.ndarray, values: np.ndarray, kind: str, size: int | None, n_keys: int) -> np.ndarray:
    """``aggregate`` with a soft selector: weighted sums over keys (see the module docstring)."""
    B, T = weights.shape[:2]
    if kind == "onehot":
        return _weighted_counts(weights, values, size)
    if kind == "num":
        return _sequential_sum(weights * values[:, None, :], -1)
    used, keys = VALUES.get(values, ("aggregated", n_keys), lambda: _aggregated(values, n_keys))
    out = np.zeros((B, T, values.shape[-1]))
    if used.size:
        out[..., used] = weighted_sum(weights, keys, n_keys)
    return out


def _aggregated(values: np.ndarray, n_keys: int) -> tuple[np.ndarray, Keys | None]:
    """The entries of vec values that are nonzero somewhere, and those entries as :func:`.exactdot.key_slices`
    (made once per value, for every selector that aggregates it)."""
    used = np.flatnonzero(values.any(axis=(0, 1)))  # entries that are 0 everywhere stay exactly 0
    return used, key_slices(values[..., used], n_keys) if used.size else None


def _weighted_counts(weights: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Histogram of cat values weighted by attention: per (query, category), weights added in key order."""
    B, T = values.shape
    if _are_indices(values, size):  # the indices: one key each
        out = np.zeros((B, T, size))
        out[..., :T] = weights
        return out + 0.0
    rows = (np.arange(B * T) * size).reshape(B, T, 1)
    index = rows + values[:, None, :]  # (B, T, T): the bin of key j for query i
    counts = np.bincount(index.reshape(-1), weights=weights.reshape(-1), minlength=B * T * size)
    return counts.reshape(B, T, size)


#: Query blocks of soft selectors: block r only computes keys below its end (9/16 of the work for 8 blocks).
SOFTMAX_BLOCKS = 8


def query_blocks(T: int) -> list[tuple[int, int]]:
    """(start, stop) of the query blocks of a (T, T) soft selector; block rows only see keys below ``stop``."""
    edges = [T * r // SOFTMAX_BLOCKS for r in range(SOFTMAX_BLOCKS + 1)] if T >= 2 * SOFTMAX_BLOCKS else [0, T]
    return list(zip(edges[:-1], edges[1:]))


def softmax(scores: np.ndarray, causal: np.ndarray) -> np.ndarray:
    """Causal softmax over keys: exp by :func:`.detmath.exp_np`, denominators summed in key order.

    ``causal`` is the (T, T) lower triangle. Query rows are done in blocks that stop at the block's
    last key: what is skipped is exactly 0 (exp far below its range) and adds +0.0 to the sums, so
    the bits are those of the whole (B, T, T) computation.
    """
    out = np.zeros(scores.shape)
    for start, stop in query_blocks(scores.shape[-1]):
        block, seen = scores[..., start:stop, :stop], causal[start:stop, :stop]
        top = np.where(seen, block, -np.inf).max(-1, keepdims=True)
        shifted = np.where(seen, block - top, 2.0 * detmath.EXP_LOW)  # exp(...) == 0 above the diagonal
        powers = detmath.exp_np(shifted)
        out[..., start:stop, :stop] = powers / np.cumsum(powers, axis=-1)[..., -1:]
    return out


def soft_scores(parts: list[tuple], shape: tuple[int, int]) -> np.ndarray:
    """Summed scores (B, T, T) of a soft selector's terms (only j <= i is meaningful, and only the
    blocks of :func:`query_blocks` are computed).

    ``parts``: per term ``(table, q, k, q_kind, k_kind, q_id, k_id)``, ``q``/``q_kind`` None for a
    key-only term, the ids telling the variables apart. Each term's query side gives per query one
    row over the key's basis (``table[q]``, ``q @ table`` or the key-only vector). Terms with a cat
    key gather their entry and are added one at a time in term order, as the reference interpreter
    adds them (the same bits). Terms with a vec key are grouped by key variable (rows added in term
    order) and all meet the keys' vectors in one exact-slice product, added last (the reference
    agrees with those to about 1e-12, not bit for bit: docs/program_language.md, "Numerics").
    (``q @ table`` for all terms of one vec query is one product with the tables side by side:
    the same bits, since columns are sliced separately.)
    """
    B, T = shape
    products = _query_products(parts)
    scores = np.zeros((B, T, T))
    groups: dict = {}
    for n, (table, q, k, q_kind, k_kind, q_id, k_id) in enumerate(parts):
        row = table if q is None else table[q] if q_kind == "cat" else products[n]
        if k_kind == "cat":  # gathered block by block (the softmax reads nothing above the diagonal)
            rows = np.broadcast_to(row, (B, T, row.shape[-1]))
            for start, stop in query_blocks(T):
                keys = np.broadcast_to(k[:, None, :stop], (B, stop - start, stop))
                scores[:, start:stop, :stop] += np.take_along_axis(rows[:, start:stop], keys, axis=2)
        else:
            rows = groups[k_id][0] if k_id in groups else None
            groups[k_id] = (row if rows is None else rows + row, k)
    if groups:
        scores += _vec_key_scores(list(groups.values()), shape)
    return scores


_SIDE_BY_SIDE: dict = {}  # tuple of table ids -> (tables, their columns side by side, read-only)


def _query_products(parts: list[tuple]) -> dict[int, np.ndarray]:
    """``q @ table`` per term with a vec query, one exact-slice product per query variable."""
    by_query: dict = {}
    for n, (table, q, k, q_kind, k_kind, q_id, k_id) in enumerate(parts):
        if q_kind == "vec":
            by_query.setdefault(q_id, (q, []))[1].append(n)
    out = {}
    for q, terms in by_query.values():
        tables = [parts[n][0] for n in terms]
        key = tuple(id(t) for t in tables)
        cached = _SIDE_BY_SIDE.get(key)
        if cached is None or any(a is not b for a, b in zip(cached[0], tables)):
            joined = np.concatenate(tables, axis=1)
            joined.setflags(write=False)
            cached = _SIDE_BY_SIDE[key] = (tables, joined)
            if len(_SIDE_BY_SIDE) > 256:
                _SIDE_BY_SIDE.clear()
        result = times_table(q, cached[1], value=True)
        edges = np.cumsum([0] + [t.shape[1] for t in tables])
        for n, start, stop in zip(terms, edges[:-1], edges[1:]):
            out[n] = result[..., start:stop]
    return out


#: Key-only terms are computed once per distinct row exponent while there are at most this many.
MAX_ROW_EXPONENTS = 8


def _vec_key_scores(groups: list[tuple], shape: tuple[int, int]) -> np.ndarray:
    """``rows[b, i] . keys[b, j]`` by exact slices, the terms of every vec key variable side by side
    (``groups``: per key variable its summed query rows and its values over keys).

    A key variable read by key-only terms alone has the same row for every query (its table): its
    part of the exact product depends on the query only through the row's slicing exponent, so it is
    computed once per distinct exponent and gathered. The parts (those rows, the others) are exact
    sums on the grid of the whole product, so adding them changes no bit. Entries that are 0 for
    every key are skipped (they add exact zeros).
    """
    B, T = shape
    constant = [(rows, keys) for rows, keys in groups if rows.ndim == 1]
    varying = [(np.broadcast_to(rows, (B, T, rows.shape[-1])), keys) for rows, keys in groups if rows.ndim > 1]
    beta = slice_bits(sum(keys.shape[-1] for _, keys in groups))
    table = np.concatenate([rows for rows, _ in constant]) if constant else np.zeros(0)
    left = np.concatenate([rows for rows, _ in varying], -1) if varying else np.zeros((B, T, 0))
    e = line_exponents(left, also=float(np.max(np.abs(table), initial=0.0)))  # (B, T, 1): the whole row's
    right = np.concatenate([keys for _, keys in varying] + [keys for _, keys in constant], -1)
    used = np.flatnonzero(np.any(right != 0, axis=(0, 1)))
    # each key's exponent is over its nonzero entries, and each row's is given: slicing only those is the same
    b = split(np.swapaxes(right[..., used] if used.size < right.shape[-1] else right, 1, 2), -2, beta)
    n_varying = left.shape[-1]
    exponents, where = np.unique(e, return_inverse=True)
    if constant and exponents.size > MAX_ROW_EXPONENTS:  # too many exponents: one product with every row
        left = np.concatenate([left, np.broadcast_to(table, (B, T, table.size))], -1)
        n_varying, constant = left.shape[-1], []
    inside = np.flatnonzero(used < n_varying)  # rows of b
    left = left[..., used[inside]] if inside.size < n_varying else left
    out, mid = exact_parts(split(left, -1, beta, e=e), b.keep(1, inside), causal="out")
    if constant:
        at = np.flatnonzero(used >= n_varying)
        keys = b.keep(1, at)
        row = table[None, used[at] - n_varying]
        parts = [exact_parts(split(row, -1, beta, e=np.array([[int(x)]])), keys)
                 for x in exponents]  # each (B, 1, T) over keys, for the rows of that exponent
        rows = where.reshape(B, T)
        batch = np.arange(B)[:, None]
        out += np.stack([hi[:, 0] for hi, _ in parts])[rows, batch]
        if any(lo is not None for _, lo in parts):
            lows = np.stack([np.zeros((B, T)) if lo is None else lo[:, 0] for _, lo in parts])[rows, batch]
            mid = lows if mid is None else mid + lows
    if mid is not None:
        out += mid
    return out
