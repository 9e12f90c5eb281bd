"""The oracle program of every task, registered by task name.

The modules of ``tasks/oracles/`` (one per task family) define ``make_<task>()``
functions that build the task's ground-truth RASP program and register them
with :func:`oracle`:

    @oracle("sort")
    def make_sort() -> Program:
        ...
"""

from __future__ import annotations

from typing import Callable

from bench.data.task import TaskError
from bench.registry import Registry

#: Oracle program factories by task name; ``bench.tasks.oracles`` (and any task module defining its own) registers them.
ORACLES: Registry[Callable] = Registry("oracle", TaskError, plugins=("bench.tasks", "bench.tasks.oracles"),
                                      listing="Tasks with an oracle")


def oracle(task_name: str):
    """Decorator: register ``make_<task>`` as the oracle program factory of ``task_name``."""
    return ORACLES.register(task_name)


def oracle_names() -> list[str]:
    return ORACLES.names()


def get_oracle(task_name: str):
    """The oracle program of ``task_name`` (a fresh :class:`bench.program.Program`)."""
    if task_name not in ORACLES:
        raise TaskError(f"task {task_name!r} has no oracle program")
    return ORACLES.find(task_name)()
