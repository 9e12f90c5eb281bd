"""``python -m bench.leaderboard COMMAND``: prepare and verify submissions, write the leaderboard.

    python -m bench.leaderboard init submissions/my_method     # submission.json from results.json
    python -m bench.leaderboard validate                       # every folder in submissions/
    python -m bench.leaderboard validate submissions/my_method --fresh-seed 7
    python -m bench.leaderboard build --out leaderboard/       # verified submissions only
    python -m bench.leaderboard check-pr --base origin/main    # a pull request changes one submission folder
    python -m bench.leaderboard validate --shard 2/4 --verdicts v2.json   # one job of four (bench.leaderboard.shards)
    python -m bench.leaderboard merge-verdicts v1.json v2.json v3.json v4.json

``validate`` re-scores every program; when it accepts a submission it records
so in this machine's cache (:mod:`bench.leaderboard.verdicts`), and ``build``
re-scores only the submissions without such a record for their current files
(``--rescore``: all of them; ``--no-rescore``: none, static checks only).
Both show a progress bar of the sequences scored on a terminal, and one line
per submission on stderr whatever it is.

Exit status: 0 when every submission is valid (validate, check-pr), the
leaderboard was written (build) or submission.json was written (init); 1 when
a submission is rejected (validate, check-pr, or build with ``--strict``) or a
pull request mixes a submission with other changes (check-pr); 2 on a usage
error or an internal error (a bug met while checking: that submission is
reported ``INTERNAL ERROR`` with the exception, the others are still checked
and reported). Every string that comes from a submission (folder names
included) is printed escaped, on one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tabulate import tabulate

from bench.cli_args import MAX_JOBS, fraction as _fraction, jobs as _jobs
from bench.errors import UsageError
from bench.scoring.schema import printable

if TYPE_CHECKING:  # validation imports pandas and the interpreter: init and usage errors do without
    from bench.leaderboard.validate import Verdict

DEFAULT_SUBMISSIONS = Path("submissions")
DEFAULT_OUT = Path("leaderboard")




def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.leaderboard", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _init_parser(commands)

    validate = commands.add_parser("validate", help="check submissions and re-score every program")
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="submission folders (default: every folder in submissions/)")
    validate.add_argument("--fresh-seed", type=int, metavar="SEED",
                          help="also score every program on fresh test sequences drawn from SEED and report the difference")
    validate.add_argument("--max-drop", type=_fraction, metavar="X",
                          help="with --fresh-seed: reject when fresh match_acc is below the reported one by more than X")
    validate.add_argument("--no-rescore", action="store_true",
                          help="skip running programs and models (static checks only; faster, not a verification)")
    _jobs_option(validate)
    validate.add_argument("--allow-limit", action="store_true",
                          help="accept results scored on part of each split (bench.evaluate --limit); not for the leaderboard")
    validate.add_argument("--allow-partial", action="store_true",
                          help="accept results that leave out zoo models; not for the leaderboard")
    validate.add_argument("--shard", type=_shard, metavar="K/N",
                          help="one job of N: every static check, but re-score only part K of the models; "
                               "writes --verdicts, joined by merge-verdicts")
    validate.add_argument("--verdicts", type=Path, metavar="FILE", help="with --shard: where this shard's findings go")

    build_cmd = commands.add_parser("build", help="write leaderboard/ from the verified submissions")
    build_cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: leaderboard/)")
    build_cmd.add_argument("--submissions", type=Path, default=DEFAULT_SUBMISSIONS,
                           help="folder of submission folders (default: submissions/)")
    build_cmd.add_argument("--strict", action="store_true", help="exit 1 when a submission is rejected")
    build_cmd.add_argument("--heatmaps", action="store_true",
                           help="draw every program's tables on its page (about 12 MB for the shipped submissions: "
                                "for the published site, not the committed leaderboard/)")
    build_cmd.add_argument("--disagreements", action="store_true",
                           help="run every program again and show where it disagrees with its model on its page "
                                "(as long as validate's re-scoring; for the published site)")
    scoring = build_cmd.add_mutually_exclusive_group()
    scoring.add_argument("--rescore", action="store_true",
                         help="re-score every submission, even those validate accepted with the same files")
    scoring.add_argument("--no-rescore", action="store_true",
                         help="re-score nothing (static checks only; faster, not a verification)")
    _jobs_option(build_cmd)

    check_pr = commands.add_parser("check-pr", help="a pull request changes only one submissions/<name>/ folder; "
                                   "validate that submission")
    check_pr.add_argument("--base", required=True, metavar="REF",
                          help="the branch the pull request goes into (e.g. origin/main); "
                               "the files committed since HEAD left it count")
    check_pr.add_argument("--no-rescore", action="store_true", help="static checks only (a quick look)")
    _jobs_option(check_pr)
    merge_cmd = commands.add_parser("merge-verdicts", help="join the verdict files of validate --shard 1/N .. N/N")
    merge_cmd.add_argument("files", nargs="+", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    if args.command == "validate" and args.max_drop is not None and args.fresh_seed is None:
        parser.error("--max-drop needs --fresh-seed")
    if args.command == "validate" and (args.shard is None) != (args.verdicts is None):
        parser.error("--shard K/N and --verdicts FILE go together")
    if args.command == "validate" and args.shard and args.fresh_seed is not None:
        parser.error("--fresh-seed is not split by --shard: run it without")
    return args


def _shard(text: str) -> tuple[int, int]:
    from bench.scoring.shard import parse_shard

    return parse_shard(text)


def _init_parser(commands) -> None:
    from bench.leaderboard.init import lengths_argument

    def lengths(text: str):
        try:
            return lengths_argument(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    init = commands.add_parser("init", help="write submission.json from the folder's results.json")
    init.add_argument("folder", type=Path, metavar="FOLDER", help="the submission folder (holding results.json)")
    init.add_argument("--author", action="append", dest="authors", metavar="NAME",
                      help="an author, in citation order (repeat for each)")
    init.add_argument("--contact", help="an e-mail address or GitHub handle")
    init.add_argument("--description", help="what the method does, in a few plain-text sentences")
    init.add_argument("--lengths-seen", type=lengths, metavar="LO-HI|all",
                      help="the input lengths the method looked at (default: what results.json records)")
    init.add_argument("--paper", metavar="URL", help="an https link to a paper or preprint")
    init.add_argument("--code", metavar="URL", help="an https link to the method's code")
    init.add_argument("--force", action="store_true", help="replace an existing submission.json")


def _jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                        help=f"score programs in N worker processes, 1 to {MAX_JOBS} "
                             "(default 1; the verdicts do not depend on it)")


def _folders(paths: list[Path], root: Path) -> list[Path]:
    from bench.leaderboard.validate import submission_folders

    if paths:
        missing = [p.as_posix() for p in paths if not p.is_dir()]
        if missing:
            raise UsageError(f"not a folder: {', '.join(missing)}")
        return paths
    if not root.is_dir():
        raise UsageError(f"no {root.as_posix()}/ folder here; give submission folders or run from the repository root")
    return submission_folders(root)


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


def _validate(folders: list[Path], options, jobs: int) -> list[Verdict]:
    """validate_all with the progress display and the verdict records of this machine."""
    from bench.leaderboard.harness import Harness
    from bench.leaderboard.progress import Progress
    from bench.leaderboard.validate import validate_all
    from bench.leaderboard.verdicts import VerdictCache

    return validate_all(folders, Harness(), options, Progress(), jobs=jobs, verdicts_kept=VerdictCache())


def run_init(args: argparse.Namespace) -> int:
    from bench.leaderboard.init import init

    given = {"authors": args.authors, "contact": args.contact, "description": args.description,
             "lengths_seen": args.lengths_seen, "paper": args.paper, "code": args.code}
    init(args.folder, given, force=args.force)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from bench.leaderboard.validate import Options

    folders = _folders(args.paths, DEFAULT_SUBMISSIONS)
    options = Options(
        rescore=not args.no_rescore,
        fresh_seed=args.fresh_seed,
        max_drop=args.max_drop,
        allow_limit=args.allow_limit,
        allow_partial=args.allow_partial,
    )
    if args.shard:
        return run_validate_shard(args, folders, options)
    verdicts = _validate(folders, options, args.jobs)
    report(verdicts)
    return exit_status(verdicts)


def run_validate_shard(args: argparse.Namespace, folders: list[Path], options) -> int:
    """One shard of a validation: its findings written to --verdicts (no verdict record: merge-verdicts makes it)."""
    import dataclasses

    from bench.leaderboard import shards
    from bench.leaderboard.harness import Harness
    from bench.leaderboard.progress import Progress
    from bench.leaderboard.validate import validate_all
    from bench.leaderboard.verdicts import submission_key

    harness = Harness()
    verdicts = validate_all(folders, harness, dataclasses.replace(options, shard=args.shard), Progress(), jobs=args.jobs)
    models = [m.model.id for v in verdicts if v.results for m in v.results.models if m.model.id in harness.zoo]
    for v in verdicts:
        v.key = submission_key(v.folder, harness.zoo)
    shards.write(args.verdicts, verdicts, args.shard, sorted(shards.shard_models(models, *args.shard)))
    k, n = args.shard
    print(f"shard {k}/{n}: {len(verdicts)} submissions checked, {sum(not v.ok for v in verdicts)} with problems so far; "
          f"findings in {printable(args.verdicts.as_posix(), 300)} (join the shards with merge-verdicts)")
    return 2 if any(v.internal_error for v in verdicts) else 0


def run_merge_verdicts(args: argparse.Namespace) -> int:
    from bench.leaderboard import shards
    from bench.leaderboard.harness import Harness

    try:
        merged = shards.merge(args.files)
    except shards.VerdictsError as exc:
        raise UsageError(str(exc)) from None
    shards.record_accepted(merged, Harness().zoo)
    return shards.report(merged, sys.stdout)


def run_build(args: argparse.Namespace) -> int:
    from bench.leaderboard.build import BuildError, build
    from bench.leaderboard.validate import Options

    folders = _folders([], args.submissions)
    verdicts = _validate(folders, Options(rescore=not args.no_rescore, reuse=not args.rescore), args.jobs)
    rejected = [v for v in verdicts if not v.ok]
    for v in rejected:
        why = "internal error" if v.internal_error else "rejected"
        print(f"skipped ({why}): {printable(v.folder.as_posix(), 300)}", file=sys.stderr)
        for problem in v.problems:
            print(f"  {problem}", file=sys.stderr)
    entries = [v.entry() for v in verdicts if v.ok]
    try:
        written = build(entries, args.out, heatmaps=args.heatmaps, disagreements=args.disagreements)
    except BuildError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {len(written)} files to {printable(args.out.as_posix(), 300)}/ from {len(entries)} submission(s)"
          + (f"; {len(rejected)} rejected" if rejected else ""))
    for label, group in _how_verified(verdicts, args.no_rescore).items():
        if group:
            print(f"  {label}: {', '.join(printable(v.folder.as_posix(), 300) for v in group)}")
    if any(v.internal_error for v in verdicts):
        return 2
    return 1 if rejected and args.strict else 0


def _how_verified(verdicts: list[Verdict], no_rescore: bool) -> dict[str, list[Verdict]]:
    """The accepted submissions by how their figures were verified in this build."""
    accepted = [v for v in verdicts if v.ok]
    return {
        "re-scored now": [v for v in accepted if v.rescored],
        "reused the re-scoring of an earlier validate (same files)": [v for v in accepted if v.reused is not None],
        "static checks only (--no-rescore)" if no_rescore else "nothing to re-score":
            [v for v in accepted if not v.rescored and v.reused is None],
    }


def run_check_pr(args: argparse.Namespace) -> int:
    from bench.leaderboard import pr
    from bench.leaderboard.submission import SUBMISSION_FILE
    from bench.leaderboard.validate import Options, Problem

    try:
        folder = pr.submission_folder(args.base)
    except pr.Refused as exc:
        print(f"refused: {printable(str(exc))}")
        return 1
    if folder is None:
        print(f"no submission folder changed since {printable(args.base, 200)}: a code change, "
              "checked by the full CI (.ci/run: every submission validated, leaderboard/ compared with a fresh build)")
        return 0
    if not folder.is_dir():
        print(f"{printable(folder.as_posix(), 300)}/ is removed by this pull request: nothing to validate "
              "(leaderboard/ is rebuilt on main after the merge)")
        return 0
    print(f"a submission pull request: validating {printable(folder.as_posix(), 300)} only")
    (verdict,) = _validate([folder], Options(rescore=not args.no_rescore), args.jobs)
    if verdict.submission is not None:
        from bench.leaderboard.tables import slug

        clash = pr.other_methods(folder).get(slug(verdict.submission.method))
        if clash is not None:
            verdict.problems.append(Problem((folder / SUBMISSION_FILE).as_posix(), "method",
                                            f"{verdict.submission.method!r} is already the method of "
                                            f"{clash.as_posix()}; names must be unique"))
    report([verdict])
    return exit_status([verdict])


COMMANDS = {"init": run_init, "validate": run_validate, "build": run_build, "check-pr": run_check_pr,
            "merge-verdicts": run_merge_verdicts}


def main(argv: list[str] | None = None) -> int:
    from bench.leaderboard.init import InitError
    from bench.leaderboard.pr import GitError

    args = parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, InitError, GitError) as exc:
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
