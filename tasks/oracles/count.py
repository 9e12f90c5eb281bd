"""Oracle of ``count`` (``tasks/count.py``): ``<bos> s e <sep> s s+1 .. e <eos>``."""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import Program, aggregate, indices, select, sequence_map, tokens
from bench.tasks.oracles._lib import show  # noqa: F401  (the doctests use it)


@oracle("count")
def make_count() -> Program:
    """Read ``s`` and ``e`` at their fixed positions 1 and 2; after the number ``x`` predict
    ``x + 1``, after ``e`` predict ``<eos>``; ``<sep>`` counts as the number before ``s``.

    >>> show(make_count(), "<bos> 4 7 <sep> 4 5 6 7 <eos>")
    '4 5 6 7 <eos>'
    """
    task = get_task("count")
    sep, eos = task.vocab.sep, task.vocab.eos
    start = aggregate(select(indices, indices, "k == 1"), tokens).named("start")
    end = aggregate(select(indices, indices, "k == 2"), tokens).named("end")
    current = sequence_map(tokens, start, f"y - 1 if x == {sep} else x").named("current")  # num
    out = sequence_map(current, end, f"{eos} if x == y else x + 1", basis="tokens").named("out")
    return Program.for_task(task, out)
