"""Parity: ``<bos> x <sep> y`` where ``y`` is the parity (``0`` or ``1``) of the ones in ``x``.

The number of ones is uniform in ``[0, L]``, then the bits are shuffled;
``L`` may be 0. The training offset is at most ``150 - L``.

Source: Huang et al., "A Formal Framework for Understanding Length
Generalization in Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra,
Merrill, Hahn, "Discovering Interpretable Algorithms by Decompiling
Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.data.task import TokenTask, register_task
from bench.tasks._base import BITS, VERSION, bits_with_zeros


@dataclass(frozen=True)
class Parity(TokenTask):
    ends_with_eos: ClassVar[bool] = False

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        n_ones = int(rng.integers(0, length + 1))
        return bits_with_zeros(length - n_ones, length, rng)

    def solve(self, x: list[int]) -> list[int]:
        return [sum(x) % 2]


@register_task
def parity_task() -> Parity:
    return Parity(
        name="parity",
        version=VERSION,
        symbols=BITS,
        n_positions=154,
        min_length=0,
        layout="<bos> x <sep> y",
        length_measure="input length",
        description="The parity of the number of ones in a bit string.",
    )
