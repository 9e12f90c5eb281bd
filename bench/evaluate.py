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
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
from tabulate import tabulate
from tqdm import tqdm

import bench
from bench.cli_args import MAX_JOBS, fraction as _fraction, jobs as _jobs, positive_int as _positive_int, show_notices_plainly
from bench.data.splits import load_splits, split_fingerprint
from bench.data.task import Task, TaskError, get_task
from bench.errors import UsageError
from bench.models import hub
from bench.models import predictions as model_predictions
from bench.models.model_ref import ModelRef, checkpoint_ref, zoo_refs
from bench.program.cost import CostError
from bench.scoring import shard as sharding
from bench.scoring.diagnose import diagnose
from bench.scoring.extract import Extraction, can_isolate, run_extraction, start_extraction, wait_for_any
from bench.scoring.methods import MethodError, TaskView, method_parameters, resolve_method
from bench.scoring.results import (
    BINS,
    SCHEMA_VERSION,
    Cost,
    MethodInfo,
    ModelInfo,
    ModelResult,
    Results,
    Size,
    TaskInfo,
    save_results,
    write_json_atomic,
    write_text_atomic,
)
from bench.scoring.resume import ResumeError, reusable_results
from bench.scoring.score import check_program_fits, is_success, summarize

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




@dataclass
class Options:
    seed: int
    limit: int | None
    match_threshold: float
    time_limit: float
    isolate: bool
    jobs: int = 1  # extractions running at once
    prediction_cache: bool = True  # read and write model predictions in the cache folder


# ----- step 1: what to evaluate ------------------------------------------------------


def select_models(model_specs: list[str] | None, task_names: list[str] | None, task_override: str | None):
    """The models to score: zoo ids (default: the whole zoo), Hub repo ids or local folders."""
    if task_override:
        get_task(task_override)
    if model_specs:
        refs = [checkpoint_ref(spec, task_override) for spec in model_specs]
    else:
        refs = list(zoo_refs().values())
    if task_names:
        for name in task_names:
            get_task(name)  # an unknown task name fails here, with the list of known ones
        refs = [ref for ref in refs if ref.task in task_names]
    if not refs:
        raise UsageError("no model matches the given --models/--tasks (the zoo may be empty)")
    return refs


# ----- step 2: one model -------------------------------------------------------------


def task_info(task: Task, splits) -> TaskInfo:
    return TaskInfo(
        name=task.name,
        version=task.version,
        kind=task.kind,
        split_fingerprints={b: split_fingerprint(splits[b]) for b in BINS},
    )


