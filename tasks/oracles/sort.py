"""Oracle of ``sort`` (``tasks/sort.py``): ``<bos> x <sep> sorted(x) <eos>``, distinct symbols."""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import TRUE, Program, aggregate, argmax, indices, map, select, sequence_map, tokens
from bench.tasks.oracles._lib import show  # noqa: F401  (the doctests use it)


@oracle("sort")
def make_sort() -> Program:
    """The next output is the smallest input symbol larger than the current token
    (``<sep>`` counts as smaller than all), or ``<eos>`` when there is none.

    A histogram of the prefix says which symbols occur; each occurring symbol
    above the current one scores ``n - symbol``, ``<eos>`` scores 0.5, and the
    argmax picks the winner.

    >>> show(make_sort(), "<bos> 3 1 2 <sep> 1 2 3 <eos>")
    '1 2 3 <eos>'
    """
    task = get_task("sort")
    n, eos = task.vocab.n_symbols, task.vocab.eos
    seen = aggregate(select(indices, indices, TRUE), tokens, numerical=True).named("seen")  # vec[tokens]
    current = map(tokens, f"x if x < {n} else -1").named("current")  # num
    candidates = sequence_map(
        seen, current, f"(x > 0 and i > y and i < {n}) * ({n} - i) + (i == {eos}) * 0.5"
    ).named("candidates")
    out = argmax(candidates).named("out")
    return Program.for_task(task, out)
