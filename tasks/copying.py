"""Copy tasks: repeat the input after ``<sep>``, forwards or backwards.

- ``unique_copy``: ``<bos> x <sep> x <eos>``, ``x`` is ``L`` distinct symbols
  of ``0``..``149``.
- ``unique_reverse``: ``<bos> x <sep> reverse(x) <eos>``, same inputs.
- ``unique_bigram_copy``: ``<bos> x <sep> x <eos>`` over 16 symbols, where no
  bigram (pair of adjacent symbols) occurs twice in ``x``.
- ``repeat_copy``: ``<bos> x <sep> x <eos>``, ``x`` i.i.d. over ``a b``.

For all four ``L`` is the input length and the training offset is at most
``2(150 - L)``, since the sequence holds the input twice.

Source: Huang et al., "A Formal Framework for Understanding Length
Generalization in Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra,
Merrill, Hahn, "Discovering Interpretable Algorithms by Decompiling
Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.data.task import MAX_LENGTH, TaskError, TokenTask, register_task
from bench.tasks._base import NUMBERS, VERSION, DistinctInputTask

#: ceil(1.25 * sqrt(150)) = 16 symbols: 256 bigrams, plenty for 149 distinct ones.
BIGRAM_SYMBOLS = tuple(str(i) for i in range(math.ceil(1.25 * math.sqrt(MAX_LENGTH))))
#: Fresh starts allowed when the bigram walk gets stuck (it practically never does).
BIGRAM_RESTARTS = 1000


@dataclass(frozen=True)
class UniqueCopy(DistinctInputTask):
    offset_scale: ClassVar[int] = 2

    def solve(self, x: list[int]) -> list[int]:
        return list(x)


@dataclass(frozen=True)
class UniqueReverse(DistinctInputTask):
    offset_scale: ClassVar[int] = 2

    def solve(self, x: list[int]) -> list[int]:
        return x[::-1]


@dataclass(frozen=True)
class UniqueBigramCopy(TokenTask):
    """Copy a string in which every bigram is new.

    Sampler (``docs/tasks.md``): ``min(16, L)`` symbols i.i.d. until their bigrams are
    distinct, then a walk that appends a successor of the last symbol whose
    bigram is unused, preferring successors with the most unused outgoing
    bigrams (ties uniformly at random). Self-bigrams such as ``3 3`` count like
    any other. The walk can only get stuck at the string's first symbol after
    all its 16 outgoing bigrams are used; should that ever happen the string
    is drawn afresh (at most :data:`BIGRAM_RESTARTS` times).
    """

    offset_scale: ClassVar[int] = 2

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        for _ in range(BIGRAM_RESTARTS):
            x = self._walk(length, rng)
            if x is not None:
                return x
        raise TaskError(f"{self.name}: no string of length {length} with distinct bigrams found")

    def _walk(self, length: int, rng: np.random.Generator) -> list[int] | None:
        n = len(self.symbols)
        while True:
            x = [int(s) for s in rng.integers(0, n, size=min(n, length))]
            if len(set(zip(x, x[1:]))) == len(x) - 1:
                break
        used = [[False] * n for _ in range(n)]
        unused_out = [n] * n
        for a, b in zip(x, x[1:]):
            used[a][b] = True
            unused_out[a] -= 1
        while len(x) < length:
            last = x[-1]
            candidates = [s for s in range(n) if not used[last][s]]
            if not candidates:
                return None
            best = max(unused_out[s] for s in candidates)
            top = [s for s in candidates if unused_out[s] == best]
            nxt = top[int(rng.integers(0, len(top)))]
            x.append(nxt)
            used[last][nxt] = True
            unused_out[last] -= 1
        return x

    def check_input(self, x: list[int]) -> None:
        bigrams = list(zip(x, x[1:]))
        if len(set(bigrams)) != len(bigrams):
            raise TaskError(f"{self.name}: a bigram occurs twice in the input")

    def solve(self, x: list[int]) -> list[int]:
        return list(x)


@dataclass(frozen=True)
class RepeatCopy(TokenTask):
    offset_scale: ClassVar[int] = 2

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        return [int(s) for s in rng.integers(0, len(self.symbols), size=length)]

    def solve(self, x: list[int]) -> list[int]:
        return list(x)


def _copy_fields(name: str, layout: str, description: str, symbols=NUMBERS) -> dict:
    return dict(
        name=name,
        version=VERSION,
        symbols=symbols,
        n_positions=303,
        min_length=1,
        layout=layout,
        length_measure="input length",
        description=description,
    )


@register_task
def unique_copy_task() -> UniqueCopy:
    return UniqueCopy(
        **_copy_fields("unique_copy", "<bos> x <sep> x <eos>", "Copy a string of distinct symbols.")
    )


@register_task
def unique_reverse_task() -> UniqueReverse:
    return UniqueReverse(
        **_copy_fields("unique_reverse", "<bos> x <sep> reverse(x) <eos>", "Reverse a string of distinct symbols.")
    )


@register_task
def unique_bigram_copy_task() -> UniqueBigramCopy:
    return UniqueBigramCopy(
        **_copy_fields(
            "unique_bigram_copy",
            "<bos> x <sep> x <eos>",
            "Copy a string over 16 symbols in which no bigram repeats.",
            symbols=BIGRAM_SYMBOLS,
        )
    )


@register_task
def repeat_copy_task() -> RepeatCopy:
    return RepeatCopy(
        **_copy_fields("repeat_copy", "<bos> x <sep> x <eos>", "Copy a random string over a, b.", symbols=("a", "b"))
    )
