"""Every error the benchmark raises for bad input is a BenchError (one base to catch), and UsageError is one class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import bench
from bench.errors import BenchError, UsageError

SKIP = {"bench.scoring.launch"}  # imports submitit lazily, defines no error


def test_every_input_error_is_a_bench_error():
    found = []
    for info in pkgutil.walk_packages(bench.__path__, "bench."):
        if info.name in SKIP or info.name.endswith("__main__") and info.name != "bench.leaderboard.__main__":
            continue
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, ValueError):
                found.append(cls)
                assert issubclass(cls, BenchError), f"{info.name}.{name} is a ValueError but not a BenchError"
    names = {cls.__name__ for cls in found}
    assert {"TaskError", "ModelError", "ProgramError", "MethodError", "ResultsError", "SubmissionError"} <= names


def test_the_command_lines_share_one_usage_error():
    from bench import evaluate, inspect as inspect_cli
    from bench.leaderboard import __main__ as leaderboard

    assert evaluate.UsageError is inspect_cli.UsageError is leaderboard.UsageError is UsageError
