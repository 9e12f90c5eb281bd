"""Checked conversions of untrusted values (JSON fields, builder arguments).

Each helper returns a clean value or raises :class:`ProgramError` with a short
message; the caller prefixes the node it belongs to.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from .errors import MAX_CONSTANT, MAX_NAME_CHARS, MAX_TABLE_ENTRIES, ProgramError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_name(value, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value) or len(value) > MAX_NAME_CHARS:
        shown = repr(value)[:40]
        raise ProgramError(f"{what} must be an identifier of at most {MAX_NAME_CHARS} characters, got {shown}")
    return value


def number(value, what: str, *, integer: bool = False, low: float = -MAX_CONSTANT, high: float = MAX_CONSTANT):
    """A finite int/float within [low, high]; an int when ``integer`` (integral floats accepted)."""
    if not is_number(value):
        raise ProgramError(f"{what} must be a number, got {type(value).__name__}")
    if is_int(value):
        if not low <= value <= high:  # compared as ints first: huge ints never reach float()
            raise ProgramError(f"{what} must be in [{low:g}, {high:g}], got {_short(value)}")
        return int(value) if integer else float(value)
    value = float(value)
    if not np.isfinite(value) or not low <= value <= high:
        raise ProgramError(f"{what} must be finite and in [{low:g}, {high:g}], got {value!r}")
    if integer:
        if not value.is_integer():
            raise ProgramError(f"{what} must be an integer, got {value!r}")
        return int(value)
    return value


def int_or_float(value, what: str):
    """A bounded number that keeps its int-ness (categories are ints, num values may be either)."""
    return number(value, what, integer=is_int(value))


def _short(value) -> str:
    text = str(value) if not is_int(value) or abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
    return text[:40]


def boolean(value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ProgramError(f"{what} must be true or false, got {type(value).__name__}")
    return bool(value)


def array(value, what: str, ndim: int, shape: tuple | None = None) -> np.ndarray:
    """A finite float64 array with ``ndim`` axes (optionally of ``shape``), read-only."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        if not isinstance(value, (list, tuple)):
            raise ProgramError(f"{what} must be a list of numbers, got {type(value).__name__}")
        _check_list_sizes(value, what, ndim)
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError, RecursionError, MemoryError):
            raise ProgramError(f"{what} is not a rectangular array of numbers") from None
    if arr.dtype.kind not in "iuf" or arr.ndim != ndim:
        raise ProgramError(f"{what} must be a {ndim}-d array of numbers, got {arr.ndim}-d of {arr.dtype.kind!r}")
    if arr.size > MAX_TABLE_ENTRIES:
        raise ProgramError(f"{what} has {arr.size} entries, more than {MAX_TABLE_ENTRIES}")
    arr = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or (arr.size and np.abs(arr).max() > MAX_CONSTANT):
        raise ProgramError(f"{what} has NaN, infinite or larger than {MAX_CONSTANT:g} entries")
    if shape is not None and arr.shape != tuple(shape):
        raise ProgramError(f"{what} has shape {arr.shape}, expected {tuple(shape)}")
    arr.setflags(write=False)
    return arr


def _check_list_sizes(value, what: str, ndim: int) -> None:
    """Refuse huge lists before numpy copies them."""
    if len(value) > MAX_TABLE_ENTRIES:
        raise ProgramError(f"{what} has more than {MAX_TABLE_ENTRIES} entries")
    if ndim == 2:
        total = 0
        for row in value:
            if not isinstance(row, (list, tuple, np.ndarray)):
                raise ProgramError(f"{what} must be a list of rows")
            total += len(row)
            if total > MAX_TABLE_ENTRIES:
                raise ProgramError(f"{what} has more than {MAX_TABLE_ENTRIES} entries")


def field(obj: dict, key: str, convert: Callable, *args, default=..., **kwargs):
    """``convert(obj[key], ...)`` with a message naming the field; ``default`` when absent."""
    if key not in obj:
        if default is ...:
            raise ProgramError(f"missing field {key!r}")
        return default
    return convert(obj[key], f"field {key!r}", *args, **kwargs)


def check_keys(obj: dict, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    allowed = set(required) | set(optional) | {"id", "op"}
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise ProgramError(f"unknown field(s) {', '.join(repr(str(k))[:30] for k in unknown[:5])}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ProgramError(f"missing field(s) {', '.join(repr(k) for k in missing)}")


def ref_id(value, what: str) -> str:
    if not isinstance(value, str):
        raise ProgramError(f"{what} must be a node id (a string), got {type(value).__name__}")
    return check_name(value, what)
