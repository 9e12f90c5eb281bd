"""Majority tasks: name the most frequent symbol of the input.

- ``bin_majority``: ``<bos> x <sep> y`` with ``x`` a bit string without a tie
  and ``y`` its majority bit.
- ``majority``: the same over the 26 letters ``a``..``z``; ``y`` is the unique
  most frequent letter.
- ``bin_majority_interleave``: ``x`` interleaves three bit streams of equal
  length ``m`` (``s1[0] s2[0] s3[0] s1[1] ...``); ``y1 y2 y3 <eos>`` are their
  majority bits. ``L`` is the total input length ``3m``.

Source: Huang et al., "A Formal Framework for Understanding Length
Generalization in Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra,
Merrill, Hahn, "Discovering Interpretable Algorithms by Decompiling
Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.data.task import MAX_LENGTH, TaskError, TokenTask, register_task
from bench.tasks._base import BITS, VERSION, bits_with_zeros, majority_bit, untied_zero_count

LETTERS = tuple(string.ascii_lowercase)
PERIOD = 3  # streams in bin_majority_interleave


@dataclass(frozen=True)
class BinaryMajority(TokenTask):
    """Majority bit of an untied bit string."""

    ends_with_eos: ClassVar[bool] = False

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        return bits_with_zeros(untied_zero_count(length, rng), length, rng)

    def check_input(self, x: list[int]) -> None:
        if 2 * x.count(0) == len(x):
            raise TaskError(f"{self.name}: the input has as many zeros as ones (no majority)")

    def solve(self, x: list[int]) -> list[int]:
        return [majority_bit(x)]


@dataclass(frozen=True)
class Majority(TokenTask):
    """Unique most frequent letter of an i.i.d. uniform letter string."""

    ends_with_eos: ClassVar[bool] = False

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        while True:
            x = [int(s) for s in rng.integers(0, len(self.symbols), size=length)]
            if self._unique_top(x):
                return x

    @staticmethod
    def _unique_top(x: list[int]) -> bool:
        top = Counter(x).most_common(2)
        return len(top) == 1 or top[0][1] > top[1][1]

    def check_input(self, x: list[int]) -> None:
        if x and not self._unique_top(x):
            raise TaskError(f"{self.name}: the most frequent symbol of the input is not unique")

    def solve(self, x: list[int]) -> list[int]:
        return [Counter(x).most_common(1)[0][0]]


def stream_length(total: int, lo: int, hi: int) -> int:
    """Per-stream length ``m`` for a drawn total length, kept inside ``[lo, hi]`` (``docs/tasks.md``).

    ``m = round(total / 3)``, one less if ``3m > hi``, one more if ``3m < lo``.
    ``total / 3`` is never exactly half-way, so ``round`` has no tie to break.

    >>> stream_length(50, 3, 50), stream_length(4, 3, 50), stream_length(101, 101, 150)
    (16, 1, 34)
    """
    m = round(total / PERIOD)
    if PERIOD * m > hi:
        m -= 1
    if PERIOD * m < lo:
        m += 1
    return m


@dataclass(frozen=True)
class BinaryMajorityInterleave(TokenTask):
    """Majority bits of three interleaved untied bit streams.

    Lengths: the measure is the total input length, always ``3m``. Drawing a
    length follows ``docs/tasks.md`` rather than plain rejection: a total ``L`` is
    drawn uniformly from the (raised) range, ``m = round(L / 3)`` is moved
    back inside the range, and ``3m`` is returned, so every sequence respects
    its bin. A range without a multiple of 3 (e.g. 4-5) has no valid length.
    """

    def is_valid_length(self, length: int) -> bool:
        return super().is_valid_length(length) and length % PERIOD == 0

    @property
    def length_rule(self) -> str:
        return f"multiple of {PERIOD}, {super().length_rule}"

    def draw_length(self, lo: int, hi: int, rng: np.random.Generator) -> int:
        self.valid_lengths(lo, hi)  # a clear error when the range holds no multiple of 3
        lo, hi = max(lo, self.min_length), min(hi, MAX_LENGTH)
        m = stream_length(int(rng.integers(lo, hi + 1)), lo, hi)
        if not lo <= PERIOD * m <= hi:  # cannot happen once the range holds a multiple of 3
            raise TaskError(f"{self.name}: no stream length fits the range {lo}-{hi}")
        return PERIOD * m

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        m = length // PERIOD
        streams = [bits_with_zeros(untied_zero_count(m, rng), m, rng) for _ in range(PERIOD)]
        return [bit for column in zip(*streams) for bit in column]

    def check_input(self, x: list[int]) -> None:
        if len(x) % PERIOD:
            raise TaskError(f"{self.name}: the input length {len(x)} is not a multiple of {PERIOD}")
        for k in range(PERIOD):
            if 2 * x[k::PERIOD].count(0) == len(x) // PERIOD:
                raise TaskError(f"{self.name}: stream {k + 1} has as many zeros as ones (no majority)")

    def solve(self, x: list[int]) -> list[int]:
        return [majority_bit(x[k::PERIOD]) for k in range(PERIOD)]


@register_task
def bin_majority_task() -> BinaryMajority:
    return BinaryMajority(
        name="bin_majority",
        version=VERSION,
        symbols=BITS,
        n_positions=154,
        min_length=1,
        layout="<bos> x <sep> y",
        length_measure="input length",
        description="The majority bit of a bit string with no tie.",
    )


@register_task
def majority_task() -> Majority:
    return Majority(
        name="majority",
        version=VERSION,
        symbols=LETTERS,
        n_positions=154,
        min_length=1,
        layout="<bos> x <sep> y",
        length_measure="input length",
        description="The unique most frequent letter of a string over a..z.",
    )


@register_task
def bin_majority_interleave_task() -> BinaryMajorityInterleave:
    return BinaryMajorityInterleave(
        name="bin_majority_interleave",
        version=VERSION,
        symbols=BITS,
        n_positions=156,
        min_length=3,
        layout="<bos> x <sep> y1 y2 y3 <eos>",
        length_measure="total input length (3 streams of length m)",
        description="The majority bits of three interleaved bit streams.",
    )
