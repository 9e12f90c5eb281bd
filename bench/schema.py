"""Checking plain JSON data against dataclass descriptions.

The results schema (:mod:`bench.results`) and the submission manifest are
written once, as dataclasses with a comment per field; this module turns such
a description into a checker for untrusted JSON, reporting every problem at
once with the path of the offending field (``models[3].metrics.test_0_50.match_acc``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Union, get_args, get_origin, get_type_hints


class SchemaError(ValueError):
    """Untrusted JSON does not follow a schema; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def check(data: Any, cls: type, where: str = "") -> list[str]:
    """Every way in which ``data`` fails to be a JSON form of dataclass ``cls``."""
    return _check(data, cls, where or cls.__name__)


def load(data: Any, cls: type, where: str = ""):
    """Build a ``cls`` instance from checked JSON data; :class:`SchemaError` if it does not fit."""
    problems = check(data, cls, where)
    if problems:
        raise SchemaError(problems)
    return _build(data, cls)


def dump(obj: Any) -> Any:
    """The JSON form of a schema dataclass (plain dicts, lists and scalars)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    return obj


def _is_optional(tp) -> bool:
    return _origin(tp) is Union and type(None) in get_args(tp)


def _origin(tp):
    origin = get_origin(tp)
    return Union if origin is types.UnionType else origin


def _check(data: Any, tp, where: str) -> list[str]:
    origin = _origin(tp)
    if tp is Any:
        return []
    if origin is Union:
        options = get_args(tp)
        if data is None and type(None) in options:
            return []
        results = [_check(data, option, where) for option in options if option is not type(None)]
        if any(not r for r in results):
            return []
        return results[0] if len(results) == 1 else [f"{where}: {data!r:.60} matches none of {_name(tp)}"]
    if origin is typing.Literal:
        allowed = get_args(tp)
        return [] if data in allowed else [f"{where}: {data!r:.60} is not one of {list(allowed)}"]
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            return [f"{where}: expected an object ({tp.__name__}), got {type(data).__name__}"]
        hints = get_type_hints(tp)
        problems = []
        names = {f.name for f in dataclasses.fields(tp)}
        for f in dataclasses.fields(tp):
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if f.name not in data:
                if not has_default and not _is_optional(hints[f.name]):
                    problems.append(f"{where}.{f.name}: missing required field")
                continue
            problems += _check(data[f.name], hints[f.name], f"{where}.{f.name}")
        problems += [f"{where}.{key}: unknown field" for key in data if key not in names]
        return problems
    if origin in (list, tuple):
        if not isinstance(data, list):
            return [f"{where}: expected a list, got {type(data).__name__}"]
        (item,) = get_args(tp)[:1] or (Any,)
        return [p for i, v in enumerate(data) for p in _check(v, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(data, dict):
            return [f"{where}: expected an object, got {type(data).__name__}"]
        _, value_type = get_args(tp)
        return [p for k, v in data.items() for p in _check(v, value_type, f"{where}.{k}")]
    if tp is bool:
        return [] if isinstance(data, bool) else [f"{where}: expected true/false, got {data!r:.60}"]
    if tp is int:
        ok = isinstance(data, int) and not isinstance(data, bool)
        return [] if ok else [f"{where}: expected an integer, got {data!r:.60}"]
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            return [f"{where}: expected a number, got {data!r:.60}"]
        return [] if math.isfinite(data) else [f"{where}: expected a finite number, got {data!r}"]
    if tp is str:
        return [] if isinstance(data, str) else [f"{where}: expected a string, got {data!r:.60}"]
    raise TypeError(f"schema type {tp!r} is not supported")  # a bug in the schema, not in the data


def _build(data: Any, tp):
    origin = _origin(tp)
    if data is None:
        return None
    if origin is Union:
        for option in get_args(tp):
            if option is not type(None) and not _check(data, option, ""):
                return _build(data, option)
    if dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp)
        return tp(**{k: _build(v, hints[k]) for k, v in data.items()})
    if origin in (list, tuple):
        (item,) = get_args(tp)[:1] or (Any,)
        return [_build(v, item) for v in data]
    if origin is dict:
        _, value_type = get_args(tp)
        return {k: _build(v, value_type) for k, v in data.items()}
    if tp is float:
        return float(data)
    return data


def _name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
