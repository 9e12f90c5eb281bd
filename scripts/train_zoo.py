"""Train the reference zoo (version 2) with the published recipe, resumably, on one core.

    nohup python scripts/train_zoo.py train --runs ../zoo_runs > ../zoo_runs/zoo.log 2>&1 &
    python scripts/train_zoo.py status --runs ../zoo_runs     # what each task's search has done
    python scripts/train_zoo.py land sort d3 --runs ../zoo_runs  # put finished searches into zoo/

``train`` runs, task after task in :data:`ORDER` (cheapest architectures
first), the published architecture search (``bench.models.train.search``: the
published recipe and grid order, stopping at the first run perfect on
``test_101_150`` that also reaches ``bench.models.train.IN_DISTRIBUTION_BAR`` on
``test_0_50``) from the configuration the published search chose for the task
(``bench.models.train.PUBLISHED_BEST``); where that is 256 wide, a smaller one (the
same at width 64, :func:`start_point`) is tried first. ``--runs-per-task`` bounds how
many grid points one pass trains per task, so every task gets its first run
before any task gets its second; later passes (``--passes``) go on where the
search stopped. Every run folder resumes (checkpoints every 3,000 steps), and
a finished run is never trained again, so the script can be killed and
restarted at any time. The execution option ``--length-buckets`` (default 4:
micro-batches by length, the same loss and gradient; see ``bench.models.train``) is
recorded in each recipe.

An entry ``<task>-noofs`` of :data:`ORDER` trains the task's control: the
architecture its search has chosen so far, with the published recipe but
without position offsets (positions 0..T-1 only, so positions past 50 are
never trained). It is a control when it meets :func:`bench.models.manifest.is_control`.

``land`` adds each named task's best run so far (the search's choice:
``bench.models.train.search_choice``) to ``zoo/`` as the task's main model,
with the search record in its manifest entry; ``land TASK-noofs`` adds the
task's control: the no-offsets run when it meets :func:`bench.models.manifest.is_control`, else the
first run of the search that does (another architecture or learning rate), as
``TASK-control``. An entry ``<task>-control`` of :data:`ORDER` trains, where no run so far is a
control, more grid points after the search's choice until one is (:func:`train_other_control`).
The shipped submissions must then be regenerated
(``scripts/make_baseline_submissions.sh``) in the same change.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from bench.data.task import get_task
from bench.models.manifest import add_run, control_id, is_control
from bench.models.train import (PUBLISHED_BEST, PUBLISHED_GRID, GridPoint, Recipe, TrainError, ends_search, grid_from,
                                measure_run, run_name, search_choice, train)
from bench.scoring.results import write_text_atomic

OTHER = "-control"  # the suffix of a control from another configuration of the search

#: Tasks in training order: the published architectures by cost per step, cheapest first;
#: the six tasks whose published models did not length-generalize come last.
CHEAP = (
    "d2", "d3", "tomita4", "aastar", "bin_majority_interleave", "tomita1", "tomita2", "tomita7", "abcde", "ab_d_bc",
    "bin_majority", "ababstar", "012_0_2", "aaaastar", "unique_copy", "unique_reverse",
)
ORDER = (
    *CHEAP, *(f"{task}-noofs" for task in CHEAP), *(f"{task}{OTHER}" for task in CHEAP),
    "d4", "majority", "count", "sort", "unique_bigram_copy", "d12",
    "tomita5", "tomita6", "addition", "tomita3", "parity", "repeat_copy",
)
CONTROL = control_id("")  # the suffix of a no-offsets control's id
SEARCH_NAME = "search.json"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def base_recipe(task: str, args) -> Recipe:
    return Recipe(task=task, seed=args.seed, length_buckets=args.length_buckets)


def start_point(task: str) -> GridPoint:
    """Where the task's search starts: its published configuration, or, where that is 256
    wide, the same one at width 64 (a smaller model, four to eight times cheaper per step on
    a CPU, earlier in the published order; the search reaches the published one from there
    if the smaller ones fall short)."""
    published = PUBLISHED_BEST[task]
    layers, heads, width = published.arch.split("x")
    return published if width != "256" else GridPoint(f"{layers}x{heads}x64", published.lr, published.dropout)


def search_points(task: str) -> list:
    """The published grid from the task's published configuration on, after the smaller starting point
    where there is one (:func:`start_point`): the search reaches the published configuration second."""
    start, published = start_point(task), PUBLISHED_BEST[task]
    return ([start] if start != published else []) + grid_from(PUBLISHED_GRID, published)


def load_search(runs: Path, task: str) -> dict:
    path = runs / task / SEARCH_NAME
    return json.loads(path.read_text()) if path.is_file() else {"task": task, "entries": [], "finished": False}


def save_search(runs: Path, record: dict) -> None:
    write_text_atomic(runs / record["task"] / SEARCH_NAME, json.dumps(record, indent=1) + "\n")


def run_point(point, base: Recipe, runs: Path, model_id: str) -> dict:
    """Train one grid point (or resume it) and measure it: its search-record entry."""
    recipe = point.recipe(base)
    run_dir = runs / model_id / run_name(recipe)
    task = get_task(recipe.task)
    cpu = time.process_time()
    result = train(recipe, run_dir, task=task, progress=False)
    accs = measure_run(result.model, task, run_dir)
    log(f"{model_id} {point.label}: {result.steps} steps, {result.wall_time_s:.0f} s, "
        + " ".join(f"{k}={v:.3f}" for k, v in accs.items()))
    return {
        "label": point.label, "run_dir": run_dir.name, "arch": recipe.arch, "lr": recipe.lr, "dropout": recipe.dropout,
        "steps": result.steps, "stopped_early": result.stopped_early, "wall_time_s": round(result.wall_time_s, 1),
        "cpu_s": round(time.process_time() - cpu, 1), "accuracy": accs,
    }


def train_task(task_name: str, runs: Path, args) -> None:
    """Up to ``args.runs_per_task`` more grid points of one task's search."""
    record = load_search(runs, task_name)
    points = search_points(task_name)
    done = {e["label"] for e in record["entries"]}
    record["finished"] = search_finished(record["entries"], points)  # the rule may be newer than the record
    for point in [p for p in points if p.label not in done][: args.runs_per_task]:
        if record["finished"]:
            break
        record["entries"].append(run_point(point, base_recipe(task_name, args), runs, task_name))
        record["finished"] = search_finished(record["entries"], points)
        save_search(runs, record)


