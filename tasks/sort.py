"""Sort: ``<bos> x <sep> sorted(x) <eos>`` for ``L`` distinct symbols of ``0``..``149``.

The symbols sort by their ids (``0 < 1 < ... < 149``); the training offset is
at most ``2(150 - L)``.

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

from bench.data.task import register_task
from bench.tasks._base import NUMBERS, VERSION, DistinctInputTask


@dataclass(frozen=True)
class Sort(DistinctInputTask):
    offset_scale: ClassVar[int] = 2

    def solve(self, x: list[int]) -> list[int]:
        return sorted(x)


@register_task
def sort_task() -> Sort:
    return Sort(
        name="sort",
        version=VERSION,
        symbols=NUMBERS,
        n_positions=303,
        min_length=1,
        layout="<bos> x <sep> sorted(x) <eos>",
        length_measure="input length",
        description="Sort distinct numbers 0..149 in increasing order.",
    )
