"""The vectorized interpreter: a program over a padded batch at once (numpy).

Values are arrays with the batch and position axes first: ``cat`` (B, T)
int64, ``num`` (B, T) float64, ``vec`` (B, T, n) float64, hard selectors
(B, T, T) bool and soft selectors (B, T, T) float64, indexed ``[b, query i,
key j]``. Categorical functions are evaluated once per category and applied by
array indexing; selects are broadcast comparisons; aggregates are batched
matrix products.

Padding: sequences are padded at the end. Every operation is causal (a query
sees keys ``j <= i`` only), so the padded tail never changes the values at real
positions: running a sequence alone or inside any padded batch gives the same
values there. :func:`run_program` sorts the batch by length, runs it in
chunks cropped to each chunk's longest sequence (bounding the ``(B, T, T)``
memory), and returns 0 / all-False predictions at padded positions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .cost import CostError, OverTimeError
from .errors import ProgramError
from .exactdot import VALUES, one_blas_thread
from .fast_attention import dense
from .ops import BatchContext

#: Chunks of the batch hold at most this many (query, key) pairs (B * T * T): a (B, T, T) float64
#: array is then 2 MiB, so a chunk's working arrays mostly stay in the core's caches. Measured on the
#: shipped decompile programs (one batch of 250 per bin, scripts/bench_chunks.py): 1 << 18 took 0.66 of
#: the time of 1 << 21 (whose 16 MiB arrays were chosen to stay below glibc's mmap threshold), and
#: 1 << 17 and 1 << 19 about the same as 1 << 18. Chunking never changes a result (rows are independent).
CHUNK_PAIRS = 1 << 18


def _ids_and_lengths(program, batch, lengths=None) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` (B, T) and ``lengths`` (B,) from a Batch, a (ids, lengths) pair or an array."""
    if hasattr(batch, "input_ids"):
        ids, lengths = batch.input_ids, getattr(batch, "lengths", None)
    elif isinstance(batch, tuple) and len(batch) == 2 and lengths is None:
        ids, lengths = batch
    else:
        ids = batch
    ids = np.asarray(ids)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim != 2 or (ids.size and ids.dtype.kind not in "iu"):
        raise ProgramError(f"input_ids must be a (batch, length) integer array, got shape {ids.shape} of {ids.dtype}")
    ids = ids.astype(np.int64)
    B, T = ids.shape
    lengths = np.full(B, T, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (B,) or (B and (lengths.min() < 0 or lengths.max() > T)):
        raise ProgramError(f"lengths must be {B} integers in 0..{T}")
    if T > program.n_positions:
        raise ProgramError(f"sequences of length {T} exceed the program's n_positions {program.n_positions}")
    real = np.arange(T) < lengths[:, None]
    if ids.size and (ids[real].min(initial=0) < 0 or ids[real].max(initial=0) >= program.vocab_size):
        raise ProgramError(f"token ids outside the vocabulary 0..{program.vocab_size - 1}")
    ids = np.where(real, ids, 0)  # whatever the padding id, it stays inside the vocabulary
    return ids, lengths


def _run(program, ids: np.ndarray, keep: bool, deadline: float | None = None) -> dict:
    """Every node's value (``keep``) or just the output's, freeing values after their last use.

    With a ``deadline`` (``time.monotonic()``), :class:`.cost.OverTimeError` once it has passed
    (checked after every node: one node of a chunk takes a bounded time, see :mod:`.cost`).
    """
    ctx = BatchContext(tokens=ids, sizes=program.sizes)
    last_use = {}
    for position, node in enumerate(program.nodes):
        for v in node.inputs():
            last_use[v] = position
    values: dict = {}
    with np.errstate(all="ignore"), one_blas_thread(), VALUES:
        for position, node in enumerate(program.nodes):
            inputs = node.inputs()
            ctx.in_types = [program.types[v] for v in inputs]
            ctx.out = program.types[node]
            values[node] = node.run_batch(ctx, *[values[v] for v in inputs])
            if deadline is not None and time.monotonic() > deadline:
                raise OverTimeError(f"the time budget for running this program ran out (at node {program.ids[node]!r})")
            if not keep:
                for v in set(inputs):
                    if last_use[v] == position and v is not program.output:
                        VALUES.release(values.pop(v))
    return values


def evaluate(program, input_ids, lengths=None, *, selectors: bool = True) -> dict[str, np.ndarray]:
    """Every node's value on a batch, by node id (selectors too unless ``selectors=False``).

    ``input_ids``: a ``Batch``, an (B, T) array (or one sequence). No chunking:
    selectors take B * T * T memory each.
    """
    ids, _ = _ids_and_lengths(program, input_ids, lengths)
    values = _run(program, ids, keep=True)
    return {program.ids[n]: np.asarray(dense(v)) for n, v in values.items()
            if selectors or program.types[n].kind not in ("sel", "soft")}


def predictions(program, output: np.ndarray) -> np.ndarray:
    """Model-prediction form of an output value: (B, T) token ids or (B, T, V) bool."""
    if program.types[program.output].kind == "cat":
        return output.astype(np.int64)
    if program.kind == "token":
        return np.argmax(output, axis=-1).astype(np.int64)
    return output > 0


@dataclass(frozen=True)
class Budget:
    """Bounds on one run: chunks sized so that :mod:`.cost`'s bound stays under ``max_bytes``, and a deadline.

    ``deadline`` is a ``time.monotonic()`` value, checked after every node; past it,
    :class:`.cost.OverTimeError` is raised.
    """

    cost: object  # a cost.ProgramCost
    max_bytes: int
    deadline: float | None = None

    def rows(self, width: int) -> int:
        return self.cost.rows_within(width, self.max_bytes)


def _chunks(program, ids: np.ndarray, lengths: np.ndarray, chunk_pairs: int, budget: Budget | None = None):
    """(rows, width, output value) per chunk: rows of similar length, cropped to the longest."""
    B = ids.shape[0]
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < B:  # lengths ascend along `order`: the chunk's last row is its longest
        stop = start + 1
        while stop < B and (stop + 1 - start) * max(int(lengths[order[stop]]), 1) ** 2 <= chunk_pairs and (
                budget is None or stop + 1 - start <= budget.rows(int(lengths[order[stop]]))):
            stop += 1
        rows = order[start:stop]
        width = int(lengths[rows].max())
        if budget is not None and budget.rows(width) < 1:
            raise CostError(f"one sequence of length {width} needs more than the memory budget of "
                            f"{budget.max_bytes / 2**20:,.0f} MiB")
        if width > 0:
            deadline = budget.deadline if budget is not None else None
            yield rows, width, _run(program, ids[rows, :width], keep=False, deadline=deadline)[program.output]
        start = stop


def run_program_with_outputs(program, batch, lengths=None, *, chunk_pairs: int = CHUNK_PAIRS,
                             budget: Budget | None = None):
    """:func:`run_program`'s predictions and the output variable's values, both (B, T, ...), 0 when padded."""
    ids, lengths = _ids_and_lengths(program, batch, lengths)
    B, T = ids.shape
    token_kind = program.kind == "token"
    out = np.zeros((B, T), dtype=np.int64) if token_kind else np.zeros((B, T, program.vocab_size), dtype=bool)
    out_type = program.types[program.output]
    raw = np.zeros((B, T) + ((program.sizes[out_type.basis],) if out_type.kind == "vec" else ()),
                   dtype=np.int64 if out_type.kind == "cat" else np.float64)
    for rows, width, value in _chunks(program, ids, lengths, chunk_pairs, budget):
        real = np.arange(width) < lengths[rows][:, None]
        pred = predictions(program, value)
        pred = np.where(real[..., None], pred, False) if not token_kind else np.where(real, pred, 0)
        out[rows, :width] = pred
        raw[rows, :width] = np.where(real[..., None], value, 0) if value.ndim == 3 else np.where(real, value, 0)
    return out, raw


def run_program(program, batch, lengths=None, *, chunk_pairs: int = CHUNK_PAIRS,
                budget: Budget | None = None) -> np.ndarray:
    """Predictions like a model's: (B, T) int64 for token tasks, (B, T, V) bool for token sets.

    ``batch`` is a ``bench.data.task.Batch`` (``input_ids``, ``lengths``), a pair
    ``(input_ids, lengths)`` or an ``input_ids`` array (all positions real).
    Positions at or past a sequence's length hold 0 / False. With a ``budget``
    (untrusted programs), chunks are also sized by the memory bound and the
    deadline is checked after each (:class:`.cost.CostError` when over).
    """
    ids, lengths = _ids_and_lengths(program, batch, lengths)
    B, T = ids.shape
    token_kind = program.kind == "token"
    out = np.zeros((B, T), dtype=np.int64) if token_kind else np.zeros((B, T, program.vocab_size), dtype=bool)
    for rows, width, value in _chunks(program, ids, lengths, chunk_pairs, budget):
        pred = predictions(program, value)
        real = np.arange(width) < lengths[rows][:, None]
        pred = np.where(real[..., None], pred, False) if not token_kind else np.where(real, pred, 0)
        out[rows, :width] = pred
    return out
