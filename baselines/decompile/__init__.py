"""``decompile``: the published decompilation of transformers to D-RASP, reimplemented for a CPU budget.

See ``method.py`` for the pipeline and ``docs/decompile.md`` for the
algorithm it follows, section by section. Importing this package registers the method.
"""

from .method import Config, Decompile, DecompileTrainLengths, method  # noqa: F401
