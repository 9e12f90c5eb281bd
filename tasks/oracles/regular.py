"""Oracles of the six regular languages of ``tasks/regular.py``: allowed-next sets as logits.

As for the Tomita languages, a small state comes from counts, positions and
lookups over the prefix, and a table gives the allowed tokens of each state.
"""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import Program, indices, map, select, sequence_map, tokens
from bench.tasks.oracles._lib import (  # show: the doctests use it
    allowed_logits,
    count_tokens,
    count_true,
    last_position,
    previous,
    show,  # noqa: F401
)


@oracle("aastar")
def make_aastar() -> Program:
    """``(aa)*``: ``a`` always; the end after an even number of symbols (the position's parity).

    >>> show(make_aastar(), "<bos> a a <eos>")
    '{a <eos>} {a} {a <eos>}'
    """
    task = get_task("aastar")
    odd = map(indices, "x % 2", basis="bool").named("odd")
    return Program.for_task(task, allowed_logits(task, odd, {0: "a <eos>", 1: "a"}).named("allowed"))


@oracle("aaaastar")
def make_aaaastar() -> Program:
    """``(aaaa)*``: ``a`` always; the end after a multiple of 4 symbols.

    >>> show(make_aaaastar(), "<bos> a a a a <eos>")
    '{a <eos>} {a} {a} {a} {a <eos>}'
    """
    task = get_task("aaaastar")
    whole = map(indices, "x % 4 == 0", basis="bool").named("whole")
    return Program.for_task(task, allowed_logits(task, whole, {0: "a", 1: "a <eos>"}).named("allowed"))


@oracle("ababstar")
def make_ababstar() -> Program:
    """``(abab)*``: the symbol at position ``j`` must be ``a`` for odd ``j``, ``b`` for even;
    the end after a multiple of 4 symbols.

    >>> show(make_ababstar(), "<bos> a b a b <eos>")
    '{a <eos>} {b} {a} {b} {a <eos>}'
    """
    task = get_task("ababstar")
    wrong = sequence_map(tokens, indices, "x < 2 and x != (y - 1) % 2", basis="bool").named("wrong")
    errors = count_true(wrong).named("errors")
    state = sequence_map(errors, indices, "4 if x > 0 else y % 4", basis=5).named("state")
    allowed = {0: "a <eos>", 1: "b", 2: "a", 3: "b", 4: ""}
    return Program.for_task(task, allowed_logits(task, state, allowed).named("allowed"))


@oracle("abcde")
def make_abcde() -> Program:
    """``a+b+c+d+e+``: each symbol repeats the previous one or is the next letter
    (``<bos>`` stands for the letter before ``a``); one bad step is fatal. The
    last symbol then decides what may follow.

    >>> show(make_abcde(), "<bos> a b c d e <eos>")
    '{a} {a b} {b c} {c d} {d e} {e <eos>}'
    """
    task = get_task("abcde")
    before = previous(tokens).named("before")
    bad = sequence_map(tokens, before, "x < 5 and not (0 <= x - (y if y < 5 else -1) <= 1)", basis="bool").named("bad")
    dead = count_true(bad).named("dead")
    state = sequence_map(tokens, dead, "6 if y > 0 else min(x, 5)", basis=7).named("state")  # 5: at <bos>
    allowed = {0: "a b", 1: "b c", 2: "c d", 3: "d e", 4: "e <eos>", 5: "a", 6: ""}
    return Program.for_task(task, allowed_logits(task, state, allowed).named("allowed"))


@oracle("ab_d_bc")
def make_ab_d_bc() -> Program:
    """``[ab]*d[bc]*``: fatal are a ``c`` before any ``d``, an ``a`` after one, a second ``d``.

    >>> show(make_ab_d_bc(), "<bos> a d c <eos>")
    '{a b d} {a b d} {b c <eos>} {b c <eos>}'
    """
    task = get_task("ab_d_bc")
    ds = count_tokens("k == 3").named("ds")  # a b c d are 0 1 2 3
    bad = sequence_map(tokens, ds, "(x == 2 and y == 0) or (x == 0 and y > 0) or (x == 3 and y > 1)",
                       basis="bool").named("bad")
    dead = count_true(bad).named("dead")
    state = sequence_map(ds, dead, "2 if y > 0 else min(x, 1)", basis=3).named("state")
    return Program.for_task(task, allowed_logits(task, state, {0: "a b d", 1: "b c <eos>", 2: ""}).named("allowed"))


@oracle("012_0_2")
def make_012_0_2() -> Program:
    """``[012]*02*``: anything may follow; the end when the last symbol other than ``2``
    is a ``0``, i.e. the last ``0`` comes after the last ``1``.

    >>> show(make_012_0_2(), "<bos> 1 0 2 <eos>")
    '{0 1 2} {0 1 2} {0 1 2 <eos>} {0 1 2 <eos>}'
    """
    task = get_task("012_0_2")
    last_zero = last_position(select(tokens, tokens, "k == 0"), "last_zero")
    last_one = last_position(select(tokens, tokens, "k == 1"), "last_one")
    ends_in_0 = sequence_map(last_zero, last_one, "x > y", basis="bool").named("ends_in_0")
    return Program.for_task(task, allowed_logits(task, ends_in_0, {0: "0 1 2", 1: "0 1 2 <eos>"}).named("allowed"))
