"""Oracles of the copy tasks (``tasks/copying.py``): read the token at a computed position.

With ``<sep>`` at position ``s``, the query ``t >= s`` predicts the token at
``t + 1``: for a copy that is the input token at ``t - s + 1``, for a reversal
the one at ``2s - t - 1``. Past the end of the input the source is ``<sep>``
(copy) or ``<bos>`` (reversal), a special token, which becomes ``<eos>``.

The position arithmetic works whatever the symbols are, so the same program
copies distinct symbols, bigram-unique strings and strings over ``a b``.
"""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import EQ, Program, aggregate, indices, map, select, sequence_map, tokens
from bench.tasks.oracles._lib import position_of, show  # noqa: F401  (show: the doctests)


def copy_from(task_name: str, source_expr: str) -> Program:
    """The token at ``source_expr`` (over ``x``: the query index, ``y``: the index of ``<sep>``)."""
    task = get_task(task_name)
    n, eos = task.vocab.n_symbols, task.vocab.eos
    sep_at = position_of(task.vocab.sep).named("sep_at")
    source = sequence_map(indices, sep_at, source_expr, basis="positions").named("source")
    copied = aggregate(select(indices, source, EQ), tokens).named("copied")
    out = map(copied, f"{eos} if x >= {n} else x", basis="tokens").named("out")
    return Program.for_task(task, out)


@oracle("unique_copy")
def make_unique_copy() -> Program:
    """Copy: predict the input token at ``t - sep + 1``.

    >>> show(make_unique_copy(), "<bos> 7 3 9 <sep> 7 3 9 <eos>")
    '7 3 9 <eos>'
    """
    return copy_from("unique_copy", "x - y + 1")


@oracle("unique_reverse")
def make_unique_reverse() -> Program:
    """Reverse: predict the input token at ``2 * sep - t - 1``.

    >>> show(make_unique_reverse(), "<bos> 7 3 9 <sep> 9 3 7 <eos>")
    '9 3 7 <eos>'
    """
    return copy_from("unique_reverse", "2 * y - x - 1")


@oracle("unique_bigram_copy")
def make_unique_bigram_copy() -> Program:
    """Copy by position (repeated symbols do not matter).

    >>> show(make_unique_bigram_copy(), "<bos> 5 5 2 5 <sep> 5 5 2 5 <eos>")
    '5 5 2 5 <eos>'
    """
    return copy_from("unique_bigram_copy", "x - y + 1")


@oracle("repeat_copy")
def make_repeat_copy() -> Program:
    """Copy by position.

    >>> show(make_repeat_copy(), "<bos> a b b a <sep> a b b a <eos>")
    'a b b a <eos>'
    """
    return copy_from("repeat_copy", "x - y + 1")
