"""The task suite: importing this package registers all 28 tasks of ``docs/tasks.md``.

One module per task or family; each says what its tasks are, where they come
from, and keeps a dated version history. ``_template.py`` shows how to add a
task; ``_base.py`` holds the shared helpers.
"""

from tasks import addition, copying, count, dyck, majority, parity, regular, sort, tomita  # noqa: F401
