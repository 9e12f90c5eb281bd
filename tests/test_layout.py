"""The layout: every package is installed under ``bench``."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
#: Folder at the top of the repository -> the package it is installed as.
INSTALLED_AS = {"bench": "bench", "tasks": "bench.tasks", "baselines": "bench.baselines"}


def package_folders() -> dict[str, Path]:
    """Dotted package name -> folder, for every folder with an ``__init__.py`` under bench/, tasks/, baselines/."""
    found = {}
    for top, name in INSTALLED_AS.items():
        for init in sorted((REPO / top).rglob("__init__.py")):
            parts = init.parent.relative_to(REPO / top).parts
            found[".".join((name, *parts))] = init.parent
    return found


def test_every_package_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(config["packages"]) == sorted(package_folders())
    assert config["package-dir"] == {name: top for top, name in INSTALLED_AS.items() if top != name}

