"""The reference-model zoo: manifest, bundled Hub repos, and its command line.

    python -m bench.zoo list                     # models and their accuracy per test bin
    python -m bench.zoo show sort                # one manifest entry
    python -m bench.zoo eval sort | --all        # re-measure on the frozen splits, compare
    python -m bench.zoo train sort --arch 2x1x64 --steps 5000 --seed 0 [--no-offsets] [--out DIR]
    python -m bench.zoo search sort              # the architecture search of the published models
    python -m bench.zoo add RUN_DIR [--id ID] [--role main|control]
    python -m bench.zoo push --dry-run DIR       # write exactly what would be uploaded
    python -m bench.zoo table --markdown         # the README's zoo table
    python -m bench.zoo cards                    # regenerate the model cards from the manifest

The zoo folder holds one Hub repo per model (``zoo/<id>/``: ``config.json``,
``model.safetensors``, ``README.md``) and ``zoo/manifest.json``. Model ids are
the task name for the main model and ``<task>-noofs`` for a control trained
without position offsets. Hub repos are ``rasp-bench/<id>``.

Revisions: a Hub commit id exists only once a repo is pushed. Until then an
entry records ``"revision": "main"`` with ``"revision_pinned": false``;
``push`` (without ``--dry-run``) uploads each repo and writes the commit id the
Hub returns into the manifest (``revision_pinned: true``); commit the manifest
afterwards. Loading always passes ``revision`` to ``huggingface_hub``, and the
sha256 in the manifest is checked whichever revision is fetched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from bench.errors import BenchError
from bench.cli_args import positive_int, show_notices_plainly
from bench.hub import MANIFEST_NAME, REPO_FILES, load_manifest, load_reference, manifest_entry, sha256_file, zoo_dir
from bench.model import CONFIG_NAME, WEIGHTS_NAME, ModelError
from bench.task import TEST_SPLITS, TaskError, get_task

HUB_ORG = "rasp-bench"
SCHEMA_VERSION = 1


class ZooError(BenchError):
    """A bad zoo command or run folder; the message is one line."""


# ----- manifest and bundle ------------------------------------------------------------


def save_manifest(manifest: dict, zoo: Path | None = None) -> None:
    """Write the manifest atomically, models in the order of the task list then role."""
    zoo = zoo or zoo_dir()
    zoo.mkdir(parents=True, exist_ok=True)
    path = zoo / MANIFEST_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)


def control_id(task: str) -> str:
    return f"{task}-noofs"


RECIPE_RECORDED = ("lr", "max_steps", "batch_size", "dropout", "weight_decay", "offsets", "eval_every", "eval_size",
                   "max_grad_norm", "beta1", "beta2", "eps", "length_buckets", "compile")


def build_entry(model_id: str, role: str, run_state: dict, model, accuracies: dict, weights_sha256: str, *,
                fingerprints=None, search=None, control_reason: str | None = None) -> dict:
    """A manifest entry for a trained run (see the module docstring for the revision fields).
    A control's entry says why it is one (``control_reason``)."""
    from bench.train import Recipe, n_params

    recipe = Recipe(**run_state["recipe"])
    task = get_task(recipe.task)
    fields = asdict(recipe)
    entry = {
        "id": model_id,
        "hub_repo": f"{HUB_ORG}/{model_id}",
        "revision": "main",
        "revision_pinned": False,
        "task": task.name,
        "task_version": task.version,
        "kind": task.kind,
        "role": role,
        "arch": {"n_layer": recipe.n_layer, "n_head": recipe.n_head, "n_embd": recipe.n_embd},
        "n_params": n_params(recipe, task),
        "recipe": {**{k: fields[k] for k in RECIPE_RECORDED}, "published": recipe.published},
        "seed": recipe.seed,
        "steps": run_state["step"],
        "stopped_early": run_state["stopped_early"],
        "wall_time_s": round(run_state["elapsed_s"], 1),
        "sha256": weights_sha256,
        "accuracy": {split: accuracies[split] for split in TEST_SPLITS},
    }
    if control_reason:
        entry["control_reason"] = control_reason
    if fingerprints:
        entry["split_fingerprints"] = fingerprints
    if search:
        entry["search"] = search
    return entry


