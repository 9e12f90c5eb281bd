"""Checking plain JSON data against dataclass descriptions.

The results schema (:mod:`bench.scoring.results`) and the submission manifest are
written once, as dataclasses with a comment per field; this module turns such
a description into a checker for untrusted JSON, reporting every problem at
once with the path of the offending field (``models[3].metrics.test_0_50.match_acc``).

Untrusted files are read by :mod:`bench.scoring.untrusted_json`.

:func:`bad_character` and :func:`printable` are the text rules for strings
that reach a terminal or a page: no control characters, no bidirectional
controls, no surrogates.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Union, get_args, get_origin, get_type_hints

from bench.errors import BenchError
from bench.registry import field_hint as _hint


class SchemaError(BenchError):
    """Untrusted JSON does not follow a schema; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def join(where: str, key: str) -> str:
    """``where.key`` for a plain key; ``where['odd key']`` (escaped, shortened) for any other."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{printable(repr(key), 60)}]"


# ----- text that reaches a terminal or a page ---------------------------------------------

#: Characters no submitted text may hold: C0 and C1 controls and DEL, line and paragraph
#: separators, bidirectional marks, embeddings, overrides and isolates, and surrogates.
_BAD_OTHER = r"\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_BAD_CHAR = re.compile(rf"[\x00-\x1f{_BAD_OTHER}]")
_BAD_CHAR_MULTILINE = re.compile(rf"[\x00-\x08\x0b-\x1f{_BAD_OTHER}]")  # newlines and tabs admitted


def bad_character(text: str, multiline: bool = False) -> str | None:
    """The first character ``text`` may not hold, described (``"U+202E (a bidirectional control) at
    position 3"``), or None. ``multiline`` admits newlines and tabs."""
    found = (_BAD_CHAR_MULTILINE if multiline else _BAD_CHAR).search(text)
    if found is None:
        return None
    char = found.group()
    code = ord(char)
    if char in "\n\r\u2028\u2029":
        kind = "a line break"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "an unpaired surrogate"
    elif code < 0x20 or 0x7F <= code <= 0x9F:
        kind = "a control character"
    else:
        kind = "a bidirectional control"
    return f"U+{code:04X} ({kind}) at position {found.start()}"


def printable(text: str, limit: int = 2000) -> str:
    """``text`` safe for one line of a terminal: every character :func:`bad_character` refuses written
    as an escape (``\\n``, ``\\x1b``, ``\\u202e``), and at most ``limit`` characters kept."""
    text = str(text)
    more = len(text) - limit
    if more > 0:
        text = text[:limit]
    text = _BAD_CHAR.sub(_escape, text)
    return text + (f"... ({more:,} more characters)" if more > 0 else "")


def _escape(match: re.Match) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


# ----- the schema checker -------------------------------------------------------------------


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
        return results[0] if len(results) == 1 else [f"{where}: {_short(data)} matches none of {_name(tp)}"]
    if origin is typing.Literal:
        allowed = get_args(tp)
        return [] if data in allowed else [f"{where}: {_short(data)} is not one of {list(allowed)}"]
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
        problems += [f"{join(where, key)}: unknown field{_hint(key, names)}" for key in data if key not in names]
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
        return [p for k, v in data.items() for p in _check(v, value_type, join(where, k))]
    if tp is bool:
        return [] if isinstance(data, bool) else [f"{where}: expected true/false, got {_short(data)}"]
    if tp is int:
        ok = isinstance(data, int) and not isinstance(data, bool)
        return [] if ok else [f"{where}: expected an integer, got {_short(data)}"]
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            return [f"{where}: expected a number, got {_short(data)}"]
        try:
            finite = math.isfinite(data)
        except OverflowError:  # an integer too large for a float
            finite = False
        return [] if finite else [f"{where}: expected a finite number, got {_short(data)}"]
    if tp is str:
        return [] if isinstance(data, str) else [f"{where}: expected a string, got {_short(data)}"]
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


def _short(value) -> str:
    """A value for a message: its repr, at most 60 characters (an integer as its number of digits past that)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"  # str() may refuse it
    return printable(repr(value), 60)


def _name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
