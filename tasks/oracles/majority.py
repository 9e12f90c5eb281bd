"""Oracles of the majority tasks (``tasks/majority.py``): count, then compare.

Only the ``<sep>`` position (and, for the interleaved task, the next three)
is scored; the programs compute the answer everywhere from the prefix.
"""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import EQ, Program, aggregate, argmax, indices, map, select, sequence_map, tokens
from bench.tasks.oracles._lib import count_tokens, position_of, show  # noqa: F401  (show: the doctests)


@oracle("bin_majority")
def make_bin_majority() -> Program:
    """Count the zeros and the ones of the prefix; predict the more frequent bit.

    >>> show(make_bin_majority(), "<bos> 1 0 1 <sep> 1")
    '1'
    """
    task = get_task("bin_majority")
    zeros = count_tokens("k == 0").named("zeros")
    ones = count_tokens("k == 1").named("ones")
    majority = sequence_map(zeros, ones, "0 if x > y else 1", basis="tokens").named("majority")
    return Program.for_task(task, majority)


@oracle("majority")
def make_majority() -> Program:
    """The histogram of the letters in the prefix; predict its argmax (the top letter is unique).

    >>> show(make_majority(), "<bos> c a b a <sep> a")
    'a'
    """
    task = get_task("majority")
    n = task.vocab.n_symbols
    letters = aggregate(select(tokens, tokens, f"k < {n}"), tokens, numerical=True).named("letters")  # vec[tokens]
    majority = argmax(letters).named("majority")
    return Program.for_task(task, majority)


@oracle("bin_majority_interleave")
def make_bin_majority_interleave() -> Program:
    """Average the bits of one stream: the query ``<sep> + k`` reads stream ``k``, the input
    positions ``p`` with ``(p - 1) % 3 == k``; three steps after ``<sep>`` comes ``<eos>``.

    Stream ``k`` of the query is also ``(t - 1) % 3``, since ``<sep>`` stands at ``3m + 1``.

    >>> show(make_bin_majority_interleave(), "<bos> 0 1 1 0 1 0 0 0 1 <sep> 0 1 1 <eos>")
    '0 1 1 <eos>'
    """
    task = get_task("bin_majority_interleave")
    sep, eos = task.vocab.sep, task.vocab.eos
    after_sep = count_tokens(f"k == {sep}").named("after_sep")  # 1 from <sep> on
    # key side: the stream of an input bit, 3 for every other position
    stream = sequence_map(indices, after_sep, "(x - 1) % 3 if x > 0 and y == 0 else 3", basis=4).named("stream")
    wanted = map(indices, "(x - 1) % 3", basis=4).named("wanted")
    bit = map(tokens, "x").named("bit")  # num
    ones = aggregate(select(stream, wanted, EQ), bit).named("ones")  # fraction of ones in the stream
    step = sequence_map(indices, position_of(sep).named("sep_at"), "x - y").named("step")  # 0 at <sep>
    out = sequence_map(ones, step, f"{eos} if y == 3 else x > 0.5", basis="tokens").named("out")
    return Program.for_task(task, out)