def add_run(run_dir, model_id: str | None = None, role: str | None = None, *, zoo: Path | None = None, search=None,
            control_reason: str | None = None, log=print) -> dict:
    """Measure a finished run on the frozen splits and put it into the zoo (files, manifest, card)."""
    from bench.modelcard import render_card
    from bench.train import TrainError, load_run, test_accuracies

    zoo = zoo or zoo_dir()
    try:
        model, state = load_run(run_dir)
    except TrainError as err:
        raise ZooError(str(err)) from None
    offsets = state["recipe"]["offsets"]
    role = role or ("main" if offsets else "control")
    task = get_task(state["recipe"]["task"])
    model_id = model_id or (task.name if role == "main" else control_id(task.name))
    accuracies = test_accuracies(model, task)
    target = zoo / model_id
    target.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copyfile(Path(run_dir) / "model" / name, target / name)
    entry = build_entry(
        model_id, role, state, model, accuracies, sha256_file(target / WEIGHTS_NAME),
        fingerprints=_fingerprints(task), search=search, control_reason=control_reason,
    )
    (target / "README.md").write_text(render_card(entry))
    manifest = load_manifest(zoo)
    manifest["schema_version"] = SCHEMA_VERSION
    manifest["models"][model_id] = entry
    save_manifest(manifest, zoo)
    log(f"added {model_id}: " + " ".join(f"{k}={v:.3f}" for k, v in accuracies.items()))
    return entry


def _fingerprints(task) -> dict | None:
    try:
        from bench.splits import load_splits, split_fingerprint
    except ImportError:
        return None
    splits = load_splits(task)
    return {split: split_fingerprint(splits[split]) for split in TEST_SPLITS}


# ----- tables ---------------------------------------------------------------------------


def zoo_rows(zoo: Path | None = None) -> list[list]:
    """One row per zoo model, sorted by model id."""
    rows = []
    for model_id, e in sorted(load_manifest(zoo)["models"].items()):
        a = e["arch"]
        rows.append(
            [model_id, e["task"], e["role"], f"{a['n_layer']}L {a['n_head']}H d{a['n_embd']}", e["steps"]]
            + [f"{e['accuracy'][s]:.3f}" for s in TEST_SPLITS]
        )
    return rows


ZOO_HEADERS = ["model id", "task", "role", "architecture", "steps", "0-50", "51-100", "101-150"]


def zoo_table(fmt: str = "simple", zoo: Path | None = None) -> str:
    from tabulate import tabulate

    return tabulate(zoo_rows(zoo), headers=ZOO_HEADERS, tablefmt=fmt, disable_numparse=True)


# ----- push -------------------------------------------------------------------------


def push(ids: list[str], *, dry_run: Path | None = None, zoo: Path | None = None, log=print) -> dict:
    """Upload the bundled repos (or, with ``dry_run``, write exactly what would be uploaded).

    Returns ``{id: revision}``; after a real upload the manifest records each commit id.
    """
    from bench.modelcard import render_card

    zoo = zoo or zoo_dir()
    manifest = load_manifest(zoo)
    revisions = {}
    for model_id in ids:
        entry = manifest_entry(model_id, zoo)
        folder = zoo / model_id
        if sha256_file(folder / WEIGHTS_NAME) != entry["sha256"]:
            raise ZooError(f"{folder / WEIGHTS_NAME} does not match the manifest's sha256; refusing to push it")
        (folder / "README.md").write_text(render_card(entry))  # always in sync with the manifest
        if dry_run is not None:
            out = Path(dry_run) / entry["hub_repo"]
            out.mkdir(parents=True, exist_ok=True)
            for name in REPO_FILES:
                shutil.copyfile(folder / name, out / name)
            log(f"would upload {', '.join(REPO_FILES)} to {entry['hub_repo']} -> {out}")
            revisions[model_id] = entry["revision"]
            continue
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(entry["hub_repo"], repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=entry["hub_repo"], folder_path=str(folder), allow_patterns=list(REPO_FILES),
            commit_message=f"rasp-bench reference model {model_id} (sha256 {entry['sha256'][:12]})",
        )
        entry["revision"], entry["revision_pinned"] = info.oid, True
        manifest["models"][model_id] = entry
        save_manifest(manifest, zoo)  # after each repo, so a failure half-way keeps what was pinned
        log(f"pushed {model_id} to {entry['hub_repo']} at {info.oid}")
        revisions[model_id] = info.oid
    if dry_run is not None:
        plan = {m: {"hub_repo": manifest["models"][m]["hub_repo"], "files": list(REPO_FILES)} for m in ids}
        (Path(dry_run) / "push_plan.json").write_text(json.dumps(plan, indent=2) + "\n")
    return revisions


