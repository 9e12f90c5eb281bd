"""Print an extracted program as RASP code, with its size and scores.

    python -m bench.show runs/oracle/programs/sort.json

The program file (and its ``.safetensors`` sidecar, if it names one) is
parsed as untrusted input. When a ``results.json`` sits
beside the ``programs/`` folder, the scores recorded for that program are
printed too; that file is untrusted as well: anything wrong with it is one
``note:`` line on stderr, and the program is still shown. A path that is not
a regular file (``/dev/zero``, a FIFO) is refused before it is opened.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from bench.program import Program, ProgramError
from bench.results import BINS, ResultsError, load_results
from bench.schema import printable


def load_program(path: Path) -> Program:
    """The program of a JSON file and its ``.safetensors`` sidecar (if it names one), checked."""
    shown = printable(str(path), 300)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ProgramError(f"{shown}: not a regular file")
        return Program.load(path)
    except ProgramError as exc:
        raise ProgramError(f"{shown}: {exc}") from None
    except (OSError, ValueError, RuntimeError) as exc:  # a missing file, a NUL, a symlink loop
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProgramError(f"{shown}: cannot read ({printable(reason, 200)})") from None


def recorded_scores(path: Path) -> str | None:
    """The scores that a results.json beside ``programs/`` records for this file, as a table.

    Raises :class:`ResultsError` (one line) for a results.json that cannot be read or used.
    """
    results_path = path.resolve().parent.parent / "results.json"
    if not results_path.is_file():
        return None
    results = load_results(results_path)
    try:
        return _scores_table(results, results_path, path)
    except Exception as exc:  # noqa: BLE001 -- a hostile results.json: whatever breaks is one line
        raise ResultsError(f"{printable(str(results_path), 300)}: cannot use it ({type(exc).__name__}: "
                           f"{printable(str(exc), 200)})") from None


def _scores_table(results, results_path: Path, path: Path) -> str | None:
    target = path.resolve()
    for m in results.models:
        if m.program_file and _same_file(results_path.parent, m.program_file, target):
            rows = [
                [b, f"{m.metrics[b].match_acc:.3f}", f"{m.metrics[b].match_token_acc:.3f}",
                 f"{m.metrics[b].program_acc:.3f}", f"{m.metrics[b].model_acc:.3f}"]
                for b in BINS if b in m.metrics
            ]
            from tabulate import tabulate

            head = (f"{printable(results.method.name, 100)} on {printable(m.model.id, 100)} "
                    f"({printable(m.task.name, 100)}): success={m.success}")
            table = tabulate(rows, headers=["bin", "match_acc", "match_token_acc", "program_acc", "model_acc"])
            return head + "\n" + table
    return None


def _same_file(folder: Path, name: str, target: Path) -> bool:
    """Whether ``folder/name`` is ``target``; a name the system cannot resolve (a NUL, a loop) is not."""
    try:
        return (folder / name).resolve() == target
    except (OSError, ValueError, RuntimeError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.show", description=__doc__.splitlines()[0])
    parser.add_argument("program", type=Path, help="a program JSON file")
    parser.add_argument("--json", action="store_true", help="print the canonical JSON instead of RASP code")
    args = parser.parse_args(argv)
    try:
        program = load_program(args.program)
    except ProgramError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(program.to_json(), indent=1))
        return 0
    print(program.pretty())
    print(f"\n# size: n_ops={program.n_ops} depth={program.depth} n_params={program.n_params}")
    try:
        scores = recorded_scores(args.program)
    except ResultsError as exc:
        print(f"note: no recorded scores shown: {printable(str(exc))}", file=sys.stderr)
        scores = None
    if scores:
        print("\n" + scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
