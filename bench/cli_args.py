"""What the command lines share: argument types (each refuses a bad value with a one-line argparse
error) and how notices meant for the person at the terminal are shown."""

from __future__ import annotations

import argparse
import sys
import warnings


class Notice(UserWarning):
    """A warning for the person running a command (e.g. the Hub could not be reached): a ``note:`` line there.

    Raised with ``warnings.warn``, so that library users and tests can catch or filter it; the
    command lines show it as one plain line (:func:`show_notices_plainly`), without a source line.
    """


def show_notices_plainly() -> None:
    """From now on, :class:`Notice` warnings print as ``note: <message>`` on stderr; others as before."""
    original = warnings.showwarning
    if getattr(original, "plain_notices", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, Notice):
            print(f"note: {message}", file=file or sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    show.plain_notices = True
    warnings.showwarning = show

#: Worker processes a command may start (--jobs).
MAX_JOBS = 64


def _int_from(text: str, lowest: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text[:40]!r}")
    return value


def positive_int(text: str) -> int:
    return _int_from(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_from(text, 0, "an integer >= 0")


def jobs(text: str) -> int:
    value = positive_int(text)
    if value > MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_JOBS} jobs, got {text[:40]!r}")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value
