"""One ``python -m bench.evaluate`` run, as its steps: what to evaluate, one model, the run.

1. :func:`select_models`: the models to score (zoo ids, Hub repo ids or local folders).
2. One model: :func:`prepare` loads it with its task and frozen splits,
   the extraction runs in a child process (:mod:`bench.scoring.extract`) and
   :func:`score_extraction` scores the program it returns (:mod:`bench.scoring.score`);
   :func:`evaluate_models` yields one :class:`~bench.scoring.results.ModelResult` per
   model as it is ready, ``--jobs`` extractions at a time, in the order of the models.
3. The run: :func:`new_results` and :func:`start_results` (with ``--resume``, the
   entries of an earlier run that this one would reproduce), then :func:`record`
   rewrites ``results.json`` atomically after each model.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

import bench
from bench.data.splits import load_splits, split_fingerprint
from bench.data.task import Task, TaskError, get_task
from bench.errors import UsageError
from bench.models import predictions as model_predictions
from bench.models.model_ref import ModelRef, checkpoint_ref, zoo_refs
from bench.program.cost import CostError
from bench.scoring.diagnose import diagnose
from bench.scoring.extract import Extraction, can_isolate, run_extraction, start_extraction, wait_for_any
from bench.scoring.methods import TaskView, method_parameters
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
from bench.scoring.resume import reusable_results
from bench.scoring.score import check_program_fits, is_success, summarize


@dataclass
class Options:
    """The settings of one run that every model's extraction and scoring share."""

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
        details=extraction.details,
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
