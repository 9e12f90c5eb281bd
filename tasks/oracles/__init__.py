"""The oracle program of every task: hand-written RASP programs that solve the suite.

Importing this package registers one ``make_<task>()`` per task with
:func:`bench.data.oracles.oracle` (every module here not starting with ``_`` is
imported); one module per task family mirrors ``tasks/``. A new task may
instead define its oracle in its own module (``docs/adding_a_task.md``).
Each oracle reads the whole teacher-forced sequence, as a model does, and is
right at every scored position of every length 0..150 (``tests/test_oracles.py``).
Shared building blocks are in :mod:`bench.tasks.oracles._lib`.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")
