"""``python -m bench.leaderboard validate|build``: verify submissions and write the leaderboard.

    python -m bench.leaderboard validate                       # every folder in submissions/
    python -m bench.leaderboard validate submissions/my_method --fresh-seed 7
    python -m bench.leaderboard build --out leaderboard/       # verified submissions only

Exit status: 0 when every submission is valid (validate) or the leaderboard
was written (build), 1 when a submission is rejected (validate, or build
with ``--strict``), 2 on a usage error or an internal error (a bug met while
checking: that submission is reported ``INTERNAL ERROR`` with the exception,
the others are still checked and reported). Every string that comes from a
submission (folder names included) is printed escaped, on one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tabulate import tabulate

from bench.cli_args import MAX_JOBS, fraction as _fraction, jobs as _jobs
from bench.leaderboard.build import BuildError, build
from bench.schema import printable
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, Verdict, submission_folders, validate_all

DEFAULT_SUBMISSIONS = Path("submissions")
DEFAULT_OUT = Path("leaderboard")


class UsageError(ValueError):
    """Arguments that cannot be acted on."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.leaderboard", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check submissions and re-score every program")
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="submission folders (default: every folder in submissions/)")
    validate.add_argument("--fresh-seed", type=int, metavar="SEED",
                          help="also score every program on fresh test sequences drawn from SEED and report the difference")
    validate.add_argument("--max-drop", type=_fraction, metavar="X",
                          help="with --fresh-seed: reject when fresh match_acc is below the reported one by more than X")
    _common(validate)
    validate.add_argument("--allow-limit", action="store_true",
                          help="accept results scored on part of each split (bench.evaluate --limit); not for the leaderboard")
    validate.add_argument("--allow-partial", action="store_true",
                          help="accept results that leave out zoo models; not for the leaderboard")

    build_cmd = commands.add_parser("build", help="write leaderboard/ from the verified submissions")
    build_cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: leaderboard/)")
    build_cmd.add_argument("--submissions", type=Path, default=DEFAULT_SUBMISSIONS,
                           help="folder of submission folders (default: submissions/)")
    build_cmd.add_argument("--strict", action="store_true", help="exit 1 when a submission is rejected")
    _common(build_cmd)
    args = parser.parse_args(argv)
    if args.command == "validate" and args.max_drop is not None and args.fresh_seed is None:
        parser.error("--max-drop needs --fresh-seed")
    return args


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-rescore", action="store_true",
                        help="skip running programs and models (static checks only; faster, not a verification)")
    parser.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                        help=f"score programs in N worker processes, 1 to {MAX_JOBS} (default 1; the verdicts do not depend on it)")


def _folders(paths: list[Path], root: Path) -> list[Path]:
    if paths:
        missing = [p.as_posix() for p in paths if not p.is_dir()]
        if missing:
            raise UsageError(f"not a folder: {', '.join(missing)}")
        return paths
    if not root.is_dir():
        raise UsageError(f"no {root.as_posix()}/ folder here; give submission folders or run from the repository root")
    return submission_folders(root)


def _progress(line: str) -> None:
    print(f"{printable(line, 500)} ...", file=sys.stderr, flush=True)  # names folders a submitter chose


def report(verdicts: list[Verdict], stream=None) -> None:
    """Every verdict with all its problems, the fresh-sequence table, and a count."""
    stream = stream or sys.stdout
    for v in verdicts:
        folder = printable(v.folder.as_posix(), 300)
        if v.ok:
            n = len(v.results.models)
            print(f"ok        {folder}  ({printable(v.submission.method, 100)}: {n} models)", file=stream)
        else:
            status = "INTERNAL ERROR" if v.internal_error else "REJECTED "
            print(f"{status} {folder}  ({len(v.problems)} problem{'s' * (len(v.problems) != 1)})", file=stream)
            for problem in v.problems:
                print(f"  {problem}", file=stream)
    rows = [[printable(v.folder.as_posix(), 300), printable(r.model, 100), r.bin, r.n_sequences,
             f"{r.reported:.4f}", f"{r.fresh:.4f}", f"{r.drop:+.4f}"]
            for v in verdicts for r in v.fresh]
    if rows:
        print("\nmatch_acc on the frozen splits (reported) and on fresh sequences:", file=stream)
        print(tabulate(rows, headers=["submission", "model", "bin", "sequences", "reported", "fresh", "drop"],
                       tablefmt="github", disable_numparse=True), file=stream)
    accepted = sum(v.ok for v in verdicts)
    internal = sum(v.internal_error for v in verdicts)
    print(f"\n{accepted} accepted, {len(verdicts) - accepted} rejected"
          + (f" ({internal} with an internal error)" if internal else ""), file=stream)


def exit_status(verdicts: list[Verdict]) -> int:
    """2 when checking any submission met an internal error, else 1 when any is rejected, else 0."""
    if any(v.internal_error for v in verdicts):
        return 2
    return 0 if all(v.ok for v in verdicts) else 1


def run_validate(args: argparse.Namespace) -> int:
    folders = _folders(args.paths, DEFAULT_SUBMISSIONS)
    options = Options(
        rescore=not args.no_rescore,
        fresh_seed=args.fresh_seed,
        max_drop=args.max_drop,
        allow_limit=args.allow_limit,
        allow_partial=args.allow_partial,
    )
    verdicts = validate_all(folders, Harness(), options, progress=_progress, jobs=args.jobs)
    report(verdicts)
    return exit_status(verdicts)


def run_build(args: argparse.Namespace) -> int:
    folders = _folders([], args.submissions)
    verdicts = validate_all(folders, Harness(), Options(rescore=not args.no_rescore), progress=_progress,
                            jobs=args.jobs)
    rejected = [v for v in verdicts if not v.ok]
    for v in rejected:
        why = "internal error" if v.internal_error else "rejected"
        print(f"skipped ({why}): {printable(v.folder.as_posix(), 300)}", file=sys.stderr)
        for problem in v.problems:
            print(f"  {problem}", file=sys.stderr)
    entries = [v.entry() for v in verdicts if v.ok]
    written = build(entries, args.out)
    print(f"wrote {len(written)} files to {printable(args.out.as_posix(), 300)}/ from {len(entries)} submission(s)"
          + (f"; {len(rejected)} rejected" if rejected else ""))
    if any(v.internal_error for v in verdicts):
        return 2
    return 1 if rejected and args.strict else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run_validate(args) if args.command == "validate" else run_build(args)
    except (UsageError, BuildError) as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- a bug outside the per-submission checks: one line, exit 2
        if os.environ.get("RASP_BENCH_TRACEBACK"):
            raise
        print(f"internal error: {type(exc).__name__}: {printable(str(exc))} "
              "(set RASP_BENCH_TRACEBACK=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
