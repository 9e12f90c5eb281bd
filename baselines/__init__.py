"""Extraction methods shipped with the benchmark; importing this package registers them."""

from baselines import lookup, oracle  # noqa: F401
