"""Score an extraction method on the suite: ``python -m bench.evaluate METHOD``.

For every reference model: extract a program (in a child process, under a
time limit), run program and model on the same teacher-forced sequences of
every frozen test bin, and record faithfulness, accuracy, size and cost.
``results.json`` and ``programs/`` are rewritten atomically after every
model, so an interrupted run keeps what it finished, and ``--resume`` goes
on from there. ``--jobs N`` runs N extractions side by side (same results).

    python -m bench.evaluate oracle                      # every zoo model
    python -m bench.evaluate decompile --jobs 2 --resume # slow methods: 2 at a time, restartable
    python -m bench.evaluate lookup --tasks sort count --limit 200
    python -m bench.evaluate path/to/method.py --models ./my_checkpoint --task sort
    python -m bench.evaluate oracle --shard 2/3 --out b  # one part of a job array (bench.scoring.shard) ...
    python -m bench.evaluate merge a b c --out m         # ... and the parts merged into one run
    python -m bench.evaluate decompile --launcher slurm --shards 8   # submitit job array, then merge (bench.scoring.launch)

``merge`` is a subcommand, not a method: a method module named ``merge`` is
given as ``merge:ClassName`` or ``./merge.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

from tabulate import tabulate
from tqdm import tqdm

from bench.cli_args import MAX_JOBS, fraction as _fraction, jobs as _jobs, positive_int as _positive_int, show_notices_plainly
from bench.data.task import TaskError
from bench.errors import UsageError
from bench.models import hub
from bench.models import predictions as model_predictions
from bench.scoring import shard as sharding
from bench.scoring.methods import MethodError, resolve_method
from bench.scoring.report import errors_report, plot_match_by_length, summary_table
from bench.scoring.results import Results, save_results
from bench.scoring.resume import ResumeError
from bench.scoring.run import Options, evaluate_models, new_results, record, select_models, start_results
from bench.scoring.score import summarize

DEFAULT_TIME_LIMIT = 600.0
DEFAULT_THRESHOLD = 0.9
#: ``--time-limit`` lies in (0, this]: a week (waiting longer overflows the timers the harness uses).
MAX_TIME_LIMIT = 7 * 24 * 3600.0
#: ``--jobs`` lies in [1, this].
#: ``--seed`` lies in [0, this] (it is stored in results.json; int64 keeps it readable everywhere).
MAX_SEED = 2**63 - 1
#: What a run writes into ``--out`` (and the submission manifest that may sit beside it).
RUN_OUTPUTS = ("results.json", "programs", "errors", "diagnostics", "match_acc_by_length.png", "submission.json",
               sharding.MANIFEST)
#: The largest results.json whose method name is read to decide whether ``--out`` may be reused.
MAX_PREVIOUS_RESULTS_BYTES = 256 * 2**20





def _previous_method(path: Path) -> str:
    """The method name recorded in an earlier results.json; UsageError when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_PREVIOUS_RESULTS_BYTES:
                raise UsageError(f"--out {path.parent} holds a results.json over {MAX_PREVIOUS_RESULTS_BYTES // 2**20} MiB; "
                                 "name another --out")
            raw = json.loads(handle.read(MAX_PREVIOUS_RESULTS_BYTES + 1).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # ValueError: bad JSON or UTF-8
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise UsageError(f"--out {path.parent} holds a results.json that cannot be read ({reason}); "
                         "name another --out, or remove that file") from None
    method = raw.get("method") if isinstance(raw, dict) else None
    name = method.get("name") if isinstance(method, dict) else None
    if not isinstance(name, str):
        raise UsageError(f"--out {path.parent} holds a results.json without a method name (not one this harness wrote); "
                         "name another --out")
    return name


def check_out_dir(out: Path, method_name: str, resume: bool) -> None:
    """Refuse an ``--out`` a run must not write into, before any work is done.

    Accepted: a folder that does not exist yet (under a writable folder), an
    empty folder, a folder holding only what runs write (``results.json``,
    ``programs/``, the plot, ``submission.json``) without results.json, and a
    folder whose results.json is one of the same method (rewritten, or
    continued with ``--resume``, which compares the settings itself).
    Refused: a file, ``/`` (any filesystem root), the home folder, a folder
    with other content and no results.json, and another method's results.json.
    """
    try:
        resolved = out.resolve()
        home = Path.home().resolve()
    except (OSError, RuntimeError, ValueError) as err:  # a symlink loop, a NUL byte, no home
        raise UsageError(f"--out {out} cannot be used ({err})") from None
    if resolved == Path(resolved.anchor):
        raise UsageError(f"--out {out} is the filesystem root; name a folder for this run's results")
    if resolved == home:
        raise UsageError(f"--out {out} is the home folder; name a folder for this run's results")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file, not a folder")
    if not out.exists():
        ancestor = resolved.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise UsageError(f"--out {out} cannot be made: {ancestor} is a file")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise UsageError(f"--out {out} cannot be made: {ancestor} is not writable")
        return
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out} is not writable")
    try:
        names = sorted(p.name for p in out.iterdir())
    except OSError as err:
        raise UsageError(f"--out {out} cannot be listed ({err.strerror or err})") from None
    names = [n for n in names if not (n.startswith(".") and n.endswith(".tmp"))]  # left by an interrupted write
    if "results.json" not in names:
        other = [n for n in names if n not in RUN_OUTPUTS]
        if other:
            shown = ", ".join(repr(n)[:60] for n in other[:3]) + (", ..." if len(other) > 3 else "")
            raise UsageError(f"--out {out} is not empty ({shown}) and holds no results.json; "
                             "name a new or empty folder, or the results folder of an earlier run")
        return
    if resume:
        return  # bench.scoring.resume compares method, parameters and settings, and refuses a mismatch
    previous = _previous_method(out / "results.json")
    if previous != method_name:
        raise UsageError(f"--out {out} holds the results of method {previous[:80]!r}, not {method_name!r}; "
                         "name another --out (a run never overwrites another method's results)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.evaluate",
        description="Score a program-extraction method for faithfulness, size and length generalization.",
    )
    parser.add_argument("method", nargs="?",
                        help="registered name (see --list), pkg.mod[:obj], or path/to/method.py")
    parser.add_argument("--list", action="store_true", help="list the registered methods and exit")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="only models of these tasks")
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="zoo ids, Hub repo ids, or local GPT-2 folders")
    parser.add_argument("--task", help="the task of the --models given as folders or Hub repos without rasp_bench metadata")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: runs/METHOD-NAME): new, empty, or the results folder of an "
                             "earlier run of the same method (rewritten); a folder holding another method's "
                             "results.json or other files is refused, and so are a file, / and the home folder")
    parser.add_argument("--seed", type=_seed, default=0, help="seeds each extraction: an integer >= 0 (default 0)")
    parser.add_argument("--limit", type=_positive_int, help="score only the first N sequences of each bin")
    parser.add_argument("--match-threshold", type=_fraction, default=DEFAULT_THRESHOLD, help="success criterion (default 0.9)")
    parser.add_argument("--time-limit", type=_time_limit, default=DEFAULT_TIME_LIMIT,
                        help=f"seconds per extraction, > 0 and at most {MAX_TIME_LIMIT:.0f} (default 600)")
    parser.add_argument("--jobs", type=_jobs, default=1, help=f"extractions to run side by side, 1 to {MAX_JOBS} (default 1)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the models an earlier run with the same settings finished in --out "
                             "(refused when its results.json was made with other settings)")
    parser.add_argument("--no-isolate", action="store_true", help="run extraction in this process (for debugging)")
    parser.add_argument("--verbose", action="store_true",
                        help="print the traceback of every failed extraction (always kept in OUT/errors/)")
    parser.add_argument("--no-prediction-cache", action="store_true",
                        help="compute non-zoo models' predictions afresh and do not store them in the cache folder")
    cluster = parser.add_argument_group(
        "sharding and clusters",
        "--shard K/N runs part K of N of the selected models (round-robin over the sorted model ids) and writes "
        "shard.json beside results.json; 'python -m bench.evaluate merge DIR... --out OUT' joins the parts. "
        "--launcher runs all N parts as one submitit job array, then merges them into --out.")
    cluster.add_argument("--shard", type=sharding.parse_shard, metavar="K/N", help="evaluate only shard K of N (1 <= K <= N)")
    cluster.add_argument("--launcher", choices=("local", "slurm"),
                         help="run --shards N shards with submitit (pip install 'rasp-bench[cluster]'): local "
                              "subprocesses or a Slurm job array; shard folders go to OUT.shards/")
    cluster.add_argument("--shards", type=_shards, metavar="N", help="number of shards for --launcher")
    cluster.add_argument("--slurm-cpus", type=_positive_int, metavar="C",
                         help="CPUs per shard job (default 1; --jobs + 1 with --jobs > 1)")
    cluster.add_argument("--slurm-mem", type=_memory, metavar="MEM", help="memory per shard job, e.g. 16G or 8000M")
    cluster.add_argument("--slurm-time", type=_positive_int, metavar="MINUTES",
                         help="time limit per shard job in minutes (also the local launcher's timeout; "
                              "default: the partition's for Slurm, a week for local)")
    cluster.add_argument("--slurm-partition", metavar="NAME", help="Slurm partition to submit to")
    args = parser.parse_args(argv)
    if not args.method and not args.list:
        parser.error("the following arguments are required: method (or --list)")
    return args


