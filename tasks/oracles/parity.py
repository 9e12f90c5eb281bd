"""Oracle of ``parity`` (``tasks/parity.py``): the number of ones, modulo 2."""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import Program, map
from bench.tasks.oracles._lib import count_tokens, show  # noqa: F401  (show: the doctests)


@oracle("parity")
def make_parity() -> Program:
    """Count the ones of the prefix; at ``<sep>`` predict that count modulo 2.

    >>> show(make_parity(), "<bos> 1 0 1 1 <sep> 1")
    '1'
    >>> show(make_parity(), "<bos> <sep> 0")
    '0'
    """
    task = get_task("parity")
    ones = count_tokens("k == 1").named("ones")
    parity = map(ones, "x % 2", basis="tokens").named("parity")
    return Program.for_task(task, parity)
