"""Where a program and a model disagree: ``python -m bench.inspect PROGRAM.json``.

Prints, per bin, the match rates, the rates per exact length and the first
disagreeing sequences, decoded, with the scored positions marked (``[x]``) where
the program's output and the model's differ; ``--plot`` draws match_acc against
the exact length and ``--json`` writes the diagnostics. What is computed, and how
it follows the scoring path, is :mod:`bench.scoring.diagnose`.

    python -m bench.inspect runs/oracle/programs/sort.json              # the model results.json records
    python -m bench.inspect prog.json --model sort --bins test_0_50 --examples 10
    python -m bench.inspect prog.json --model ./my_checkpoint --task sort --plot by_length.png --json diag.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli_args import non_negative_int, positive_int
from bench.data.task import TaskError
from bench.errors import UsageError
from bench.scoring.diagnose import DEFAULT_EXAMPLES, Diagnostics, diagnose, plot_by_length, report
from bench.scoring.results import BINS, ResultsError, write_json_atomic
from bench.scoring.schema import printable
from bench.scoring.score import check_program_fits


def recorded_model(path: Path) -> str | None:
    """The model that a ``results.json`` beside the ``programs/`` folder holding ``path`` records for it.

    The entry is found as ``bench.show`` finds the recorded scores (:func:`bench.show.recorded_model`).

    Raises :class:`bench.scoring.results.ResultsError` (one line) for a results.json that cannot be read or used.
    """
    from bench.show import recorded_model as recorded_entry

    found = recorded_entry(path)
    if found is None:
        return None
    m = found[1]
    return m.model.hub_repo if m.model.source == "hub" and m.model.hub_repo else m.model.id


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.inspect", description=__doc__.splitlines()[0])
    parser.add_argument("program", type=Path, help="a program JSON file")
    parser.add_argument("--model", help="zoo id, Hub repo id or local GPT-2 folder (default: the model that a "
                                        "results.json beside the programs/ folder records for PROGRAM)")
    parser.add_argument("--task", help="the task of a --model folder or Hub repo without rasp_bench metadata")
    parser.add_argument("--bins", nargs="+", choices=BINS, default=list(BINS), metavar="BIN",
                        help=f"bins to inspect (default: all): {', '.join(BINS)}")
    parser.add_argument("--examples", type=non_negative_int, default=DEFAULT_EXAMPLES, metavar="K",
                        help=f"disagreeing sequences shown per bin (default {DEFAULT_EXAMPLES})")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="inspect only the first N sequences of each bin")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write match_acc against exact length")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the diagnostics as JSON")
    return parser.parse_args(argv)


def _check_output(path: Path | None, option: str, suffix: str | None = None) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    if path is None:
        return
    shown = f"{option} {printable(str(path), 300)}"
    try:
        folder_exists = path.resolve().parent.is_dir()
    except (OSError, ValueError, RuntimeError):  # a NUL, a symlink loop
        folder_exists = False
    if path.is_dir():
        raise UsageError(f"{shown}: is a folder")
    if not folder_exists:
        raise UsageError(f"{shown}: its folder does not exist")
    if suffix and path.suffix.lower() != suffix:
        raise UsageError(f"{shown}: expected a {suffix} file name")


def _model_spec(args: argparse.Namespace) -> str:
    if args.model:
        return args.model
    spec = recorded_model(args.program)
    if spec is None:
        raise UsageError(f"{printable(str(args.program), 300)}: no --model given, and no results.json beside its "
                         "programs/ folder records a model for it")
    return spec


def main(argv: list[str] | None = None) -> int:
    from bench.cli_args import show_notices_plainly
    from bench.data.task import get_task
    from bench.models.checkpoint import ModelError
    from bench.models.model_ref import checkpoint_ref
    from bench.models.predictions import PredictionsError
    from bench.program import ProgramError
    from bench.show import load_program

    show_notices_plainly()
    args = parse_args(argv)
    try:
        _check_output(args.plot, "--plot", ".png")
        _check_output(args.json, "--json")
        program = load_program(args.program)
        ref = checkpoint_ref(_model_spec(args), args.task)
        task = get_task(ref.task)
        check_program_fits(program, task)
        diagnostics = _diagnose_model(program, ref, task, args)
    except (UsageError, ProgramError, ResultsError, ModelError, TaskError, PredictionsError) as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    print(report(diagnostics, program.name))
    title = f"{printable(program.name, 60)} vs model {printable(ref.id, 60)}: match_acc by exact length"
    outputs = [("plot", args.plot, lambda path: plot_by_length(diagnostics, path, title, task.length_measure)),
               ("json", args.json, lambda path: write_json_atomic(path, diagnostics.to_json()))]
    for option, path, write in outputs:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            print(f"error: cannot write {printable(str(path), 300)} ({exc.strerror or exc})", file=sys.stderr)
            return 2
        print(f"{option}: {printable(str(path), 300)}")
    return 0


def _diagnose_model(program, ref, task, args: argparse.Namespace) -> Diagnostics:
    """Load the splits and the model's predictions (stored for a zoo model), then :func:`diagnose`."""
    from bench.data.splits import load_splits
    from bench.models import predictions

    splits = load_splits(task)
    stored = predictions.for_model(ref.id, ref.weights_sha256, task, splits, lambda: ref.load().model, entry=ref.entry)
    bins = [name for name in BINS if name in args.bins]
    diagnostics = diagnose(program, task, splits, stored, args.limit, args.examples, bins=bins)
    diagnostics.model = ref.id
    return diagnostics


if __name__ == "__main__":
    sys.exit(main())
