"""The method API: what an extraction method is, and how a name on the command line finds one.

A method is any object with a ``name`` and ``extract(model, task) -> Program``.
It receives the hookable reference model and a :class:`TaskView` (symbols,
layout, kind, a sampler it may call at any length) — never the frozen test
splits. Optional: a ``parameters`` dict, recorded verbatim in the results, and a
``details()`` method, called after each successful ``extract``, whose dict (JSON
data, at most 16,000 characters: what the method found for that model, e.g.
which primitives matched) is recorded with the model's results as ``details``.

    from bench.scoring.methods import register_method

    @register_method()
    class MyMethod:
        name = "my_method"
        parameters = {"n_samples": 512}
        def extract(self, model, task):
            ...
            return program

A METHOD given to ``bench.evaluate`` is resolved, in order, as a registered
name, a path to a ``.py`` file, or an importable module (``pkg.mod`` or
``pkg.mod:obj``). In a module or file, the method is the object named by
``:obj``, else a module-level ``method`` (or ``METHOD``) attribute, else the one
class or object in the module that has an ``extract``. A class is instantiated
without arguments.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from bench.data.task import Batch, Task
from bench.errors import BenchError
from bench.registry import Registry


@runtime_checkable
class Method(Protocol):
    name: str

    def extract(self, model, task: "TaskView"):  # -> bench.program.Program
        ...


class MethodError(BenchError):
    """A METHOD that cannot be resolved into a method object."""


#: Method factories (classes or zero-argument functions) by name; ``bench.baselines`` (folder ``baselines/``) registers the shipped ones.
METHODS: Registry[Callable[[], Any]] = Registry(
    "method", MethodError, plugins=("bench.baselines",), listing="Registered methods",
    also="; or give a module (pkg.mod[:obj]) or a path to a .py file")


def register_method(name: str | None = None):
    """Class or factory decorator: make a method available by ``name`` (default: the class's ``name``)."""
    return METHODS.register(name)


def register_deferred(name: str, module: str) -> None:
    """Make ``name`` known now and import ``module`` (which registers it) only when it is resolved.

    For methods whose modules are slow to import (torch): listing the names and
    reporting an unknown one stay fast.
    """
    METHODS.add_lazy(name, module)


def method_names() -> list[str]:
    return METHODS.names()


def method_descriptions() -> dict[str, str]:
    """Every registered name with the first line of its class's (or factory's) docstring, sorted by name."""
    out = {}
    for name, factory in METHODS.loaded().items():
        doc = (getattr(factory, "__doc__", None) or "").strip()
        out[name] = doc.splitlines()[0] if doc else ""
    return out


def resolve_method(spec: str):
    """The method object that ``spec`` names (see the module docstring)."""
    if spec in METHODS:
        return _instantiate(METHODS.find(spec), spec)
    module_part, _, attr = spec.partition(":")
    if module_part.endswith(".py") or Path(module_part).is_file():
        module = _import_file(Path(module_part))
    elif _looks_like_module(module_part):
        module = _import_module(module_part, spec)
    else:
        raise MethodError(METHODS.unknown(spec))
    return _method_from_module(module, attr, spec)


def _looks_like_module(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _import_file(path: Path):
    if not path.is_file():
        raise MethodError(f"method file {path} does not exist")
    module_name = f"_bench_method_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise MethodError(f"method file {path} cannot be imported (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's own code failed to import: say where
        raise MethodError(f"importing method file {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _import_module(name: str, spec: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise MethodError(METHODS.unknown(spec)) from None
        raise MethodError(f"importing method module {name} failed: {exc}") from exc
    except Exception as exc:
        raise MethodError(f"importing method module {name} failed: {type(exc).__name__}: {exc}") from exc


def _method_from_module(module, attr: str, spec: str):
    if attr:
        if not hasattr(module, attr):
            raise MethodError(f"{module.__name__} has no attribute {attr!r}")
        return _instantiate(getattr(module, attr), spec)
    for name in ("method", "METHOD"):
        if hasattr(module, name):
            return _instantiate(getattr(module, name), spec)
    candidates = [
        value
        for value in vars(module).values()
        # defined in this module: not an imported module (numpy has an ``extract`` function) or object
        if callable(getattr(value, "extract", None)) and getattr(value, "__module__", None) == module.__name__
    ]
    if len(candidates) != 1:
        found = "none" if not candidates else f"{len(candidates)}"
        raise MethodError(
            f"{spec}: expected one object with an extract() method, found {found}; "
            "name it with pkg.mod:obj or a module-level `method`"
        )
    return _instantiate(candidates[0], spec)


def _instantiate(obj, spec: str):
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise MethodError(f"{spec}: creating the method failed: {type(exc).__name__}: {exc}") from exc
    elif callable(obj) and not hasattr(obj, "extract"):
        obj = obj()
    if not callable(getattr(obj, "extract", None)):
        raise MethodError(f"{spec}: the method object has no extract(model, task) method")
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        raise MethodError(f"{spec}: the method object has no `name` string")
    return obj


def method_parameters(method) -> dict[str, Any]:
    """The method's declared parameters, if it declares any."""
    params = getattr(method, "parameters", None)
    return dict(params) if isinstance(params, dict) else {}


@dataclass(frozen=True)
class TaskView:
    """What a method may know about a task: its definition and a sampler, not the test splits.

    ``rng`` is seeded by the harness from the run's seed and the model, so a
    method that draws its samples from it is reproducible. The view notes the
    range of lengths asked of :meth:`sample_batch` (``lengths_sampled``); the
    harness records it per model, and ``bench.leaderboard init`` proposes it as
    the submission's ``lengths_seen``.
    """

    task: Task
    rng: np.random.Generator
    _lengths: list = field(default_factory=list, repr=False, compare=False)  # [lo, hi] once sampled

    def __getattr__(self, name: str):
        # name, version, kind, symbols, vocab, layout, n_positions, min_length, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.task, name)

    def sample_batch(self, n: int, lo: int = 0, hi: int = 50, *, offsets: bool = False) -> Batch:
        """``n`` sequences with lengths drawn from ``[lo, hi]``, positions from 0 by default."""
        batch = self.task.sample_batch(n, lo, hi, self.rng, offsets=offsets)
        seen = self._lengths
        seen[:] = [min(lo, seen[0]), max(hi, seen[1])] if seen else [lo, hi]
        return batch

    @property
    def lengths_sampled(self) -> list[int] | None:
        """``[lo, hi]``: the widest range of lengths asked of :meth:`sample_batch` so far; None before any."""
        return [int(v) for v in self._lengths] if self._lengths else None
