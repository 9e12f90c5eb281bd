"""Oracles of the bounded-depth Dyck languages ``d2 d3 d4 d12`` (``tasks/dyck.py``)."""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import Program, map, sequence_map
from bench.tasks.oracles._lib import (  # show: the doctests use it
    allowed_logits,
    count_tokens,
    count_true,
    show,  # noqa: F401
)


def bounded_dyck(name: str, max_depth: int) -> Program:
    """The depth is ``#a - #b`` over the prefix; once it has left ``0..max_depth`` the prefix is dead.

    Allowed next: ``a`` below the bound, ``b`` above 0, the end at depth 0.
    """
    task = get_task(name)
    opens = count_tokens("k == 0").named("opens")
    closes = count_tokens("k == 1").named("closes")
    depth = sequence_map(opens, closes, "x - y").named("depth")  # num
    outside = map(depth, f"x < 0 or x > {max_depth}", basis="bool").named("outside")
    broken = count_true(outside).named("broken")
    dead = max_depth + 1
    state = sequence_map(depth, broken, f"{dead} if y > 0 else x", basis=max_depth + 2).named("state")
    allowed = {d: " ".join(["a"] * (d < max_depth) + ["b"] * (d > 0) + ["<eos>"] * (d == 0))
               for d in range(max_depth + 1)}
    allowed[dead] = ""
    return Program.for_task(task, allowed_logits(task, state, allowed).named("allowed"))


@oracle("d2")
def make_d2() -> Program:
    """Dyck-1 of depth at most 2 (see :func:`bounded_dyck`).

    >>> show(make_d2(), "<bos> a a b b <eos>")
    '{a <eos>} {a b} {b} {a b} {a <eos>}'
    """
    return bounded_dyck("d2", 2)


@oracle("d3")
def make_d3() -> Program:
    """Dyck-1 of depth at most 3 (see :func:`bounded_dyck`).

    >>> show(make_d3(), "<bos> a b b <eos>")
    '{a <eos>} {a b} {a <eos>} {}'
    """
    return bounded_dyck("d3", 3)


@oracle("d4")
def make_d4() -> Program:
    """Dyck-1 of depth at most 4 (see :func:`bounded_dyck`).

    >>> show(make_d4(), "<bos> a a b b <eos>")
    '{a <eos>} {a b} {a b} {a b} {a <eos>}'
    """
    return bounded_dyck("d4", 4)


@oracle("d12")
def make_d12() -> Program:
    """Dyck-1 of depth at most 12 (see :func:`bounded_dyck`).

    >>> show(make_d12(), "<bos> a b <eos>")
    '{a <eos>} {a b} {a <eos>}'
    """
    return bounded_dyck("d12", 12)
