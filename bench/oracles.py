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

from bench.task import TaskError

_ORACLES: dict[str, Callable] = {}


def oracle(task_name: str):
    """Decorator: register ``make_<task>`` as the oracle program factory of ``task_name``."""

    def decorate(factory: Callable):
        if task_name in _ORACLES:
            raise ValueError(f"an oracle for {task_name!r} is registered twice")
        _ORACLES[task_name] = factory
        return factory

    return decorate


def oracle_names() -> list[str]:
    import tasks.oracles  # noqa: F401  (importing the package registers every oracle)

    return sorted(_ORACLES)


def get_oracle(task_name: str):
    """The oracle program of ``task_name`` (a fresh :class:`bench.program.Program`)."""
    if task_name not in oracle_names():
        raise TaskError(f"task {task_name!r} has no oracle program")
    return _ORACLES[task_name]()