# ----- commands -------------------------------------------------------------------------


def cmd_list(args) -> int:
    print(zoo_table())
    return 0


def cmd_table(args) -> int:
    print(zoo_table("github" if args.markdown else "simple"))
    return 0


def cmd_show(args) -> int:
    print(json.dumps(manifest_entry(args.id), indent=2))
    return 0


def cmd_eval(args) -> int:
    from tabulate import tabulate

    from bench.train import test_accuracies

    ids = list(load_manifest()["models"]) if args.all else [args.id]
    if not ids or ids == [None]:
        raise ZooError("give a model id or --all")
    rows, bad = [], 0
    for model_id in ids:
        ref = load_reference(model_id, prefer_bundled=args.bundled)
        measured = test_accuracies(ref.model, get_task(ref.task_name))
        for split in TEST_SPLITS:
            recorded = ref.entry["accuracy"][split]
            ok = abs(measured[split] - recorded) <= args.tol
            bad += not ok
            rows.append([model_id, split, f"{recorded:.4f}", f"{measured[split]:.4f}", "ok" if ok else "DIFFERS"])
    print(tabulate(rows, headers=["model", "bin", "manifest", "measured", ""], disable_numparse=True))
    return 1 if bad else 0


def _recipe(args):
    from bench.train import Recipe

    base = Recipe(task=args.task, max_steps=args.steps, seed=args.seed, offsets=not args.no_offsets, lr=args.lr,
                  dropout=args.dropout, eval_every=args.eval_every, length_buckets=args.length_buckets)
    return base.with_arch(args.arch) if getattr(args, "arch", None) else base


def cmd_train(args) -> int:
    from bench.train import test_accuracies, train

    get_task(args.task)
    recipe = _recipe(args)
    out = Path(args.out or f"runs/{args.task}-{recipe.arch}-s{recipe.seed}{'' if recipe.offsets else '-noofs'}")
    result = train(recipe, out, progress=not args.quiet)
    accs = test_accuracies(result.model, get_task(args.task))
    (out / "accuracy.json").write_text(json.dumps(accs, indent=2) + "\n")
    print(f"{out}: {result.steps} steps, {result.wall_time_s:.0f} s, " + " ".join(f"{k}={v:.4f}" for k, v in accs.items()))
    return 0


def cmd_search(args) -> int:
    from bench.train import DEFAULT_GRID, search

    grid, root = args.grid or DEFAULT_GRID, Path(args.out or "runs")
    if args.launcher:
        from bench.search_launch import LaunchOptions, search_launched

        options = LaunchOptions(args.launcher, args.wave, args.slurm_cpus, args.slurm_mem, args.slurm_time,
                                args.slurm_partition)
        best, entries = search_launched(_recipe(args), root, grid, options)
    else:
        best, entries = search(_recipe(args), root, grid, progress=not args.quiet)
    print(f"chosen: {best.recipe.arch} ({best.run_dir}); add it with: python -m bench.zoo add {best.run_dir}")
    return 0


def cmd_cards(args) -> int:
    from bench.modelcard import render_card

    zoo = zoo_dir()
    for model_id, entry in load_manifest(zoo)["models"].items():
        (zoo / model_id / "README.md").write_text(render_card(entry))
    return 0


def cmd_add(args) -> int:
    add_run(args.run_dir, args.id, args.role)
    return 0


def cmd_push(args) -> int:
    ids = args.ids or list(load_manifest()["models"])
    push(ids, dry_run=Path(args.dry_run) if args.dry_run else None)
    return 0


