"""Quick commands and error paths import no heavy library (torch, datasets, ...), so they start fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROGRAM = "submissions/oracle/programs/sort.json"
HEAVY = ("torch", "datasets", "pandas", "matplotlib", "transformers")


def python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RASP_BENCH_CACHE": str(tmp_path)}  # nothing may be built
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def heavy_modules_after(code: str, tmp_path: Path) -> list[str]:
    """The heavy modules imported once ``code`` (run quietly in a fresh interpreter) is done."""
    script = (
        "import contextlib, io, sys\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        + "".join(f"    {line}\n" for line in code.strip().splitlines())
        + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = python(script, tmp_path)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_show_and_task_listing_import_nothing_heavy(tmp_path):
    code = f"""
import bench.show, bench.tasks.__main__
assert bench.show.main([{PROGRAM!r}]) == 0
assert bench.show.main(["/nonexistent.json"]) == 2
assert bench.tasks.__main__.main(["list", "--no-fingerprints"]) == 0
assert bench.tasks.__main__.main(["list"]) == 0  # the pinned fingerprints: no split is read
assert bench.tasks.__main__.main(["show", "no_such_task"]) == 2
assert bench.tasks.__main__.main(["show", "sort", "--split", "no_such_split"]) == 2
"""
    assert heavy_modules_after(code, tmp_path) == []


def test_unknown_method_or_model_imports_nothing_heavy(tmp_path):
    code = """
import bench.evaluate
assert bench.evaluate.main(["no_such_method"]) == 2
assert bench.evaluate.main(["lookup", "--models", "no_such_model"]) == 2
"""
    assert heavy_modules_after(code, tmp_path) == []


def test_unknown_method_lists_the_deferred_methods(tmp_path):
    result = python("import sys, bench.evaluate; sys.exit(bench.evaluate.main(['decompil']))", tmp_path)
    assert result.returncode == 2
    assert "Did you mean 'decompile'?" in result.stderr and "decompile-50, lookup, oracle" in result.stderr


def test_show_prints_a_shipped_program(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.show", PROGRAM], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# sort: token program")
    assert "argmax(" in result.stdout and "# size: n_ops=" in result.stdout
