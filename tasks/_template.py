"""Template: a new task is one module like this one (copy it into ``tasks/``, rename, fill in).

``docs/adding_a_task.md`` walks through it; ``tests/test_adding_a_task.py``
copies this file, turns its two registrations on and runs the result through
the whole harness, so the template is kept working.

A module docstring like this one says what the task is (layout, what ``L``
measures, the sampler in words), where it comes from, and keeps a dated
version history::

    Version history:
        1.0 (YYYY-MM-DD): first version
        1.1 (YYYY-MM-DD): the sampler now ... (bump ``version`` on any change
            to the sampler or the format: the frozen test splits and every
            result carry it)

Steps:

1. Subclass :class:`bench.data.task.TokenTask` (``<bos> x <sep> y [<eos>]``) or
   :class:`bench.data.language.LanguageTask` (``<bos> s <eos>`` with allowed-next sets
   from a minimal :class:`bench.data.language.DFA`).
2. Token task: implement ``sample_input(length, rng)`` and ``solve(x)``; add
   ``check_input`` for inputs the sampler never produces (repeats, ties, ...),
   ``measure`` if ``L`` is not the input length, and set ``ends_with_eos`` /
   ``offset_scale`` (K = offset_scale * (150 - L)) or override ``offset_max``.
   Language task: implement ``sample_string(length, rng)``, which must return
   a word of the language.
3. Override ``is_valid_length`` and ``length_rule`` for a validity rule
   (even, multiple of 4, ...).
4. Use only the ``numpy.random.Generator`` you are given.
5. Register a zero-argument factory with ``@register_task``. Every module of
   ``tasks/`` whose name does not start with ``_`` is imported by the package.
6. Write the oracle: the task's ground-truth RASP program, registered with
   ``@oracle("<name>")`` in the same module (``tests/test_oracles.py`` checks
   it is right at every scored position of every length 0..150).
7. Pin the frozen test splits: ``python -m bench.tasks fingerprints --write``
   (``tests/test_splits.py`` then checks them against
   ``tasks/split_fingerprints.json``).

This template registers nothing, so importing it leaves the suite unchanged.

>>> import numpy as np
>>> task = reverse_bits_task()
>>> task.describe(task.sample(4, np.random.default_rng(0)))
'<bos> 1 1 1 0 <sep> 0 1 1 1 <eos>'
>>> from bench.program import run_program
>>> batch = task.sample_batch(8, 0, 20, np.random.default_rng(1))
>>> bool(((run_program(make_reverse_bits(), batch) == batch.labels) | ~batch.label_mask).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.data.oracles import oracle  # noqa: F401  (used by the registration a real task module turns on)
from bench.data.task import TokenTask, register_task  # noqa: F401  (as oracle)
from bench.program import EQ, Program, aggregate, indices, map, select, sequence_map, tokens
from bench.tasks._base import BITS, VERSION
from bench.tasks.oracles._lib import position_of


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


# @oracle("reverse_bits")   <- in a real task module
def make_reverse_bits() -> Program:
    """With ``<sep>`` at position ``s``, the query at ``t`` predicts the input token at ``2s - t - 1``."""
    task = reverse_bits_task()
    n, eos = task.vocab.n_symbols, task.vocab.eos
    sep_at = position_of(task.vocab.sep).named("sep_at")
    source = sequence_map(indices, sep_at, "2 * y - x - 1", basis="positions").named("source")
    copied = aggregate(select(indices, source, EQ), tokens).named("copied")
    out = map(copied, f"{eos} if x >= {n} else x", basis="tokens").named("out")  # past the input: <bos> -> <eos>
    return Program(out, vocab_size=task.vocab_size, kind=task.kind, n_positions=task.n_positions, name=task.name)
