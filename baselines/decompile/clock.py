"""The clock the method's time budgets are measured on: CPU seconds of this process.

Wall-clock budgets made the result depend on how busy the machine was (two
extractions side by side each got half the pruning steps). CPU time of the
process does not, so a budget of 360 s means the same work on a loaded or an
idle machine of the same speed.
"""

from __future__ import annotations

import time


def cpu_seconds() -> float:
    """CPU time (user + system) used by this process so far, in seconds."""
    return time.process_time()
