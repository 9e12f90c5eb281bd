"""Bounded-depth Dyck-1 languages ``d2``, ``d3``, ``d4``, ``d12`` over ``a`` (open) and ``b`` (close).

A word is balanced and never nests deeper than ``n``. The minimal DFA has
``n + 2`` states: the depths ``0..n`` (only depth 0 accepts) and a dead state
reached by closing at depth 0 or opening at depth ``n``. ``L`` is even.

Sampler (``docs/tasks.md``): from depth 0, alternate a run of ``a`` of length uniform
in ``[1, min(n - depth, (L - written - depth) // 2)]`` and a run of ``b`` of
length uniform in ``[1, depth]`` while ``written + depth < L``; then close
with ``depth`` ``b``.

Source: as trained in Huang et al., "A Formal Framework for Understanding
Length Generalization in Transformers", ICLR 2025; Huang, Bakalova,
Bhattamishra, Merrill, Hahn, "Discovering Interpretable Algorithms by
Decompiling Transformers to RASP", 2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.language import DFA, LanguageTask
from bench.data.task import register_task
from bench.tasks._base import language_fields

OPEN, CLOSE = 0, 1  # a, b


def dyck_dfa(max_depth: int) -> DFA:
    """States ``d0..d{n}`` (the depth) and ``dead``; rows give the next state for ``a`` and ``b``."""
    names = [f"d{k}" for k in range(max_depth + 1)]
    table = {}
    for k, name in enumerate(names):
        opened = names[k + 1] if k < max_depth else "dead"
        closed = names[k - 1] if k > 0 else "dead"
        table[name] = f"{opened} {closed}"
    table["dead"] = "dead dead"
    return DFA.from_table(table, accepting=["d0"])


@dataclass(frozen=True)
class BoundedDyck(LanguageTask):
    max_depth: int

    def is_valid_length(self, length: int) -> bool:
        return super().is_valid_length(length) and length % 2 == 0

    @property
    def length_rule(self) -> str:
        return "even, " + super().length_rule

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        out: list[int] = []
        depth, opening = 0, True
        while len(out) + depth < length:
            if opening:
                run = int(rng.integers(1, min(self.max_depth - depth, (length - len(out) - depth) // 2) + 1))
                depth += run
            else:
                run = int(rng.integers(1, depth + 1))
                depth -= run
            out += [OPEN if opening else CLOSE] * run
            opening = not opening
        return out + [CLOSE] * depth


def _make(max_depth: int) -> BoundedDyck:
    description = f"Balanced a/b brackets nested at most {max_depth} deep."
    return BoundedDyck(**language_fields(f"d{max_depth}", "ab", description, dyck_dfa(max_depth)), max_depth=max_depth)


@register_task
def d2_task() -> BoundedDyck:
    return _make(2)


@register_task
def d3_task() -> BoundedDyck:
    return _make(3)


@register_task
def d4_task() -> BoundedDyck:
    return _make(4)


@register_task
def d12_task() -> BoundedDyck:
    return _make(12)