def search_finished(entries: list, points: list) -> bool:
    """A search ends at a run that :func:`bench.models.train.ends_search`, or when every point is trained."""
    return any(ends_search(e["accuracy"]) for e in entries) or {p.label for p in points} <= {e["label"] for e in entries}


def train_control(task_name: str, runs: Path, args) -> None:
    """The no-offsets run of the architecture the task's search has chosen so far."""
    model_id = control_id(task_name)
    main = load_search(runs, task_name)
    record = load_search(runs, model_id)
    if not main["entries"] or record["entries"]:
        return
    point = GridPoint.parse(best_entry(main)["label"])
    record["entries"].append(run_point(point, replace(base_recipe(task_name, args), offsets=False), runs, model_id))
    record["finished"] = True
    save_search(runs, record)


def task_of(model_id: str) -> str:
    """The task of a run folder's id: TASK, TASK-noofs or TASK-control."""
    return model_id.removesuffix(CONTROL).removesuffix(OTHER)


def control_candidates(runs: Path, task_name: str) -> list[tuple[str, dict]]:
    """(folder, entry) of every run of the task that meets the control criterion, in the order ``land``
    prefers them: the no-offsets run, the search's runs (but its choice, the main model), the extra runs
    of ``TASK-control``."""
    main = load_search(runs, task_name)
    chosen = best_entry(main)["label"] if main["entries"] else None
    return [(folder, e) for folder in (control_id(task_name), task_name, task_name + OTHER)
            for e in load_search(runs, folder)["entries"]
            if is_control(e["accuracy"]) and not (folder == task_name and e["label"] == chosen)]


def searched(entries: list) -> list:
    """Search-record entries as the manifest keeps them (without the run folder's label and name)."""
    return [{k: v for k, v in e.items() if k not in ("label", "run_dir")} for e in entries]


