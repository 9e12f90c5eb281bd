"""Binary addition: ``<bos> a + b <sep> sum <eos>``, most significant bit first.

``L`` is the input length including ``+`` (at least 4). The first operand has
a length uniform in ``[1, L - 2]``, the second the remaining ``L - 1 - |a|``
digits; an operand longer than one digit starts with ``1``, the other digits
are i.i.d. The training offset is at most ``2 * 151 - T`` for a sequence of
``T`` tokens (so that ``o + T - 1 <= 301 < n_positions = 302``).

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

from bench.data.task import MAX_LENGTH, TaskError, TokenTask, register_task
from bench.tasks._base import VERSION

PLUS = 2  # the id of "+"; the digits 0 and 1 are their own ids


def to_int(bits: list[int]) -> int:
    """The value of a most-significant-bit-first binary number."""
    return int("".join(map(str, bits)), 2)


def to_bits(value: int) -> list[int]:
    """``value`` in binary, most significant bit first (``[0]`` for zero)."""
    return [int(ch) for ch in bin(value)[2:]]


@dataclass(frozen=True)
class Addition(TokenTask):
    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        first = int(rng.integers(1, length - 1))
        return self._operand(first, rng) + [PLUS] + self._operand(length - 1 - first, rng)

    @staticmethod
    def _operand(n_digits: int, rng: np.random.Generator) -> list[int]:
        if n_digits == 1:
            return [int(rng.integers(0, 2))]
        return [1] + [int(b) for b in rng.integers(0, 2, size=n_digits - 1)]

    def operands(self, x: list[int]) -> tuple[list[int], list[int]]:
        plus = x.index(PLUS)
        return x[:plus], x[plus + 1 :]

    def check_input(self, x: list[int]) -> None:
        if x.count(PLUS) != 1:
            raise TaskError(f"{self.name}: the input must hold exactly one '+'")
        for operand in self.operands(x):
            if not operand:
                raise TaskError(f"{self.name}: an operand is empty")
            if len(operand) > 1 and operand[0] == 0:
                raise TaskError(f"{self.name}: an operand has a leading zero")

    def solve(self, x: list[int]) -> list[int]:
        a, b = self.operands(x)
        return to_bits(to_int(a) + to_int(b))

    def offset_max(self, ids: list[int]) -> int:
        return 2 * (MAX_LENGTH + 1) - len(ids)


@register_task
def addition_task() -> Addition:
    return Addition(
        name="addition",
        version=VERSION,
        symbols=("0", "1", "+"),
        n_positions=302,
        min_length=4,
        layout="<bos> a + b <sep> sum <eos>",
        length_measure="input length including '+'",
        description="Add two binary numbers (most significant bit first).",
    )
