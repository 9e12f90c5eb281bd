"""The seven Tomita languages over ``0 1``, as next-token-set tasks.

- ``tomita1``: ``1*``; sampler ``1^L``.
- ``tomita2``: ``(10)*``; even ``L``; sampler ``(10)^(L/2)``.
- ``tomita3``: no odd run of 1s directly followed by an odd run of 0s (DFA
  below); sampler: blocks of a random symbol, short blocks favoured.
- ``tomita4``: no ``000``; sampler appends uniform symbols, skipping a 0 that
  would make ``000``.
- ``tomita5``: even numbers of 0s and of 1s; even ``L``.
- ``tomita6``: ``(#0 - #1) mod 3 = 0``; odd ``L >= 3``.
- ``tomita7``: ``0*1*0*1*``; sampler: four random block lengths.

Each task is ``<bos> s <eos>`` with, at every position from ``<bos>`` to the
last symbol, the set of tokens allowed next (from the minimal DFA below).

Source: Tomita (1982); as trained in Huang et al., "A Formal Framework for
Understanding Length Generalization in Transformers", ICLR 2025; Huang,
Bakalova, Bhattamishra, Merrill, Hahn, "Discovering Interpretable Algorithms
by Decompiling Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.language import DFA, LanguageTask
from bench.data.task import register_task
from bench.tasks._base import BITS, RepeatedWordLanguage, draw_weighted, language_fields, shuffled

# Rows list the next state for the symbols 0 and 1; the first row is the start.
TOMITA1 = DFA.from_table({"q0": "dead q0", "dead": "dead dead"}, accepting=["q0"])
TOMITA2 = DFA.from_table({"q0": "dead q1", "q1": "q0 dead", "dead": "dead dead"}, accepting=["q0"])
TOMITA3 = DFA.from_table(
    {"q0": "q0 q1", "q1": "q3 q0", "q2": "q3 q1", "q3": "q2 q4", "q4": "q4 q4"},
    accepting=["q0", "q1", "q2"],
)
# the state counts the trailing zeros
TOMITA4 = DFA.from_table(
    {"z0": "z1 z0", "z1": "z2 z0", "z2": "dead z0", "dead": "dead dead"}, accepting=["z0", "z1", "z2"]
)
# (parity of 0s, parity of 1s)
TOMITA5 = DFA.from_table({"ee": "oe eo", "oe": "ee oo", "eo": "oo ee", "oo": "eo oe"}, accepting=["ee"])
# (#0 - #1) mod 3
TOMITA6 = DFA.from_table({"r0": "r1 r2", "r1": "r2 r0", "r2": "r0 r1"}, accepting=["r0"])
# which of the four blocks 0* 1* 0* 1* we are in
TOMITA7 = DFA.from_table(
    {"b1": "b1 b2", "b2": "b3 b2", "b3": "b3 b4", "b4": "dead b4", "dead": "dead dead"},
    accepting=["b1", "b2", "b3", "b4"],
)


@dataclass(frozen=True)
class Tomita3(LanguageTask):
    """Sampler: blocks of a uniformly random symbol until ``L`` symbols are written.

    With ``r`` symbols left, a block length ``k`` in ``1..r`` has probability
    proportional to ``r + 1 - k``. A 0-block written while the last run of 1s
    has odd length gets an even length (same weights); if only one symbol is
    left then, a single 1 is written instead, which keeps the word accepted.
    """

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        out: list[int] = []
        last_one_run = 0  # length of the latest run of 1s (0 before the first)
        while len(out) < length:
            symbol, left = int(rng.integers(0, 2)), length - len(out)
            if symbol == 0 and last_one_run % 2 == 1:
                if left == 1:
                    symbol, count = 1, 1
                else:
                    evens = list(range(2, left + 1, 2))
                    count = draw_weighted(evens, [left + 1 - k for k in evens], rng)
            else:
                sizes = list(range(1, left + 1))
                count = draw_weighted(sizes, [left + 1 - k for k in sizes], rng)
            if symbol == 1:
                last_one_run = last_one_run + count if out and out[-1] == 1 else count
            out += [symbol] * count
        return out


@dataclass(frozen=True)
class Tomita4(LanguageTask):
    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        out: list[int] = []
        while len(out) < length:
            symbol = int(rng.integers(0, 2))
            if not (symbol == 0 and out[-2:] == [0, 0]):
                out.append(symbol)
        return out


@dataclass(frozen=True)
class Tomita5(LanguageTask):
    def is_valid_length(self, length: int) -> bool:
        return super().is_valid_length(length) and length % 2 == 0

    @property
    def length_rule(self) -> str:
        return "even, " + super().length_rule

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        n_zeros = 2 * int(rng.integers(0, length // 2 + 1))
        return shuffled([0] * n_zeros + [1] * (length - n_zeros), rng)


@dataclass(frozen=True)
class Tomita6(LanguageTask):
    def is_valid_length(self, length: int) -> bool:
        return super().is_valid_length(length) and length % 2 == 1

    @property
    def length_rule(self) -> str:
        return "odd, " + super().length_rule

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        while True:
            n_zeros = int(rng.integers(0, length + 1))
            if (n_zeros - (length - n_zeros)) % 3 == 0:
                return shuffled([0] * n_zeros + [1] * (length - n_zeros), rng)


@dataclass(frozen=True)
class Tomita7(LanguageTask):
    """Sampler: three block lengths uniform in ``[0, what is left]``, the fourth the rest, shuffled."""

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        blocks: list[int] = []
        for _ in range(3):
            blocks.append(int(rng.integers(0, length - sum(blocks) + 1)))
        blocks.append(length - sum(blocks))
        blocks = shuffled(blocks, rng)
        return [symbol for symbol, size in zip([0, 1, 0, 1], blocks) for _ in range(size)]


def _fields(number: int, language: str, dfa: DFA, min_length: int = 1) -> dict:
    return language_fields(f"tomita{number}", BITS, f"Tomita {number}: {language}.", dfa, min_length)


@register_task
def tomita1_task() -> RepeatedWordLanguage:
    return RepeatedWordLanguage(**_fields(1, "1*", TOMITA1), word="1")


@register_task
def tomita2_task() -> RepeatedWordLanguage:
    return RepeatedWordLanguage(**_fields(2, "(10)*", TOMITA2), word="10")


@register_task
def tomita3_task() -> Tomita3:
    return Tomita3(**_fields(3, "no odd run of 1s directly followed by an odd run of 0s", TOMITA3))


@register_task
def tomita4_task() -> Tomita4:
    return Tomita4(**_fields(4, "no 000 substring", TOMITA4))


@register_task
def tomita5_task() -> Tomita5:
    return Tomita5(**_fields(5, "even number of 0s and even number of 1s", TOMITA5))


@register_task
def tomita6_task() -> Tomita6:
    return Tomita6(**_fields(6, "(#0 - #1) mod 3 = 0", TOMITA6, min_length=3))


@register_task
def tomita7_task() -> Tomita7:
    return Tomita7(**_fields(7, "0*1*0*1*", TOMITA7))