def train_other_control(task_name: str, runs: Path, args) -> None:
    """Where neither the no-offsets run nor the search's runs are a control: up to
    ``args.runs_per_task`` more grid points after the search's choice, in the published order,
    until one meets the control criterion (another architecture, learning rate or dropout)."""
    main = load_search(runs, task_name)
    if not main["entries"] or control_candidates(runs, task_name):
        return
    model_id = task_name + OTHER
    record = load_search(runs, model_id)
    done = {e["label"] for e in main["entries"] + record["entries"]}
    chosen = GridPoint.parse(best_entry(main)["label"])
    for point in [p for p in grid_from(PUBLISHED_GRID, chosen) if p.label not in done][: args.runs_per_task]:
        record["entries"].append(run_point(point, base_recipe(task_name, args), runs, model_id))
        record["finished"] = is_control(record["entries"][-1]["accuracy"])
        save_search(runs, record)
        if record["finished"]:
            return


def best_entry(record: dict) -> dict:
    """The search's choice (``bench.models.train.search_choice``, as ``bench.models.train.search``)."""
    return record["entries"][search_choice([e["accuracy"] for e in record["entries"]])]


def cmd_train(args) -> None:
    runs = Path(args.runs)
    ids = args.only or ORDER
    for model_id in ids:
        get_task(task_of(model_id))
    for n in range(args.passes):
        for model_id in ids:
            if model_id.endswith(CONTROL):
                train_control(model_id.removesuffix(CONTROL), runs, args)
            elif model_id.endswith(OTHER):
                train_other_control(model_id.removesuffix(OTHER), runs, args)
            else:
                train_task(model_id, runs, args)
        log(f"pass {n + 1} done")


def cmd_status(args) -> None:
    from tabulate import tabulate

    rows = []
    for task in args.only or ORDER:
        record = load_search(Path(args.runs), task)
        for e in record["entries"]:
            acc = e["accuracy"]
            rows.append([task, e["label"], e["steps"], f"{e['wall_time_s'] / 60:.1f}",
                         *(f"{acc[s]:.3f}" for s in ("test_0_50", "test_51_100", "test_101_150")),
                         "finished" if record["finished"] and e is record["entries"][-1] else ""])
    print(tabulate(rows, headers=["task", "grid point", "steps", "min", "0-50", "51-100", "101-150", ""], disable_numparse=True))


def cmd_land(args) -> None:
    runs = Path(args.runs)
    for model_id in args.ids:
        task = task_of(model_id)
        record = load_search(runs, task)
        if not record["entries"]:
            raise SystemExit(f"{task}: nothing trained in {runs / task}")
        search = searched(record["entries"])
        if model_id == task:
            add_run(runs / task / best_entry(record)["run_dir"], task, "main", search=search, log=log)
            continue
        candidates = control_candidates(runs, task)
        if not candidates:
            raise SystemExit(f"{model_id}: no run of {task} meets the control criterion ({is_control.__doc__})")
        folder, entry = candidates[0]
        if folder == control_id(task):
            reason = "trained without position offsets, it learned lengths 0-50 but not the longer ones"
            add_run(runs / folder / entry["run_dir"], folder, "control", log=log, control_reason=reason)
            continue
        search += searched(load_search(runs, task + OTHER)["entries"])
        reason = f"another configuration of the published search ({entry['label']}): it learned lengths 0-50 but not the longer ones"
        add_run(runs / folder / entry["run_dir"], task + OTHER, "control", search=search, log=log, control_reason=reason)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in (("train", cmd_train), ("status", cmd_status), ("land", cmd_land)):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--runs", default="zoo_runs", help="folder of run folders (keep it outside the repository)")
        if name == "land":
            p.add_argument("ids", nargs="+", help="TASK (main model), or TASK-noofs / TASK-control (its control)")
        else:
            p.add_argument("--only", nargs="*", help="TASK, TASK-noofs or TASK-control (default: all of ORDER, in order)")
        if name == "train":
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--runs-per-task", type=int, default=1, help="grid points per task and pass")
            p.add_argument("--passes", type=int, default=3)
            p.add_argument("--length-buckets", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        args.fn(args)
    except TrainError as err:
        raise SystemExit(str(err)) from None


if __name__ == "__main__":
    main()
