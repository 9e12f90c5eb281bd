"""Print an extracted program as RASP code, with its size and scores.

    python -m bench.show runs/oracle/programs/sort.json
    python -m bench.show runs/oracle/programs/sort.json --plot figures/sort   # and heatmaps of its tables

The program file (and its ``.safetensors`` sidecar, if it names one) is
parsed as untrusted input. When a ``results.json`` sits
beside the ``programs/`` folder, the scores recorded for that program are
printed too; that file is untrusted as well: anything wrong with it is one
``note:`` line on stderr, and the program is still shown. A path that is not
a regular file (``/dev/zero``, a FIFO) is refused before it is opened.

``--plot DIR`` also writes one PNG per table of the program into ``DIR``
(created if missing), named ``<op-index>-<variable>[-<part>].png`` (see
:mod:`bench.program.heatmaps`), and prints their paths; token axes are
labelled with the symbols of the task that ``results.json`` records for the
program, else of the task the program is named after.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from bench.program import Program, ProgramError
from bench.scoring.results import BINS, ResultsError, load_results
from bench.scoring.schema import printable


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
    recorded = recorded_model(path)
    return _scores_table(*recorded) if recorded else None


def recorded_model(path: Path):
    """``(results, model result)`` from the results.json beside ``programs/`` that records this file, or None.

    Raises :class:`ResultsError` (one line) for a results.json that cannot be read or used.
    """
    results_path = path.resolve().parent.parent / "results.json"
    if not results_path.is_file():
        return None
    results = load_results(results_path)
    try:
        target = path.resolve()
        for m in results.models:
            if m.program_file and _same_file(results_path.parent, m.program_file, target):
                _scores_table(results, m)  # every field the printout reads, read here where errors are caught
                return results, m
        return None
    except Exception as exc:  # noqa: BLE001 -- a hostile results.json: whatever breaks is one line
        raise ResultsError(f"{printable(str(results_path), 300)}: cannot use it ({type(exc).__name__}: "
                           f"{printable(str(exc), 200)})") from None


def _scores_table(results, m) -> str:
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


def _same_file(folder: Path, name: str, target: Path) -> bool:
    """Whether ``folder/name`` is ``target``; a name the system cannot resolve (a NUL, a loop) is not."""
    try:
        return (folder / name).resolve() == target
    except (OSError, ValueError, RuntimeError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.show", description=__doc__.splitlines()[0])
    parser.add_argument("program", type=Path, help="a program JSON file")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the canonical JSON instead of RASP code")
    output.add_argument("--plot", type=Path, metavar="DIR",
                        help="also draw every table of the program, one PNG each, into DIR and print their paths")
    args = parser.parse_args(argv)
    try:
        program = load_program(args.program)
        if args.plot is not None:
            prepare_folder(args.plot)
    except ProgramError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(program.to_json(), indent=1))
        return 0
    print(program.pretty())
    print(f"\n# size: n_ops={program.n_ops} depth={program.depth} n_params={program.n_params}")
    try:
        recorded = recorded_model(args.program)
    except ResultsError as exc:
        print(f"note: no recorded scores shown: {printable(str(exc))}", file=sys.stderr)
        recorded = None
    if recorded:
        print("\n" + _scores_table(*recorded))
    if args.plot is not None:
        return plot(program, args.plot, recorded[1].task.name if recorded else program.name)
    return 0


def prepare_folder(folder: Path) -> None:
    """Create ``folder`` if missing; raises :class:`ProgramError` (one line) when it cannot hold the figures."""
    shown = printable(str(folder), 300)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ProgramError(f"--plot {shown}: exists and is not a folder") from None
    except (OSError, ValueError) as exc:  # no permission, a file on the way, a NUL in the name
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProgramError(f"--plot {shown}: cannot create the folder ({printable(reason, 200)})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ProgramError(f"--plot {shown}: the folder is not writable")


def plot(program: Program, folder: Path, task_name: str) -> int:
    """Draw the program's tables into ``folder`` and print their paths; 2 with one line when writing fails."""
    from bench.program.heatmaps import draw_heatmaps
    from bench.program.op_tables import token_symbols

    try:
        drawn = draw_heatmaps(program, folder, symbols=token_symbols(program.vocab_size, task_name))
    except OSError as exc:
        print(f"error: --plot {printable(str(folder), 300)}: cannot write the figures "
              f"({printable(exc.strerror or str(exc), 200)})", file=sys.stderr)
        return 2
    print()
    for path in drawn.paths:
        print(printable(str(path), 500))
    if not drawn.paths:
        print("note: the program has no tables to draw", file=sys.stderr)
    if drawn.note():
        print(f"note: {drawn.note()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
