"""Reading untrusted JSON files within limits: size, nesting, integers, duplicate keys.

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
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.scoring.schema import join, printable


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
