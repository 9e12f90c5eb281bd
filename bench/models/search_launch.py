"""``python -m bench.zoo search TASK --launcher local|slurm [--wave N]``: the published search as submitit jobs.

The sequential search (:func:`bench.models.train.search`) trains the grid points in order and stops at
the first one perfect on test_101_150, keeping the best test_101_150 accuracy (the first of
equals). Here the points are trained ``wave`` at a time, one job each (local subprocesses or a
Slurm job array); after each wave the same rule is applied to the points in grid order, so the
choice is the one the sequential search makes. Points of the last wave that come after the first
perfect one are trained for nothing: they are reported as such and do not count.

Every run folder is the one the sequential search uses (``run_root/<run name>``), and each job
resumes its run, so a search interrupted by a cluster can be launched again and continues.
submitit is the optional extra ``pip install 'rasp-bench[cluster]'``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.errors import UsageError
from bench.scoring.launch import INSTALL_HINT, LOCAL_TIMEOUT_MIN, POLL_SECONDS

#: Grid points trained at once by default.
DEFAULT_WAVE = 4


@dataclass(frozen=True)
class LaunchOptions:
    launcher: str  # "local" or "slurm"
    wave: int = DEFAULT_WAVE
    cpus: int = 1
    mem: str | None = None  # e.g. "8G"
    minutes: int | None = None
    partition: str | None = None


def train_point(recipe, run_dir: str):
    """One job: train (or resume) one grid point and measure it; a :class:`bench.models.train.SearchEntry`."""
    from bench.data.task import get_task
    from bench.models.train import SearchEntry, measure_run, train

    task = get_task(recipe.task)
    result = train(recipe, run_dir, task=task, progress=False)
    accs = measure_run(result.model, task, Path(run_dir))
    return SearchEntry(recipe, str(run_dir), result.steps, result.wall_time_s, accs, result.stopped_early)


def _executor(options: LaunchOptions, folder: Path):
    try:
        import submitit
    except ImportError:
        raise UsageError(INSTALL_HINT.replace("--launcher needs", "search --launcher needs")) from None
    executor = submitit.AutoExecutor(folder=folder, cluster=options.launcher)
    minutes = options.minutes if options.minutes is not None else (LOCAL_TIMEOUT_MIN if options.launcher == "local" else None)
    executor.update_parameters(name="rasp-bench-search", timeout_min=minutes, cpus_per_task=options.cpus,
                               slurm_mem=options.mem, slurm_partition=options.partition,
                               slurm_array_parallelism=options.wave)
    return executor


def search_launched(base, run_root: str | Path, grid, options: LaunchOptions, log=print):
    """:func:`bench.models.train.search` with the grid points trained as jobs, ``options.wave`` at a time.

    Returns the chosen entry and the entries that count (those up to the first that ends the search, in grid
    order), as the sequential search does. A job that fails raises :class:`bench.errors.UsageError`
    naming its grid point and log.
    """
    from bench.models.train import GridPoint, TrainError, ends_search, run_name, search_choice

    if options.wave < 1:
        raise UsageError(f"--wave must be at least 1, got {options.wave}")
    points = [GridPoint(p, base.lr, base.dropout) if isinstance(p, str) else p for p in grid]
    if not points:
        raise TrainError("the search grid is empty")
    run_root = Path(run_root)
    executor = _executor(options, run_root / "search-logs")
    entries = []
    for start in range(0, len(points), options.wave):
        recipes = [point.recipe(base) for point in points[start : start + options.wave]]
        with executor.batch():
            jobs = [executor.submit(train_point, recipe, str(run_root / run_name(recipe))) for recipe in recipes]
        wave = _wait(jobs, points[start : start + options.wave], options.launcher)
        for point, entry in zip(points[start : start + options.wave], wave):
            if entries and ends_search(entries[-1].accuracies):
                log(f"{point.label}: trained in the same wave after a perfect point; not counted")
                continue
            entries.append(entry)
            log(f"{base.task} {point.label}: {entry.steps} steps, {entry.wall_time_s:.0f}s, "
                + " ".join(f"{k}={v:.3f}" for k, v in entry.accuracies.items()))
        if ends_search(entries[-1].accuracies):
            break
    return entries[search_choice([e.accuracies for e in entries])], entries


def _wait(jobs: list, points: list, launcher: str) -> list:
    """The jobs' results, in order, once all are done; a failed job is a UsageError naming its point and log."""
    while not all(job.done() for job in jobs):
        time.sleep(POLL_SECONDS[launcher])
    results = []
    for job, point in zip(jobs, points):
        try:
            results.append(job.result())
        except Exception as exc:  # noqa: BLE001 -- the job's own failure, reported with its log
            lines = [line for line in str(exc).splitlines() if line.strip()]
            raise UsageError(f"grid point {point.label} (job {job.job_id}) failed: {lines[-1] if lines else exc}; "
                             f"log: {job.paths.stderr}") from None
    return results
