"""The docstring examples of ``tasks/`` and ``baselines/``, run under their installed names.

pytest's ``--doctest-modules`` collects ``bench/`` by path, but would import
``tasks/`` and ``baselines/`` as top-level ``tasks`` and ``baselines`` (a second
copy of every task and method), so those two folders are not in ``testpaths``
and their modules are checked here as ``bench.tasks.*`` and ``bench.baselines.*``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bench.baselines
import bench.tasks


def modules(package) -> list[str]:
    """Every module of ``package`` and its subpackages, by dotted name."""
    found = [package.__name__]
    found += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return [name for name in found if not name.endswith(".__main__")]


@pytest.mark.parametrize("module", modules(bench.tasks) + modules(bench.baselines))
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), verbose=False)
    assert result.failed == 0
