"""Command line for the task suite.

    python -m bench.tasks list                      # every task, its format and split fingerprints
    python -m bench.tasks show NAME [--n 3] [--split test_0_50]
    python -m bench.tasks export NAME DIR           # Hub-ready dataset folder (parquet + card)
    python -m bench.tasks fingerprints [--write]    # check (or rewrite) tasks/split_fingerprints.json

``list`` builds any split missing from the cache (``$RASP_BENCH_CACHE``), which
takes about 30 s for the whole suite the first time. Errors are one line on
stderr with exit status 2. Only the commands that read splits import
``datasets`` (about a second).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.data.task import TEST_SPLITS, Task, TaskError, get_task, task_names

FINGERPRINT_CHARS = 12
#: The sha256 of every task's frozen test splits, pinned: a change means the data changed (bump the
#: task's version before rewriting it with ``python -m bench.tasks fingerprints --write``).
PINNED_FINGERPRINTS = Path(__file__).resolve().with_name("split_fingerprints.json")


def pinned_fingerprints(path: Path = PINNED_FINGERPRINTS) -> dict[str, dict[str, str]]:
    """Task name -> ``{"version": ..., "test_0_50": sha256, ...}`` as pinned in ``tasks/split_fingerprints.json``."""
    return json.loads(path.read_text())["tasks"]


def current_fingerprints(names: list[str] | None = None) -> dict[str, dict[str, str]]:
    """The same for the splits built now (from the cache, or built; about 30 s for the whole suite)."""
    from bench.data.splits import load_splits, split_fingerprints

    out = {}
    for name in names or task_names():
        task = get_task(name)
        out[name] = {"version": task.version, **split_fingerprints(load_splits(task))}
    return out


def check_fingerprints(write: bool = False, path: Path = PINNED_FINGERPRINTS) -> tuple[str, int]:
    """Compare the splits with the pins (or rewrite the pins); returns the report and the exit status."""
    current = current_fingerprints()
    if write:
        text = json.dumps({"schema_version": 1, "tasks": current}, indent=1, sort_keys=True) + "\n"
        path.write_text(text)
        return f"wrote the fingerprints of {len(current)} tasks to {path.name}", 0
    pinned = pinned_fingerprints(path) if path.is_file() else {}
    problems = [f"{name}: not pinned" for name in current if name not in pinned]
    problems += [f"{name}: pinned, but no such task" for name in pinned if name not in current]
    problems += [f"{name}: {key} is {value[:FINGERPRINT_CHARS]}, pinned {pinned[name].get(key, '-')[:FINGERPRINT_CHARS]}"
                 for name, prints in current.items() if name in pinned
                 for key, value in prints.items() if pinned[name].get(key) != value]
    if problems:
        return ("the frozen splits differ from tasks/split_fingerprints.json (bump the task's version when its data "
                "changes, then rewrite the pins with --write):\n  " + "\n  ".join(problems)), 1
    return f"all {len(current)} tasks match their pinned split fingerprints", 0


def list_tasks(fingerprints: bool = True) -> str:
    """The table of every task, with each split's fingerprint (shortened): the pinned one
    (``tasks/split_fingerprints.json``, which ``fingerprints`` and the tests check against the splits)
    where the task's version is pinned, so listing reads no split; else computed from the splits."""
    from tabulate import tabulate

    pinned = pinned_fingerprints() if fingerprints and PINNED_FINGERPRINTS.is_file() else {}
    rows = []
    for name in task_names():
        task = get_task(name)
        row = [name, task.kind, task.vocab_size, task.min_length, task.length_rule, task.n_positions, task.version]
        if fingerprints:
            prints = pinned.get(name, {})
            if prints.get("version") != task.version:
                from bench.data.splits import load_splits, split_fingerprints

                prints = split_fingerprints(load_splits(task))
            row += [prints[s][:FINGERPRINT_CHARS] for s in TEST_SPLITS]
        rows.append(row)
    headers = ["name", "kind", "vocab", "min L", "length rule", "n_positions", "version"]
    if fingerprints:
        headers += list(TEST_SPLITS)
    return tabulate(rows, headers=headers, disable_numparse=True)


def _vocabulary(task: Task) -> str:
    tokens = task.vocab.tokens
    return " ".join(tokens) if len(tokens) <= 34 else f"{tokens[0]} .. {' '.join(tokens[-5:])}"


def _allowed(task: Task, bits) -> str:
    return "{" + ",".join(tok for tok, bit in zip(task.vocab.tokens, bits) if bit) + "}"


def show_task(name: str, n: int = 3, split: str = "test_0_50") -> str:
    """A description of the task and ``n`` decoded examples of a split with their targets."""
    task = get_task(name)
    if split not in TEST_SPLITS:
        raise TaskError(f"unknown split {split!r}; the splits are {', '.join(TEST_SPLITS)}")
    if n < 0:
        raise TaskError(f"--n must be at least 0, got {n}")
    from bench.data.splits import load_splits, split_fingerprint

    dataset = load_splits(task)[split]
    lines = [
        f"{task.name} (version {task.version}, {task.kind}): {task.description}",
        f"layout: {task.layout}   L: {task.length_measure}, {task.length_rule}",
        f"vocabulary ({task.vocab_size}): {_vocabulary(task)}",
        f"n_positions: {task.n_positions}   {split}: {dataset.num_rows} sequences, fingerprint {split_fingerprint(dataset)}",
    ]
    for i, row in enumerate(dataset.select(range(min(n, dataset.num_rows)))):
        ids = row["input_ids"]
        lines.append(f"\n[{i}] L={row['length']}  {task.describe(ids)}")
        if task.kind == "token":
            lines.append(f"    targets: {' '.join(task.vocab.decode(row['targets']))}")
        else:
            steps = [f"{tok} -> {_allowed(task, bits)}" for tok, bits in zip(task.vocab.decode(ids), row["targets"])]
            lines.append("    allowed next: " + "  ".join(steps))
    return "\n".join(lines)


def export_task(name: str, folder: str) -> str:
    from bench.data.splits import export_splits

    return f"wrote {export_splits(get_task(name), folder)}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.tasks", description="The rasp-bench task suite.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every task with its format and split fingerprints")
    listing.add_argument("--no-fingerprints", action="store_true", help="skip the splits (no build needed)")
    show = commands.add_parser("show", help="decoded examples of one task with their targets")
    show.add_argument("name")
    show.add_argument("--n", type=int, default=3, help="number of examples (default 3)")
    show.add_argument("--split", default="test_0_50", help="test_0_50, test_51_100 or test_101_150")
    export = commands.add_parser("export", help="write a Hub-ready dataset folder of one task's splits")
    export.add_argument("name")
    export.add_argument("dir")
    pins = commands.add_parser("fingerprints", help="check the splits against tasks/split_fingerprints.json")
    pins.add_argument("--write", action="store_true", help="rewrite the file from the splits built now")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            print(list_tasks(fingerprints=not args.no_fingerprints))
        elif args.command == "show":
            print(show_task(args.name, n=args.n, split=args.split))
        elif args.command == "fingerprints":
            report, status = check_fingerprints(write=args.write)
            print(report)
            return status
        else:
            print(export_task(args.name, args.dir))
    except (TaskError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
