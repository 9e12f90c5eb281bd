"""Count: ``<bos> s e <sep> s s+1 .. e <eos>``: count from ``s`` up to ``e``.

``L`` is the output length ``e - s + 1`` (at least 2); ``s`` is uniform in
``[0, 150 - L]``, so every number is one of the symbols ``0``..``149``. The
training offset is at most ``150 - L``.

Source: Huang et al., "A Formal Framework for Understanding Length
Generalization in Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra,
Merrill, Hahn, "Discovering Interpretable Algorithms by Decompiling
Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.task import TaskError, TokenTask, register_task
from bench.tasks._base import NUMBERS, VERSION


@dataclass(frozen=True)
class Count(TokenTask):
    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        start = int(rng.integers(0, len(self.symbols) - length + 1))
        return [start, start + length - 1]

    def check_input(self, x: list[int]) -> None:
        if len(x) != 2 or x[0] > x[1]:
            raise TaskError(f"{self.name}: the input must be two numbers s <= e")

    def measure(self, x: list[int], y: list[int]) -> int:
        return len(y)

    def solve(self, x: list[int]) -> list[int]:
        return list(range(x[0], x[1] + 1))


@register_task
def count_task() -> Count:
    return Count(
        name="count",
        version=VERSION,
        symbols=NUMBERS,
        n_positions=155,
        min_length=2,
        layout="<bos> s e <sep> s s+1 .. e <eos>",
        length_measure="output length",
        description="Count from s to e.",
    )
