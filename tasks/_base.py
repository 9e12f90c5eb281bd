"""Pieces shared by the task modules: the suite version, symbol tables, small samplers.

Everything here takes an explicit ``numpy.random.Generator``; nothing reads or
seeds global random state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.language import DFA, LanguageTask
from bench.data.task import MAX_LENGTH, TaskError, TokenTask

#: The version of every task module's first release (see each module's history).
VERSION = "1.0"

BITS = ("0", "1")
#: The 150 number symbols of the copy, sort and count tasks.
NUMBERS = tuple(str(i) for i in range(MAX_LENGTH))


def shuffled(values, rng: np.random.Generator) -> list[int]:
    """``values`` in a uniformly random order."""
    return [int(v) for v in rng.permutation(np.asarray(values, dtype=np.int64))]


def bits_with_zeros(n_zeros: int, length: int, rng: np.random.Generator) -> list[int]:
    """A random arrangement of ``n_zeros`` zeros and ``length - n_zeros`` ones."""
    return shuffled([0] * n_zeros + [1] * (length - n_zeros), rng)


def untied_zero_count(length: int, rng: np.random.Generator) -> int:
    """Number of zeros uniform in ``[0, length]``, redrawn while zeros and ones tie."""
    while True:
        n_zeros = int(rng.integers(0, length + 1))
        if 2 * n_zeros != length:
            return n_zeros


def majority_bit(bits: list[int]) -> int:
    """The more frequent of 0 and 1 (callers make sure there is no tie)."""
    return 0 if 2 * bits.count(0) > len(bits) else 1


def draw_weighted(values: list[int], weights: list[int], rng: np.random.Generator) -> int:
    """One of ``values`` with probability proportional to its integer weight."""
    u = int(rng.integers(0, sum(weights)))
    for value, weight in zip(values, weights):
        if u < weight:
            return value
        u -= weight
    raise AssertionError("unreachable: u < sum(weights)")


def require_distinct(task: TokenTask, x: list[int]) -> None:
    """Raise :class:`TaskError` if a symbol occurs twice in ``x``."""
    if len(set(x)) != len(x):
        repeated = sorted({s for s in x if x.count(s) > 1})
        raise TaskError(f"{task.name}: the input repeats symbol(s) {[task.symbols[s] for s in repeated[:5]]}")


@dataclass(frozen=True)
class DistinctInputTask(TokenTask):
    """A token task whose input is ``L`` distinct symbols drawn without replacement."""

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        return [int(s) for s in rng.permutation(len(self.symbols))[:length]]

    def check_input(self, x: list[int]) -> None:
        require_distinct(self, x)


def language_fields(name: str, symbols, description: str, dfa: DFA, min_length: int = 1) -> dict:
    """The fields of a language task; all share the layout and ``n_positions`` (``docs/tasks.md``)."""
    return dict(
        name=name,
        version=VERSION,
        symbols=tuple(symbols),
        n_positions=152,
        min_length=min_length,
        layout="<bos> s <eos>",
        length_measure="string length",
        description=description,
        dfa=dfa,
    )


@dataclass(frozen=True)
class RepeatedWordLanguage(LanguageTask):
    """A language whose positive sampler repeats one word: ``word^(L / len(word))``.

    Valid lengths are the multiples of ``len(word)`` (e.g. even for ``(10)*``).
    """

    word: str

    def is_valid_length(self, length: int) -> bool:
        return super().is_valid_length(length) and length % len(self.word) == 0

    @property
    def length_rule(self) -> str:
        period = len(self.word)
        rule = {1: "", 2: "even, "}.get(period, f"multiple of {period}, ")
        return rule + super().length_rule

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        word = [self.symbols.index(ch) for ch in self.word]
        return word * (length // len(word))
