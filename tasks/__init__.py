"""The task suite: importing this package registers every task (the 28 of ``docs/tasks.md``).

One module per task or family; each says what its tasks are, where they come
from, and keeps a dated version history. Every module of this package whose
name does not start with ``_`` is imported, so a new task is one new file
(``docs/adding_a_task.md``; ``_template.py`` is the starting point); ``_base.py``
holds the shared helpers.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    if _module != "oracles":  # the oracles register themselves when bench.data.oracles first needs them
        importlib.import_module(f"{__name__}.{_module}")