def cmd_predictions(args) -> int:
    from tabulate import tabulate

    from bench import zoo_predictions

    ids = args.ids or list(load_manifest()["models"])
    for model_id in ids:
        manifest_entry(model_id)  # an unknown id fails here, with the known ones
    if args.write:
        zoo_predictions.write(ids)
        return 0
    rows = zoo_predictions.check(ids)
    print(tabulate(rows, headers=["model", "bin", "scored positions", "differ here"]))
    return 1 if any(row[3] for row in rows) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.zoo", description="The reference-model zoo.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="models and accuracies").set_defaults(fn=cmd_list)
    p = sub.add_parser("table", help="the zoo table for the README")
    p.add_argument("--markdown", action="store_true")
    p.set_defaults(fn=cmd_table)
    p = sub.add_parser("show", help="one manifest entry")
    p.add_argument("id")
    p.set_defaults(fn=cmd_show)
    p = sub.add_parser("eval", help="re-measure accuracies on the frozen splits")
    p.add_argument("id", nargs="?")
    p.add_argument("--all", action="store_true")
    p.add_argument("--bundled", action="store_true", help="skip the Hub, use zoo/ directly")
    p.add_argument("--tol", type=float, default=0.0, help="allowed difference from the manifest")
    p.set_defaults(fn=cmd_eval)
    for name, fn in (("train", cmd_train), ("search", cmd_search)):
        p = sub.add_parser(name, help=f"{name} on a task with the published recipe")
        p.add_argument("task")
        if name == "train":
            p.add_argument("--arch", default="2x1x64", help="LAYERSxHEADSxWIDTH")
        else:
            p.add_argument("--grid", nargs="*", help="architectures LxHxD (default: the published grid)")
            p.add_argument("--launcher", choices=("local", "slurm"),
                           help="train the grid points as submitit jobs, --wave at a time (same choice as in order)")
            p.add_argument("--wave", type=positive_int, default=4, help="grid points trained at once with --launcher")
            p.add_argument("--slurm-cpus", type=positive_int, default=1, help="CPUs per job (--launcher)")
            p.add_argument("--slurm-mem", help="memory per Slurm job, e.g. 8G")
            p.add_argument("--slurm-time", type=positive_int, metavar="MINUTES", help="time limit per job")
            p.add_argument("--slurm-partition", help="Slurm partition")
        p.add_argument("--steps", type=int, default=30_000, help="step budget (linear decay spans it)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--dropout", type=float, default=0.0)
        p.add_argument("--eval-every", type=int, default=3_000,
                       help="steps between early-stop checks and checkpoints (default 3000, as published)")
        p.add_argument("--no-offsets", action="store_true", help="train a control without position offsets")
        p.add_argument("--length-buckets", type=positive_int, default=1,
                       help="micro-batches by length: the same gradient with less padding (an execution option)")
        p.add_argument("--out", help="run folder (train) or folder of run folders (search)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(fn=fn)
    p = sub.add_parser("add", help="put a trained run into zoo/ and the manifest")
    p.add_argument("run_dir")
    p.add_argument("--id")
    p.add_argument("--role", choices=["main", "control"])
    p.set_defaults(fn=cmd_add)
    p = sub.add_parser("predictions", help="store (--write) or re-check (--check) the models' predictions on the test bins")
    p.add_argument("ids", nargs="*")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="compute, store in zoo/<id>/ and record in the manifest")
    mode.add_argument("--check", action="store_true", help="recompute here and count differing positions")
    p.set_defaults(fn=cmd_predictions)
    sub.add_parser("cards", help="regenerate every model card from the manifest").set_defaults(fn=cmd_cards)
    p = sub.add_parser("push", help="prepare (--dry-run DIR) or upload the Hub repos")
    p.add_argument("ids", nargs="*")
    p.add_argument("--dry-run", metavar="DIR")
    p.set_defaults(fn=cmd_push)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    show_notices_plainly()  # a CLI user needs the message, not our source line
    try:
        return args.fn(args)
    except (ZooError, ModelError, TaskError, ValueError, OSError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
