"""Extraction methods shipped with the benchmark; importing this package registers them."""

from baselines import decompile, lookup, oracle  # noqa: F401
