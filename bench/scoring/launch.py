"""``python -m bench.evaluate METHOD --launcher local|slurm --shards N``: a submitit job array, then the merge.

Each of the N jobs runs ``python -m bench.evaluate METHOD ... --shard K/N`` (in-process, through
:func:`run_shard`) into ``OUT.shards/K-of-N/``; submitit's own files (pickles, logs) go to
``OUT.shards/logs/``. The launcher waits with a progress bar, resubmits a failed shard once
(with ``--resume``, so that the models it finished are kept) and names it; when every shard
has finished it merges them into ``OUT`` (:func:`bench.scoring.shard.merge`), the same results a
single run writes. A shard that fails twice is reported with its log, and the command that
reruns it by hand; the other shards' folders are kept for the merge.

``local`` runs the jobs as subprocesses of this machine (submitit's ``LocalExecutor``),
``slurm`` as one Slurm job array (``--slurm-cpus``, ``--slurm-mem``, ``--slurm-time``,
``--slurm-partition``). submitit is the optional extra ``pip install 'rasp-bench[cluster]'``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from pathlib import Path

from bench.data.task import TaskError
from bench.errors import UsageError

INSTALL_HINT = ("--launcher needs submitit, which is not installed: pip install 'rasp-bench[cluster]' "
                "(or pip install 'submitit>=1.5'); or run each shard yourself with --shard K/N and "
                "join them with python -m bench.evaluate merge")
#: Seconds between two looks at the jobs' states.
POLL_SECONDS = {"local": 1.0, "slurm": 30.0}
#: The local launcher's timeout per shard when --slurm-time is not given (minutes).
LOCAL_TIMEOUT_MIN = 7 * 24 * 60


def run_shard(argv: list[str]) -> int:
    """One shard job: ``bench.evaluate.main(argv)``; a non-zero status fails the job."""
    from bench.evaluate import main

    code = main(argv)
    if code != 0:
        raise RuntimeError(f"python -m bench.evaluate {shlex.join(argv)} exited with status {code}")
    return code


def shard_argv(args: argparse.Namespace) -> list[str]:
    """The evaluate arguments every shard shares (without --shard and --out)."""
    argv = [args.method]
    if args.tasks:
        argv += ["--tasks", *args.tasks]
    if args.models:
        argv += ["--models", *args.models]
    if args.task:
        argv += ["--task", args.task]
    argv += ["--seed", str(args.seed), "--match-threshold", repr(args.match_threshold),
             "--time-limit", repr(args.time_limit), "--jobs", str(args.jobs)]
    if args.limit is not None:
        argv += ["--limit", str(args.limit)]
    if args.resume:
        argv.append("--resume")
    if args.no_isolate:
        argv.append("--no-isolate")
    if args.no_prediction_cache:
        argv.append("--no-prediction-cache")
    return argv


def shard_folders(out_dir: Path, n: int) -> list[Path]:
    root = out_dir.parent / f"{out_dir.name}.shards"
    return [root / f"{k}-of-{n}" for k in range(1, n + 1)]


def make_executor(args: argparse.Namespace, folder: Path, name: str):
    """A submitit executor for ``args.launcher`` with the requested resources."""
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=args.launcher)
    timeout = args.slurm_time if args.slurm_time is not None else (LOCAL_TIMEOUT_MIN if args.launcher == "local" else None)
    executor.update_parameters(
        name=name,
        timeout_min=timeout,
        cpus_per_task=args.slurm_cpus or (args.jobs + 1 if args.jobs > 1 else 1),
        slurm_mem=args.slurm_mem,
        slurm_partition=args.slurm_partition,
        slurm_array_parallelism=args.shards,
    )
    return executor


def _job_failure(job) -> str | None:
    """Why a finished job failed (one line), or None when it succeeded."""
    try:
        exc = job.exception()
    except Exception as err:  # noqa: BLE001 -- submitit cannot read the job's outcome (e.g. killed before it wrote it)
        exc = err
    if exc is None:
        return None
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    try:
        log = job.stderr() or ""
    except Exception:  # noqa: BLE001 -- no log to read
        log = ""
    errors = [line.strip() for line in log.splitlines() if line.strip().startswith("error:")]
    return (errors[-1] + "; " if errors else "") + reason[:400]


def _log_path(job) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001
        return "(no log)"


def wait(jobs: dict[int, object], n: int, launcher: str, poll: float | None = None) -> dict[int, str]:
    """Wait for every job, with a progress bar; ``{K: why}`` for the shards that failed."""
    from tqdm import tqdm

    poll = POLL_SECONDS[launcher] if poll is None else poll
    failed: dict[int, str] = {}
    pending = dict(jobs)
    with tqdm(total=len(jobs), desc=f"shards ({launcher})", unit="shard") as bar:
        while pending:
            for k, job in list(pending.items()):
                if job.done():
                    del pending[k]
                    reason = _job_failure(job)
                    if reason is not None:
                        failed[k] = reason
                        bar.write(f"shard {k}/{n} (job {job.job_id}) failed: {reason}; log: {_log_path(job)}",
                                  file=sys.stderr)
                    bar.update()
            if pending:
                time.sleep(poll)
    return failed


def main(args: argparse.Namespace) -> int:
    from bench.evaluate import check_cluster_args, check_out_dir
    from bench.models import hub
    from bench.scoring import shard as sharding
    from bench.scoring.methods import MethodError, resolve_method
    from bench.scoring.report import summary_table
    from bench.scoring.run import select_models

    try:
        check_cluster_args(args)
        if args.jobs > 1 and args.no_isolate:
            raise UsageError("--jobs runs extractions in child processes; it cannot be combined with --no-isolate")
        try:
            import submitit  # noqa: F401
        except ImportError:
            print(f"error: {INSTALL_HINT}", file=sys.stderr)
            return 2
        method = resolve_method(args.method)
        out_dir = args.out or Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "_", method.name)
        check_out_dir(out_dir, method.name, resume=False)  # the merged results; --resume applies to the shards
        refs = select_models(args.models, args.tasks, args.task)
        n = args.shards
        folders = shard_folders(out_dir, n)
        for folder in folders:
            check_out_dir(folder, method.name, args.resume)  # refused now, not in the job
    except (MethodError, TaskError, hub.ModelError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = shard_argv(args)
    argvs = {k: base + ["--shard", f"{k}/{n}", "--out", str(folder)] for k, folder in enumerate(folders, 1)}
    try:
        executor = make_executor(args, folders[0].parent / "logs",
                                 f"rasp-bench-{re.sub(r'[^A-Za-z0-9._-]+', '_', method.name)}")
    except RuntimeError as exc:  # e.g. submitit: 'Could not detect "srun", are you indeed on a slurm cluster?'
        print(f"error: --launcher {args.launcher}: {exc}", file=sys.stderr)
        return 2
    print(f"{len(refs)} models in {n} shards, {args.launcher} launcher; shard folders: {folders[0].parent}")
    jobs = dict(zip(argvs, executor.map_array(run_shard, list(argvs.values()))))
    failed = wait(jobs, n, args.launcher)
    if failed:
        print(f"resubmitting once: {', '.join(f'shard {k}/{n}' for k in sorted(failed))}")
        retries = {k: executor.submit(run_shard, argvs[k] + ([] if args.resume else ["--resume"])) for k in sorted(failed)}
        failed = wait(retries, n, args.launcher)
        jobs.update(retries)
    if failed:
        print("error: " + "; ".join(f"shard {k}/{n} failed twice ({why}); log: {_log_path(jobs[k])}"
                                    for k, why in sorted(failed.items())), file=sys.stderr)
        print("rerun each by hand, then merge:\n" + "\n".join(
            f"  python -m bench.evaluate {shlex.join(argvs[k])} --resume" for k in sorted(failed)) +
            f"\n  python -m bench.evaluate merge {shlex.join(str(f) for f in folders)} --out {shlex.quote(str(out_dir))}",
            file=sys.stderr)
        return 1
    try:
        merged = sharding.merge(folders, out_dir)
    except (sharding.ShardError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary_table(merged))
    print(f"results: {out_dir / 'results.json'} (merged from {n} shards in {folders[0].parent})")
    return 0
