"""Six regular languages of Bhattamishra et al. (2020), as next-token-set tasks.

- ``aastar``: ``(aa)*`` over ``a``; even ``L``; sampler ``a^L``.
- ``aaaastar``: ``(aaaa)*`` over ``a``; ``L`` a multiple of 4; sampler ``a^L``.
- ``ababstar``: ``(abab)*``; ``L`` a multiple of 4; sampler ``(abab)^(L/4)``.
- ``abcde``: ``a+b+c+d+e+``; ``L >= 5``; five random run lengths.
- ``ab_d_bc``: ``[ab]*d[bc]*``; a random ``a``/``b`` part, ``d``, a random
  ``b``/``c`` part.
- ``012_0_2``: ``[012]*02*``; i.i.d. symbols, ``0``, then ``2``s.

The alphabet of each is the symbols of its expression, in sorted order.

Source: Bhattamishra, Ahuja, Goyal, "On the Ability and Limitations of
Transformers to Recognize Formal Languages", EMNLP 2020; as trained in Huang
et al., "A Formal Framework for Understanding Length Generalization in
Transformers", ICLR 2025; Huang, Bakalova, Bhattamishra, Merrill, Hahn,
"Discovering Interpretable Algorithms by Decompiling Transformers to RASP",
2026. Formats: ``docs/tasks.md``.

Version history:
    1.0 (2026-11-30): first version
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.language import DFA, LanguageTask
from bench.data.task import register_task
from bench.tasks._base import RepeatedWordLanguage, language_fields, shuffled

# Rows list the next state for each symbol in alphabet order; the first row is the start.
AASTAR = DFA.from_table({"even": "odd", "odd": "even"}, accepting=["even"])
AAAASTAR = DFA.from_table({"r0": "r1", "r1": "r2", "r2": "r3", "r3": "r0"}, accepting=["r0"])
ABABSTAR = DFA.from_table(
    {"r0": "r1 dead", "r1": "dead r2", "r2": "r3 dead", "r3": "dead r0", "dead": "dead dead"}, accepting=["r0"]
)
ABCDE = DFA.from_table(
    {
        "start": "a dead dead dead dead",
        "a": "a b dead dead dead",
        "b": "dead b c dead dead",
        "c": "dead dead c d dead",
        "d": "dead dead dead d e",
        "e": "dead dead dead dead e",
        "dead": "dead dead dead dead dead",
    },
    accepting=["e"],
)
AB_D_BC = DFA.from_table(
    {"left": "left left dead right", "right": "dead right right dead", "dead": "dead dead dead dead"},
    accepting=["right"],
)
# "end0": the last symbol other than 2 is a 0
ZOT_Z_T = DFA.from_table({"other": "end0 other other", "end0": "end0 other end0"}, accepting=["end0"])


@dataclass(frozen=True)
class ABCDELanguage(LanguageTask):
    """Sampler: four extra run lengths uniform in ``[0, L - 5 - sum so far]``, the fifth the rest, shuffled."""

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        extra: list[int] = []
        for _ in range(4):
            extra.append(int(rng.integers(0, length - 5 - sum(extra) + 1)))
        extra.append(length - 5 - sum(extra))
        extra = shuffled(extra, rng)
        return [symbol for symbol, size in enumerate(extra) for _ in range(size + 1)]


@dataclass(frozen=True)
class ABDBCLanguage(LanguageTask):
    """Sampler: left length uniform in ``[0, L - 1]`` with a uniform number of ``a`` (rest ``b``),
    shuffled; ``d``; the right part with a uniform number of ``b`` (rest ``c``), shuffled."""

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        a, b, c, d = range(4)
        left = int(rng.integers(0, length))
        n_a = int(rng.integers(0, left + 1))
        left_part = shuffled([a] * n_a + [b] * (left - n_a), rng)
        right = length - 1 - left
        n_b = int(rng.integers(0, right + 1))
        right_part = shuffled([b] * n_b + [c] * (right - n_b), rng)
        return left_part + [d] + right_part


@dataclass(frozen=True)
class ZOTZTLanguage(LanguageTask):
    """Sampler: left length uniform in ``[0, L - 1]``, i.i.d. over ``0 1 2``; then ``0``; then ``2``s."""

    def sample_string(self, length: int, rng: np.random.Generator) -> list[int]:
        left = int(rng.integers(0, length))
        return [int(s) for s in rng.integers(0, 3, size=left)] + [0] + [2] * (length - 1 - left)


def _fields(name: str, symbols: str, expression: str, dfa: DFA, min_length: int = 1) -> dict:
    return language_fields(name, symbols, f"The language {expression}.", dfa, min_length)


@register_task
def aastar_task() -> RepeatedWordLanguage:
    return RepeatedWordLanguage(**_fields("aastar", "a", "(aa)*", AASTAR), word="aa")


@register_task
def aaaastar_task() -> RepeatedWordLanguage:
    return RepeatedWordLanguage(**_fields("aaaastar", "a", "(aaaa)*", AAAASTAR), word="aaaa")


@register_task
def ababstar_task() -> RepeatedWordLanguage:
    return RepeatedWordLanguage(**_fields("ababstar", "ab", "(abab)*", ABABSTAR), word="abab")


@register_task
def abcde_task() -> ABCDELanguage:
    return ABCDELanguage(**_fields("abcde", "abcde", "a+b+c+d+e+", ABCDE, min_length=5))


@register_task
def ab_d_bc_task() -> ABDBCLanguage:
    return ABDBCLanguage(**_fields("ab_d_bc", "abcd", "[ab]*d[bc]*", AB_D_BC))


@register_task
def zot_z_t_task() -> ZOTZTLanguage:
    return ZOTZTLanguage(**_fields("012_0_2", "012", "[012]*02*", ZOT_Z_T))
