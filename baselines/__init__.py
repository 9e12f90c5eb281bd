"""Extraction methods shipped with the benchmark; importing this package registers them.

``decompile`` imports torch, so it is registered by name and imported when first resolved.
"""

from bench.baselines import lookup, oracle  # noqa: F401
from bench.scoring.methods import register_deferred

register_deferred("decompile", "bench.baselines.decompile")
register_deferred("decompile-50", "bench.baselines.decompile")