def list_methods() -> str:
    """The registered methods, one per line, with the first line of each one's description."""
    from bench.scoring.methods import method_descriptions

    rows = [[name, text] for name, text in method_descriptions().items()]
    return (tabulate(rows, headers=["method", "what it does"], tablefmt="plain")
            + "\n\nAlso accepted: pkg.mod[:obj] or path/to/method.py (the method API: bench/scoring/methods.py).")


def _shards(text: str) -> int:
    value = _positive_int(text)
    if value > sharding.MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"expected at most {sharding.MAX_SHARDS} shards, got {text[:40]!r}")
    return value


def _memory(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{0,8}[KMGT]?", text):
        raise argparse.ArgumentTypeError(f"expected a memory size such as 16G or 8000M, got {text[:40]!r}")
    return text


def check_cluster_args(args: argparse.Namespace) -> None:
    """Combinations of the sharding options that cannot be acted on."""
    if args.shard and args.launcher:
        raise UsageError("--shard K/N runs one shard; --launcher runs all of them (with --shards N): give one of the two")
    if args.launcher and not args.shards:
        raise UsageError(f"--launcher {args.launcher} needs --shards N (the number of shard jobs)")
    if args.shards and not args.launcher:
        raise UsageError("--shards N is for --launcher local|slurm; one shard of a job array is --shard K/N")
    slurm_only = [name for name in ("slurm_cpus", "slurm_mem", "slurm_time", "slurm_partition")
                  if getattr(args, name) is not None]
    if slurm_only and not args.launcher:
        raise UsageError(f"--{slurm_only[0].replace('_', '-')} is for --launcher slurm (or local)")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text[:40]!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {MAX_SEED}, got {text[:40]!r}")
    return value


def _time_limit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIME_LIMIT:
        raise argparse.ArgumentTypeError(
            f"expected a finite number of seconds > 0 and <= {MAX_TIME_LIMIT:.0f}, got {text[:40]!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    show_notices_plainly()
    if argv[:1] == ["merge"]:
        return sharding.merge_main(argv[1:])
    args = parse_args(argv)
    if args.list:
        print(list_methods())
        return 0
    if args.launcher:
        from bench.scoring import launch

        return launch.main(args)
    options = Options(args.seed, args.limit, args.match_threshold, args.time_limit, not args.no_isolate, args.jobs,
                      not args.no_prediction_cache)
    try:
        if args.jobs > 1 and args.no_isolate:
            raise UsageError("--jobs runs extractions in child processes; it cannot be combined with --no-isolate")
        check_cluster_args(args)
        method = resolve_method(args.method)
        out_dir = args.out or Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "_", method.name)
        check_out_dir(out_dir, method.name, args.resume)  # before any model is loaded
        refs = shard_models(select_models(args.models, args.tasks, args.task), args.shard, out_dir, options)
        results = new_results(method, args.method, options)
        todo = start_results(results, refs, out_dir, args.resume)
    except (MethodError, TaskError, hub.ModelError, UsageError, ResumeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    order = [ref.id for ref in refs]
    bar = tqdm(total=len(refs), initial=len(refs) - len(todo), desc=f"{method.name}", unit="model")
    try:
        for result in evaluate_models(method, todo, options, out_dir):
            record(results, result, out_dir, order)
            bar.update()
    except (hub.ModelError, TaskError, model_predictions.PredictionsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    return finish(results, out_dir, args.verbose)


def shard_models(refs: list, shard: tuple[int, int] | None, out_dir: Path, options: Options) -> list:
    """The models this run scores: all of ``refs``, or with ``--shard K/N`` part K's (manifest written first)."""
    if not shard:
        (out_dir / sharding.MANIFEST).unlink(missing_ok=True)  # left by an earlier --shard run
        return refs
    k, n = shard
    manifest = sharding.write_manifest(out_dir, k, n, [ref.id for ref in refs], options.time_limit)
    by_id = {}
    for ref in refs:
        by_id.setdefault(ref.id, ref)
    return [by_id[model_id] for model_id in manifest.models]  # each model once, in selection order


def finish(results: Results, out_dir: Path, verbose: bool) -> int:
    """Print the finished run (table, failures, where results.json is) and return the exit status."""
    if not results.models:  # an empty shard (more shards than models): results.json all the same
        results.summary = summarize(results.models)
        save_results(out_dir / "results.json", results)
        print(f"no models in this shard; results: {out_dir / 'results.json'}")
        return 0
    plot_match_by_length(results, out_dir / "match_acc_by_length.png")
    print(summary_table(results))
    if any(m.status == "error" for m in results.models):
        print("extraction failures:\n" + errors_report(results, out_dir, verbose))
    print(f"results: {out_dir / 'results.json'}")
    if all(m.status == "error" for m in results.models):
        print(f"error: no extraction succeeded ({len(results.models)} failed)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
