"""The layout: every package is installed under ``bench``, and modules and functions stay small."""

from __future__ import annotations

import ast
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


# ----- size: no module over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES ---------------

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def python_files() -> list[Path]:
    return sorted(path for top in INSTALLED_AS for path in (REPO / top).rglob("*.py"))


def test_no_module_is_too_long():
    long = {str(p.relative_to(REPO)): n for p in python_files() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them along a seam): {long}"


def test_no_function_is_too_long():
    long = {}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if (n := node.end_lineno - first + 1) > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(REPO)}:{node.lineno} {node.name}"] = n
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (name their steps as helpers): {long}"
