"""Oracles of the Tomita languages (``tasks/tomita.py``): allowed-next sets as logits.

Each program computes a small state from counts and lookups over the prefix,
then reads the allowed tokens of that state from a table
(:func:`bench.tasks.oracles._lib.allowed_logits`). The states mirror the minimal
DFAs but are characterized RASP-style ("has a ``000`` occurred?", "how many
symbol changes so far?") instead of being tracked step by step. Every
program is right on every prefix, not only on the prefixes of the words the
test splits hold.
"""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import LT, Program, indices, map, select, selector_width, sequence_map, tokens
from bench.tasks.oracles._lib import (  # show: the doctests use it
    allowed_logits,
    count_tokens,
    count_true,
    last_position,
    previous,
    show,  # noqa: F401
)


@oracle("tomita1")
def make_tomita1() -> Program:
    """``1*``: fine while no ``0`` has occurred.

    >>> show(make_tomita1(), "<bos> 1 1 <eos>")
    '{1 <eos>} {1 <eos>} {1 <eos>}'
    >>> show(make_tomita1(), "<bos> 0 <eos>")
    '{1 <eos>} {}'
    """
    task = get_task("tomita1")
    zeros = count_tokens("k == 0").named("zeros")
    dead = map(zeros, "x > 0", basis="bool").named("dead")
    return Program.for_task(task, allowed_logits(task, dead, {0: "1 <eos>", 1: ""}).named("allowed"))


@oracle("tomita2")
def make_tomita2() -> Program:
    """``(10)*``: the symbol at position ``j`` must be ``j % 2``; after an even
    number of symbols ``1`` or the end may follow, after an odd number ``0``.

    >>> show(make_tomita2(), "<bos> 1 0 <eos>")
    '{1 <eos>} {0} {1 <eos>}'
    """
    task = get_task("tomita2")
    wrong = sequence_map(tokens, indices, "x < 2 and x != y % 2", basis="bool").named("wrong")
    errors = count_true(wrong).named("errors")
    state = sequence_map(errors, indices, "2 if x > 0 else y % 2", basis=3).named("state")
    return Program.for_task(task, allowed_logits(task, state, {0: "1 <eos>", 1: "0", 2: ""}).named("allowed"))


@oracle("tomita3")
def make_tomita3() -> Program:
    """No odd run of 1s directly followed by an odd run of 0s.

    The DFA's state ``q3`` ("an odd run of 0s after an odd run of 1s") is the
    only live state that forbids ``1`` and the end: its 0-run is the distance
    from the last ``1``, its 1-run the distance between that ``1`` and the last
    non-``1`` before it (``<bos>`` included). A ``1`` right after a ``q3``
    position is a violation, and one violation in the prefix is fatal.

    >>> show(make_tomita3(), "<bos> 1 0 0 1 0 <eos>")
    '{0 1 <eos>} {0 1 <eos>} {0} {0 1 <eos>} {0 1 <eos>} {0}'
    >>> show(make_tomita3(), "<bos> 1 0 1 <eos>")
    '{0 1 <eos>} {0 1 <eos>} {0} {}'
    """
    task = get_task("tomita3")
    last_one = last_position(select(tokens, tokens, "k == 1"), "last_one")  # 0: no 1 yet
    before_run = last_position(select(tokens, tokens, "k != 1") & select(indices, last_one, LT), "before_run")
    odd_ones = sequence_map(last_one, before_run, "x > 0 and (x - y) % 2 == 1", basis="bool").named("odd_ones")
    zeros_run = sequence_map(indices, last_one, "x - y").named("zeros_run")  # trailing 0s
    q3 = sequence_map(zeros_run, odd_ones, "x % 2 == 1 and y", basis="bool").named("q3")
    q3_before = previous(q3).named("q3_before")
    violation = sequence_map(q3_before, tokens, "x == 1 and y == 1", basis="bool").named("violation")
    dead = count_true(violation).named("dead")
    state = sequence_map(dead, q3, "2 if x > 0 else y", basis=3).named("state")
    return Program.for_task(task, allowed_logits(task, state, {0: "0 1 <eos>", 1: "0", 2: ""}).named("allowed"))


@oracle("tomita4")
def make_tomita4() -> Program:
    """No ``000``: dead once three zeros stand in a row; after ``00`` only ``1`` or the end.

    >>> show(make_tomita4(), "<bos> 0 0 1 <eos>")
    '{0 1 <eos>} {0 1 <eos>} {1 <eos>} {0 1 <eos>}'
    """
    task = get_task("tomita4")
    zero = select(tokens, tokens, "k == 0").named("zero")
    zeros_last2 = selector_width(zero & select(indices, indices, "k >= q - 1")).named("zeros_last2")
    zeros_last3 = selector_width(zero & select(indices, indices, "k >= q - 2")).named("zeros_last3")
    triple = map(zeros_last3, "x == 3", basis="bool").named("triple")
    dead = count_true(triple).named("dead")
    state = sequence_map(dead, zeros_last2, "2 if x > 0 else y == 2", basis=3).named("state")
    return Program.for_task(task, allowed_logits(task, state, {0: "0 1 <eos>", 1: "1 <eos>", 2: ""}).named("allowed"))


@oracle("tomita5")
def make_tomita5() -> Program:
    """Even numbers of 0s and of 1s: any symbol may follow; the end when both counts are even.

    >>> show(make_tomita5(), "<bos> 0 1 1 0 <eos>")
    '{0 1 <eos>} {0 1} {0 1} {0 1} {0 1 <eos>}'
    """
    task = get_task("tomita5")
    zeros = count_tokens("k == 0").named("zeros")
    ones = count_tokens("k == 1").named("ones")
    even = sequence_map(zeros, ones, "x % 2 == 0 and y % 2 == 0", basis="bool").named("even")
    return Program.for_task(task, allowed_logits(task, even, {0: "0 1", 1: "0 1 <eos>"}).named("allowed"))


@oracle("tomita6")
def make_tomita6() -> Program:
    """``(#0 - #1) mod 3 = 0``: any symbol may follow; the end when the difference is a multiple of 3.

    >>> show(make_tomita6(), "<bos> 0 0 1 <eos>")
    '{0 1 <eos>} {0 1} {0 1} {0 1}'
    """
    task = get_task("tomita6")
    zeros = count_tokens("k == 0").named("zeros")
    ones = count_tokens("k == 1").named("ones")
    balanced = sequence_map(zeros, ones, "(x - y) % 3 == 0", basis="bool").named("balanced")
    return Program.for_task(task, allowed_logits(task, balanced, {0: "0 1", 1: "0 1 <eos>"}).named("allowed"))


@oracle("tomita7")
def make_tomita7() -> Program:
    """``0*1*0*1*``: count the symbol changes (``<bos>`` counts as a ``0``); after three
    only ``1`` may follow, a fourth is fatal.

    >>> show(make_tomita7(), "<bos> 1 0 1 <eos>")
    '{0 1 <eos>} {0 1 <eos>} {0 1 <eos>} {1 <eos>}'
    """
    task = get_task("tomita7")
    before = previous(tokens).named("before")
    change = sequence_map(tokens, before, "x < 2 and x != (y if y < 2 else 0)", basis="bool").named("change")
    changes = count_true(change).named("changes")
    state = map(changes, "min(x, 4)", basis=5).named("state")
    allowed = {0: "0 1 <eos>", 1: "0 1 <eos>", 2: "0 1 <eos>", 3: "1 <eos>", 4: ""}
    return Program.for_task(task, allowed_logits(task, state, allowed).named("allowed"))
