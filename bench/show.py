"""Print an extracted program as RASP code, with its size and scores.

    python -m bench.show runs/oracle/programs/sort.json

The program file (and its ``.safetensors`` sidecar, if it names one) is
parsed as untrusted input. When a ``results.json`` sits
beside the ``programs/`` folder, the scores recorded for that program are
printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.program import Program, ProgramError
from bench.results import BINS, ResultsError, load_results


def load_program(path: Path) -> Program:
    """The program of a JSON file and its ``.safetensors`` sidecar (if it names one), checked."""
    try:
        return Program.load(path)
    except ProgramError as exc:
        raise ProgramError(f"{path}: {exc}") from None


def recorded_scores(path: Path) -> str | None:
    """The scores that a results.json beside ``programs/`` records for this file, as a table."""
    results_path = path.resolve().parent.parent / "results.json"
    if not results_path.is_file():
        return None
    try:
        results = load_results(results_path)
    except ResultsError:
        return None
    for m in results.models:
        if m.program_file and (results_path.parent / m.program_file).resolve() == path.resolve():
            rows = [
                [b, f"{m.metrics[b].match_acc:.3f}", f"{m.metrics[b].match_token_acc:.3f}",
                 f"{m.metrics[b].program_acc:.3f}", f"{m.metrics[b].model_acc:.3f}"]
                for b in BINS if b in m.metrics
            ]
            from tabulate import tabulate

            head = f"{results.method.name} on {m.model.id} ({m.task.name}): success={m.success}"
            table = tabulate(rows, headers=["bin", "match_acc", "match_token_acc", "program_acc", "model_acc"])
            return head + "\n" + table
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.show", description=__doc__.splitlines()[0])
    parser.add_argument("program", type=Path, help="a program JSON file")
    parser.add_argument("--json", action="store_true", help="print the canonical JSON instead of RASP code")
    args = parser.parse_args(argv)
    try:
        program = load_program(args.program)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(program.to_json(), indent=1))
        return 0
    print(program.pretty())
    print(f"\n# size: n_ops={program.n_ops} depth={program.depth} n_params={program.n_params}")
    scores = recorded_scores(args.program)
    if scores:
        print("\n" + scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
