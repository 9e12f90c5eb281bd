"""``decompile``: the published decompilation of transformers to D-RASP, reimplemented for a CPU budget.

See ``method.py`` for the pipeline and DECOMPILE.md (shared notes) for the
algorithm it follows. Importing this package registers the method.
"""

from .method import Config, Decompile, DecompileTrainLengths, method  # noqa: F401
