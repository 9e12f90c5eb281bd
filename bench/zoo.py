"""The reference-model zoo's command line.

    python -m bench.zoo list                     # models and their accuracy per test bin
    python -m bench.zoo show sort                # one manifest entry
    python -m bench.zoo eval sort | --all        # re-measure on the frozen splits, compare
    python -m bench.zoo train sort --arch 2x1x64 --steps 5000 --seed 0 [--no-offsets] [--out DIR]
    python -m bench.zoo search sort              # the architecture search of the published models
    python -m bench.zoo add RUN_DIR [--id ID] [--role main|control]
    python -m bench.zoo push --dry-run DIR       # write exactly what would be uploaded
    python -m bench.zoo table --markdown         # the README's zoo table
    python -m bench.zoo cards                    # regenerate the model cards from the manifest

What the zoo folder holds and how revisions are pinned: :mod:`bench.models.manifest`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cli_args import positive_int, show_notices_plainly
from bench.data.task import TEST_SPLITS, TaskError, get_task
from bench.models.hub import load_manifest, load_reference, manifest_entry, zoo_dir
from bench.models.manifest import ZooError, add_run, push, zoo_table
from bench.models.model import ModelError


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

    from bench.models.train import test_accuracies

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
    from bench.models.train import Recipe

    base = Recipe(task=args.task, max_steps=args.steps, seed=args.seed, offsets=not args.no_offsets, lr=args.lr,
                  dropout=args.dropout, eval_every=args.eval_every, length_buckets=args.length_buckets)
    return base.with_arch(args.arch) if getattr(args, "arch", None) else base


def cmd_train(args) -> int:
    from bench.models.train import test_accuracies, train

    get_task(args.task)
    recipe = _recipe(args)
    out = Path(args.out or f"runs/{args.task}-{recipe.arch}-s{recipe.seed}{'' if recipe.offsets else '-noofs'}")
    result = train(recipe, out, progress=not args.quiet)
    accs = test_accuracies(result.model, get_task(args.task))
    (out / "accuracy.json").write_text(json.dumps(accs, indent=2) + "\n")
    print(f"{out}: {result.steps} steps, {result.wall_time_s:.0f} s, " + " ".join(f"{k}={v:.4f}" for k, v in accs.items()))
    return 0


def cmd_search(args) -> int:
    from bench.models.train import DEFAULT_GRID, search

    grid, root = args.grid or DEFAULT_GRID, Path(args.out or "runs")
    if args.launcher:
        from bench.models.search_launch import LaunchOptions, search_launched

        options = LaunchOptions(args.launcher, args.wave, args.slurm_cpus, args.slurm_mem, args.slurm_time,
                                args.slurm_partition)
        best, entries = search_launched(_recipe(args), root, grid, options)
    else:
        best, entries = search(_recipe(args), root, grid, progress=not args.quiet)
    print(f"chosen: {best.recipe.arch} ({best.run_dir}); add it with: python -m bench.zoo add {best.run_dir}")
    return 0


def cmd_cards(args) -> int:
    from bench.models.modelcard import render_card

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

    from bench.models import zoo_predictions

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
