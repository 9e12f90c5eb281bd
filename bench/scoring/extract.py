"""Running a method's ``extract`` safely: a time limit, a memory figure, and failures as data.

By default the extraction runs in a forked child process, so that a method
that hangs can be stopped at the time limit, one that crashes the interpreter
takes only itself down, and its peak memory can be read from the operating
system. The child sends back the program as JSON, which the parent parses as
untrusted input (:meth:`bench.program.Program.from_json`). Where ``fork`` is
not available (Windows), or with ``isolate=False``, the method runs in
process and the time limit is checked after the fact.

Peak memory is the child's peak resident set size minus its resident size
when it started, i.e. what the extraction added on top of the loaded model.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Optional

from bench.program import Program, ProgramError


#: The most characters of a failed extraction's traceback that are kept (its last lines).
MAX_TRACEBACK_CHARS = 20_000

#: The most characters of JSON a method's ``details()`` may give per model.
MAX_DETAILS_CHARS = 16_000


@dataclass
class Extraction:
    program: Optional[Program]
    error: Optional[str]
    seconds: float
    peak_memory_mb: float
    traceback: Optional[str] = None  # where the method raised, for an exception in extract()
    lengths_sampled: Optional[list[int]] = None  # [lo, hi] asked of the task view's sampler
    details: Optional[dict] = None  # what the method reported about this extraction (``method.details()``)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _extract_to_json(method, model, task_view) -> dict:
    """Call ``extract`` and describe the outcome as JSON-ready data."""
    start_rss = _rss_mb()
    start = time.perf_counter()
    try:
        program = method.extract(model, task_view)
        seconds = time.perf_counter() - start
        if not isinstance(program, Program):
            outcome = {"error": f"extract returned {type(program).__name__}, not a bench.program.Program"}
        else:
            outcome = {"program": program.to_json(), "details": method_details(method)}
    except Exception as exc:  # the method's own failure is data, recorded for this model
        seconds = time.perf_counter() - start
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        outcome = {"error": f"{type(exc).__name__}: {exc}", "traceback": text[-MAX_TRACEBACK_CHARS:]}
    outcome["seconds"] = seconds
    outcome["peak_memory_mb"] = max(0.0, _peak_rss_mb() - start_rss)
    outcome["lengths_sampled"] = getattr(task_view, "lengths_sampled", None)
    return outcome


def method_details(method) -> Optional[dict]:
    """``method.details()`` (optional: what the method found, e.g. which primitives matched) as JSON data
    of at most :data:`MAX_DETAILS_CHARS` characters; None where the method has none. Whatever goes
    wrong there is said in the details, never an error of the extraction: the program is the result."""
    report = getattr(method, "details", None)
    if not callable(report):
        return None
    try:
        details = report()
        if not isinstance(details, dict):
            return {"unavailable": f"details() returned {type(details).__name__}, not a dict"}
        text = json.dumps(details, allow_nan=False)
    except Exception as exc:  # noqa: BLE001 -- the method's own code; its program still counts
        return {"unavailable": f"details() failed: {type(exc).__name__}: {str(exc)[:200]}"}
    if len(text) > MAX_DETAILS_CHARS:
        return {"unavailable": f"details() gave {len(text):,} characters of JSON, over {MAX_DETAILS_CHARS:,}"}
    return json.loads(text)


def _child(conn, method, model, task_view) -> None:
    # libgomp's thread pool does not survive fork: an OpenMP region in the child
    # would wait forever for the parent's threads. One thread avoids that region.
    import torch

    torch.set_num_threads(1)
    try:
        conn.send(json.dumps(_extract_to_json(method, model, task_view)))
    except Exception as exc:  # e.g. the program's JSON is not serializable
        conn.send(json.dumps({"error": f"sending the result failed: {exc}", "seconds": 0.0, "peak_memory_mb": 0.0}))
    finally:
        conn.close()


def _lengths(value) -> Optional[list[int]]:
    """``[lo, hi]`` as two integers, or None for anything else."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [int(v) for v in value]
    return None


def _collect(outcome: dict, time_limit: float) -> Extraction:
    seconds = float(outcome.get("seconds", 0.0))
    memory = float(outcome.get("peak_memory_mb", 0.0))
    lengths = _lengths(outcome.get("lengths_sampled"))
    if "error" in outcome:
        trace = outcome.get("traceback")
        return Extraction(None, outcome["error"], seconds, memory,
                          trace[-MAX_TRACEBACK_CHARS:] if isinstance(trace, str) else None, lengths)
    if seconds > time_limit:
        return Extraction(None, f"extraction took {seconds:.0f} s, over the limit of {time_limit:.0f} s", seconds,
                          memory, lengths_sampled=lengths)
    details = outcome.get("details") if isinstance(outcome.get("details"), dict) else None
    try:
        return Extraction(Program.from_json(outcome["program"]), None, seconds, memory, lengths_sampled=lengths,
                          details=details)
    except ProgramError as exc:
        return Extraction(None, f"invalid program: {exc}", seconds, memory, lengths_sampled=lengths)


class Running:
    """An extraction going on in a forked child; :meth:`finish` collects it."""

    def __init__(self, process, receiver, time_limit: float):
        self.process = process
        self.receiver = receiver  # the child's end sends one JSON message, then closes
        self.time_limit = time_limit
        self.started = time.perf_counter()

    @property
    def seconds_left(self) -> float:
        return self.started + self.time_limit - time.perf_counter()

    def finish(self) -> Extraction:
        """The outcome: waits at most until the time limit, then stops the child."""
        try:
            if not self.receiver.poll(max(0.0, self.seconds_left)):
                self.process.kill()
                self.process.join()
                return Extraction(None, f"extraction did not finish within {self.time_limit:.0f} s",
                                  self.time_limit, 0.0)
            outcome = json.loads(self.receiver.recv())
        except EOFError:
            self.process.join()
            return Extraction(
                None,
                f"the extraction process died (exit code {self.process.exitcode})",
                time.perf_counter() - self.started,
                0.0,
            )
        finally:
            self.receiver.close()
        self.process.join()
        return _collect(outcome, self.time_limit)


def can_isolate() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def start_extraction(method, model, task_view, *, time_limit: float) -> Running:
    """Fork a child that runs ``method.extract``; needs :func:`can_isolate`."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, method, model, task_view), daemon=True)
    process.start()
    sender.close()
    return Running(process, receiver, time_limit)


def wait_for_any(running: list[Running]) -> list[Running]:
    """Block until some extraction has finished (or run out of time); returns those."""
    timeout = max(0.0, min(r.seconds_left for r in running))
    ready = set(multiprocessing.connection.wait([r.receiver for r in running], timeout=timeout))
    return [r for r in running if r.receiver in ready or r.seconds_left <= 0]


def run_extraction(method, model, task_view, *, time_limit: float, isolate: bool = True) -> Extraction:
    """Extract a program for one model; every failure comes back as ``Extraction.error``."""
    if not isolate or not can_isolate():
        return _collect(_extract_to_json(method, model, task_view), time_limit)
    return start_extraction(method, model, task_view, time_limit=time_limit).finish()
