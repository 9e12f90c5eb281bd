"""Shared fixtures: one private split cache per test session, so tests never touch ~/.cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def split_cache(tmp_path_factory) -> Path:
    """An empty cache folder for frozen test splits, shared by the whole session."""
    return tmp_path_factory.mktemp("rasp-bench-cache")


@pytest.fixture(scope="session")
def suite_splits(split_cache):
    """The frozen splits of every task, built once per session into ``split_cache`` (about 30 s)."""
    from bench.data.splits import load_splits
    from bench.data.task import task_names

    return {name: load_splits(name, cache_dir=split_cache) for name in task_names()}
