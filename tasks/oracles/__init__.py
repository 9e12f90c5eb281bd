"""The oracle program of every task: hand-written RASP programs that solve the suite.

Importing this package registers one ``make_<task>()`` per task with
:func:`bench.oracles.oracle`; one module per task family mirrors ``tasks/``.
Each oracle reads the whole teacher-forced sequence, as a model does, and is
right at every scored position of every length 0..150 (``tests/test_oracles.py``).
Shared building blocks are in :mod:`tasks.oracles._lib`.
"""

from tasks.oracles import addition, copying, count, dyck, majority, parity, regular, sort, tomita  # noqa: F401