#: Model ids kept as they are in program file names: every zoo id is one of these.
_PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def program_filename(model_id: str) -> str:
    """``programs/<name>.json``: a different name for every model id.

    A plain id (lowercase letters, digits, ``_`` and ``-``, as every zoo id)
    is its own name: ``programs/tomita1.json``. Any other id (a Hub repo, a
    folder path, upper case, spaces) becomes a slug of at most 60 characters
    followed by ``.`` and 16 hex digits of its sha256:
    ``programs/org_name.3f2a....json``. Plain names hold no ``.``, so the two
    kinds never meet, and the hash keeps ``x_y``, ``x y`` and ``X_Y`` apart
    (on case-insensitive file systems too).
    """
    if _PLAIN_ID.fullmatch(model_id):
        return f"programs/{model_id}.json"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", model_id)[-60:].strip("_-")
    digest = hashlib.sha256(model_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"programs/{slug + '.' if slug else ''}{digest}.json"


def diagnostics_filename(model_id: str) -> str:
    """``diagnostics/<name>.json``: where a program disagrees with its model (``python -m bench.inspect``)."""
    return "diagnostics/" + program_filename(model_id).removeprefix("programs/")


def error_filename(model_id: str) -> str:
    """``errors/<name>.txt``: where the traceback of a failed extraction goes (named as the program would be)."""
    return "errors/" + program_filename(model_id).removeprefix("programs/").removesuffix(".json") + ".txt"


def portable_spec(spec: str) -> str:
    """The METHOD argument as recorded in results.json: nothing of this machine's folders.

    A registered name or a module (``pkg.mod:obj``) is kept as given; a file
    path becomes relative to the current folder when the file lies under it,
    else its file name alone (the ``:obj`` suffix kept).
    """
    module_part, colon, attr = spec.partition(":")
    path = Path(module_part)
    if not (module_part.endswith(".py") or path.is_file()):
        return spec
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (OSError, ValueError, RuntimeError):
        relative = path.name
    return relative + colon + attr


@dataclass
class Prepared:
    """A model loaded with its task, frozen splits and the task view its extraction gets."""

    ref: ModelRef
    loaded: object  # hub.ReferenceModel
    task: Task
    splits: dict
    view: TaskView
    predictions: model_predictions.ModelPredictions  # the model's side of every score


def prepare(ref: ModelRef, options: Options) -> Prepared:
    loaded = ref.load()
    task = get_task(ref.task)
    splits = load_splits(task)
    predictions = model_predictions.for_model(ref.id, loaded.sha256, task, splits, lambda: loaded.model, entry=ref.entry,
                                              use_cache=options.prediction_cache)
    model_seed = int.from_bytes(hashlib.sha256(f"{options.seed}/{ref.id}".encode()).digest()[:8], "little")
    return Prepared(ref, loaded, task, splits, TaskView(task, np.random.default_rng(model_seed)), predictions)


def score_extraction(prepared: Prepared, extraction: Extraction, options: Options, out_dir: Path) -> ModelResult:
    """Save and score an extracted program; failures are recorded, never raised."""
    ref, loaded, task, splits = prepared.ref, prepared.loaded, prepared.task, prepared.splits
    result = ModelResult(
        model=ModelInfo(
            id=ref.id,
            source=ref.source,
            hub_repo=ref.hub_repo,
            revision=ref.revision,
            weights_sha256=loaded.sha256,
            role=ref.role,
        ),
        task=task_info(task, splits),
        status="error",
        error=extraction.error,
        program_file=None,
        program_sha256=None,
        metrics={},
        size=None,
        cost=Cost(extract_seconds=round(extraction.seconds, 3), peak_memory_mb=round(extraction.peak_memory_mb, 1)),
        success=False,
        lengths_sampled=extraction.lengths_sampled,
    )
    save_traceback(out_dir, ref.id, extraction.traceback)
    program = extraction.program
    if program is None:
        return result
    try:
        check_program_fits(program, task)
    except TaskError as exc:
        result.error = str(exc)
        return result
    try:  # scored once, keeping where it disagrees with the model (python -m bench.inspect reads it back)
        diagnostics = diagnose(program, task, splits, prepared.predictions, options.limit)
    except CostError as exc:
        result.error = f"the program is over the scoring limits: {exc}"
        return result
    result.program_file = program_filename(ref.id)
    result.program_sha256 = program.save(out_dir / result.program_file)  # JSON + .safetensors sidecar
    result.size = Size(n_ops=program.n_ops, depth=program.depth, n_params=program.n_params)
    diagnostics.model = ref.id
    write_json_atomic(out_dir / diagnostics_filename(ref.id), diagnostics.to_json())
    result.metrics = diagnostics.metrics()  # exactly what score_program gives
    result.status, result.error = "ok", None
    result.success = is_success(result.metrics, options.match_threshold)
    return result


def save_traceback(out_dir: Path, model_id: str, trace: str | None) -> None:
    """Keep the traceback of a failed extraction in ``errors/``; remove an earlier one when there is none."""
    path = out_dir / error_filename(model_id)
    if trace:
        write_text_atomic(path, trace)
    else:
        path.unlink(missing_ok=True)


def evaluate_model(method, ref: ModelRef, options: Options, out_dir: Path) -> ModelResult:
    """Extract, save and score one program; failures are recorded, never raised."""
    prepared = prepare(ref, options)
    extraction = run_extraction(method, prepared.loaded.model, prepared.view, time_limit=options.time_limit,
                                isolate=options.isolate)
    return score_extraction(prepared, extraction, options, out_dir)


def evaluate_models(method, refs: list[ModelRef], options: Options, out_dir: Path) -> Iterator[ModelResult]:
    """Each model's result as soon as it is ready; ``options.jobs`` extractions run side by side.

    Programs are scored in this process while the other extractions go on, so
    the results do not depend on ``jobs`` (each extraction is seeded by model).
    """
    if options.jobs == 1 or not options.isolate or not can_isolate():
        for ref in refs:
            yield evaluate_model(method, ref, options, out_dir)
        return
    queue, running = list(refs), {}
    while queue or running:
        while queue and len(running) < options.jobs:
            prepared = prepare(queue.pop(0), options)
            child = start_extraction(method, prepared.loaded.model, prepared.view, time_limit=options.time_limit)
            running[child] = prepared
        for child in wait_for_any(list(running)):
            yield score_extraction(running.pop(child), child.finish(), options, out_dir)


# ----- step 3: the run -----------------------------------------------------------------


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def new_results(method, spec: str, options: Options) -> Results:
    return Results(
        schema_version=SCHEMA_VERSION,
        bench_version=bench.__version__,
        git_commit=git_commit(),
        date=now(),
        method=MethodInfo(name=method.name, spec=portable_spec(spec), parameters=method_parameters(method)),
        seed=options.seed,
        limit=options.limit,
        match_threshold=options.match_threshold,
    )


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def record(results: Results, result: ModelResult, out_dir: Path, order: list[str]) -> None:
    """Add one model's result (kept in the order of ``order``) and rewrite results.json."""
    results.models = [m for m in results.models if m.model.id != result.model.id] + [result]
    results.models.sort(key=lambda m: order.index(m.model.id))
    results.summary = summarize(results.models)
    results.date = now()
    save_results(out_dir / "results.json", results)


def start_results(results: Results, refs: list[ModelRef], out_dir: Path, resume: bool) -> list[ModelRef]:
    """Fill ``results`` with what ``--resume`` keeps; returns the models still to evaluate."""
    if not resume:
        return refs
    kept = reusable_results(out_dir, results, {ref.id: ref.weights_sha256 for ref in refs})
    if kept:
        results.models = [kept[ref.id] for ref in refs if ref.id in kept]
        results.summary = summarize(results.models)
        save_results(out_dir / "results.json", results)
        print(f"resuming: {len(kept)} of {len(refs)} models kept from {out_dir / 'results.json'}")
    return [ref for ref in refs if ref.id not in kept]


# ----- step 4: what a person reads -------------------------------------------------------------


def summary_table(results: Results) -> str:
    rows = []
    for m in results.models:
        accs = [f"{m.metrics[b].match_acc:.3f}" if b in m.metrics else "-" for b in BINS]
        model_accs = [f"{m.metrics[b].model_acc:.3f}" if b in m.metrics else "-" for b in BINS]
        rows.append(
            [m.model.id, m.task.name, *accs, "/".join(model_accs), m.size.n_ops if m.size else "-",
             m.size.depth if m.size else "-", "yes" if m.success else ("ERROR" if m.status == "error" else "no")]
        )
    headers = ["model", "task", "match 0-50", "match 51-100", "match 101-150", "model acc (bins)", "n_ops", "depth", "success"]
    s = results.summary
    footer = (
        f"\n{results.method.name}: success {s.n_success}/{s.n_models} ({s.success_rate:.0%}), "
        f"mean match_acc " + " / ".join(f"{s.mean_match_acc[b]:.3f}" for b in BINS)
        + (f", median n_ops over successes {s.median_n_ops:g}" if s.median_n_ops is not None else "")
    )
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + footer


def errors_report(results: Results, out_dir: Path | None = None, verbose: bool = False) -> str:
    """One line per failed model (and where its traceback is kept); with ``verbose``, the tracebacks."""
    lines = []
    for m in results.models:
        if m.status != "error":
            continue
        trace = out_dir / error_filename(m.model.id) if out_dir is not None else None
        kept = trace is not None and trace.is_file()
        lines.append(f"  {m.model.id}: {m.error}" + (f" (traceback: {trace})" if kept and not verbose else ""))
        if kept and verbose:
            lines.append("    " + trace.read_text(errors="replace").rstrip().replace("\n", "\n    "))
    return "\n".join(lines)


def plot_match_by_length(results: Results, path: Path) -> None:
    """One panel per task: match_acc against length bin, a line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_task: dict[str, list[ModelResult]] = {}
    for m in results.models:
        by_task.setdefault(m.task.name, []).append(m)
    n = len(by_task)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows + 0.4), squeeze=False, sharey=True,
                             layout="constrained")  # leaves room for the main title above the panel titles
    labels = ["0-50", "51-100", "101-150"]
    for ax, (task_name, models) in zip(axes.flat, sorted(by_task.items())):
        for m in models:
            values = [m.metrics[b].match_acc if b in m.metrics else 0.0 for b in BINS]
            ax.plot(labels, values, marker="o", label=m.model.id)
        ax.set_title(task_name, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(results.match_threshold, color="grey", lw=0.6, ls="--")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{results.method.name}: match_acc against input length", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


# ----- the command ---------------------------------------------------------------------------


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
        refs = select_models(args.models, args.tasks, args.task)
        if args.shard:
            k, n = args.shard
            manifest = sharding.write_manifest(out_dir, k, n, [ref.id for ref in refs], options.time_limit)
            by_id = {}
            for ref in refs:
                by_id.setdefault(ref.id, ref)
            refs = [by_id[model_id] for model_id in manifest.models]  # each model once, in selection order
        else:
            (out_dir / sharding.MANIFEST).unlink(missing_ok=True)  # left by an earlier --shard run
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
    if not results.models:  # an empty shard (more shards than models): results.json all the same
        results.summary = summarize(results.models)
        save_results(out_dir / "results.json", results)
        print(f"no models in this shard; results: {out_dir / 'results.json'}")
        return 0
    plot_match_by_length(results, out_dir / "match_acc_by_length.png")
    print(summary_table(results))
    if any(m.status == "error" for m in results.models):
        print("extraction failures:\n" + errors_report(results, out_dir, args.verbose))
    print(f"results: {out_dir / 'results.json'}")
    if all(m.status == "error" for m in results.models):
        print(f"error: no extraction succeeded ({len(results.models)} failed)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
