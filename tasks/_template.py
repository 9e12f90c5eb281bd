"""Template: how to add a task to the suite (copy this file, rename, fill in).

A module docstring like this one says what the task is (layout, what ``L``
measures, the sampler in words), where it comes from, and keeps a dated
version history::

    Version history:
        1.0 (YYYY-MM-DD): first version
        1.1 (YYYY-MM-DD): the sampler now ... (bump ``version`` on any change
            to the sampler or the format: the frozen test splits and every
            result carry it)

Steps:

1. Subclass :class:`bench.task.TokenTask` (``<bos> x <sep> y [<eos>]``) or
   :class:`bench.task.LanguageTask` (``<bos> s <eos>`` with allowed-next sets
   from a minimal :class:`bench.task.DFA`).
2. Token task: implement ``sample_input(length, rng)`` and ``solve(x)``; add
   ``check_input`` for inputs the sampler never produces (repeats, ties, ...),
   ``measure`` if ``L`` is not the input length, and set ``ends_with_eos`` /
   ``offset_scale`` (K = offset_scale * (150 - L)) or override ``offset_max``.
   Language task: implement ``sample_string(length, rng)``, which must return
   a word of the language.
3. Override ``is_valid_length`` and ``length_rule`` for a validity rule
   (even, multiple of 4, ...).
4. Use only the ``numpy.random.Generator`` you are given.
5. Register a zero-argument factory with ``@register_task`` and import the
   module in ``tasks/__init__.py``.
6. Add the task's independent ground-truth check to ``tests/test_tasks.py``
   and pin its split fingerprints in ``tests/test_splits.py``.

This template registers nothing, so importing it leaves the suite unchanged.

>>> import numpy as np
>>> task = reverse_bits_task()
>>> task.describe(task.sample(4, np.random.default_rng(0)))
'<bos> 1 1 1 0 <sep> 0 1 1 1 <eos>'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.task import TokenTask  # and register_task, in a real task module
from tasks._base import BITS, VERSION


@dataclass(frozen=True)
class ReverseBits(TokenTask):
    """Reverse a random bit string."""

    offset_scale: ClassVar[int] = 2  # the sequence holds the input twice

    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        return [int(b) for b in rng.integers(0, 2, size=length)]

    def solve(self, x: list[int]) -> list[int]:
        return x[::-1]


# @register_task   <- in a real task module
def reverse_bits_task() -> ReverseBits:
    return ReverseBits(
        name="reverse_bits",
        version=VERSION,
        symbols=BITS,
        n_positions=303,
        min_length=1,
        layout="<bos> x <sep> reverse(x) <eos>",
        length_measure="input length",
        description="Reverse a bit string.",
    )
