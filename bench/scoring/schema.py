"""Checking plain JSON data against dataclass descriptions.

The results schema (:mod:`bench.scoring.results`) and the submission manifest are
written once, as dataclasses with a comment per field; this module turns such
a description into a checker for untrusted JSON, reporting every problem at
once with the path of the offending field (``models[3].metrics.test_0_50.match_acc``).

Untrusted files are read with :func:`read_json`, which never reads more than
its :class:`JsonLimits` allow and never raises anything but
:class:`JsonInputError` (and ``FileNotFoundError``, for the caller to word):

1. the size is checked before reading (``stat``), and at most ``max_bytes + 1``
   bytes are read (a device or a growing file cannot make it read more);
2. the structure is checked before parsing: strings are masked out (one
   regular-expression pass) and the brackets that remain are counted
   (``max_containers``) and peeled, innermost pairs first, at most
   ``max_depth`` times: deeper nesting is refused before ``json`` recurses;
3. the parse itself refuses integers of more than ``max_int_digits`` digits
   (Python's own limit is 4,300 and raises a bare ``ValueError``) and marks
   duplicate keys; a walk over the result then names the path of every
   duplicate key, over-long integer and unpaired surrogate (a string that
   cannot be written back as UTF-8).

:func:`bad_character` and :func:`printable` are the text rules for strings
that reach a terminal or a page: no control characters, no bidirectional
controls, no surrogates.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from bench.errors import BenchError
from bench.registry import field_hint as _hint


class SchemaError(BenchError):
    """Untrusted JSON does not follow a schema; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# ----- reading untrusted JSON files ----------------------------------------------------


@dataclass(frozen=True)
class JsonLimits:
    """What :func:`read_json` accepts of one kind of file."""

    max_bytes: int  # size of the file
    max_depth: int = 32  # nesting of lists and objects
    max_containers: int = 100_000  # lists and objects in the whole file
    max_int_digits: int = 30  # digits of one integer literal (2**64 has 20)


class JsonInputError(BenchError):
    """An untrusted JSON file that cannot be read; ``problems`` are one-line findings, without the file name."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class _HugeInt:
    """Stands in for an integer literal over the digit limit until the walk reports its path."""

    def __init__(self, digits: int):
        self.digits = digits


class _Duplicates(dict):
    """An object whose JSON text repeats keys (the last value kept, as ``json`` does); ``duplicates`` names them."""

    duplicates: list[str]


def _pairs(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Duplicates(obj)
    seen, marked.duplicates = set(), []
    for key, _ in pairs:
        if key in seen and key not in marked.duplicates:
            marked.duplicates.append(key)
        seen.add(key)
    return marked


# A string literal, its closing quote optional: an unterminated one is masked to the end (json then
# reports it) and every match succeeds where it starts, so the scan is linear on any text.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def read_json(path: str | Path, limits: JsonLimits) -> Any:
    """Parse an untrusted JSON file within ``limits``; :class:`JsonInputError` lists what is wrong.

    ``FileNotFoundError`` passes through (callers word a missing file themselves).
    """
    path = Path(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise JsonInputError(["not a regular file"])
        if info.st_size > limits.max_bytes:
            raise JsonInputError([_too_big(info.st_size, limits)])
        with open(path, "rb") as handle:
            raw = handle.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL, an over-long name, a symlink loop, a device
        if isinstance(exc, JsonInputError):
            raise
        raise JsonInputError([f"cannot read JSON ({_os_reason(exc)})"]) from None
    if len(raw) > limits.max_bytes:
        raise JsonInputError([_too_big(len(raw), limits, at_least=True)])
    return parse_json(raw, limits)


def parse_json(raw: bytes | str, limits: JsonLimits) -> Any:
    """:func:`read_json` on bytes already read (at most ``limits.max_bytes`` of them)."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > limits.max_bytes:
            raise JsonInputError([_too_big(len(raw), limits)])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonInputError([f"cannot read JSON (not UTF-8: byte {exc.start})"]) from None
    else:
        text = raw
    check_structure(text, limits)

    def parse_int(digits: str):
        n = len(digits) - digits.startswith("-")
        return int(digits) if n <= limits.max_int_digits else _HugeInt(n)

    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=parse_int)
    except json.JSONDecodeError as exc:
        raise JsonInputError([f"cannot read JSON ({exc})"]) from None
    except RecursionError:
        raise JsonInputError([_too_deep(limits)]) from None
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise JsonInputError([f"cannot read JSON ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    problems: list[str] = []
    _walk(data, "", limits, problems)
    if problems:
        raise JsonInputError(problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else []))
    return data


def _too_big(size: int, limits: JsonLimits, at_least: bool = False) -> str:
    if at_least:  # a device or a growing file: its size is unknown, only that it passed the limit
        return f"more than {limits.max_bytes:,} bytes, over the limit of {limits.max_bytes:,} (read no further)"
    return f"{size:,} bytes, over the limit of {limits.max_bytes:,} bytes (not read)"


def _too_deep(limits: JsonLimits) -> str:
    return f"cannot read JSON (lists and objects nested deeper than {limits.max_depth} levels)"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return printable(str(exc), 200)


def check_structure(text: str, limits: JsonLimits) -> None:
    """Count and peel the brackets outside strings; refuse too many or too deep before ``json`` recurses."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    containers = brackets.count("[") + brackets.count("{")
    if containers > limits.max_containers:
        raise JsonInputError([f"cannot read JSON ({containers:,} lists and objects, over the limit of "
                              f"{limits.max_containers:,})"])
    for _ in range(limits.max_depth):
        if not brackets:
            return
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:
            return  # unbalanced: a syntax error that json reports with its position
    if brackets:
        raise JsonInputError([_too_deep(limits)])


def _walk(value: Any, where: str, limits: JsonLimits, problems: list[str]) -> None:
    """Report, with their paths, duplicate keys, over-long integers and unpaired surrogates."""
    if isinstance(value, _HugeInt):
        problems.append(f"{where or '(top level)'}: an integer of {value.digits:,} digits "
                        f"(at most {limits.max_int_digits})")
    elif isinstance(value, str):
        if _has_surrogate(value):
            problems.append(f"{where or '(top level)'}: a string with an unpaired surrogate (not writable as UTF-8)")
    elif isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            problems.append(f"{join(where, key)}: duplicate key (each key may appear once in an object)")
        for key, item in value.items():
            if _has_surrogate(key):
                problems.append(f"{join(where, key)}: a key with an unpaired surrogate (not writable as UTF-8)")
            _walk(item, join(where, key), limits, problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", limits, problems)


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
