"""Regenerate the generated blocks of README.md from the code and the manifest.

    python scripts/update_readme.py          # rewrite README.md
    python scripts/update_readme.py --check  # exit 1 if README.md is stale

A block sits between ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->``; :data:`GENERATORS` maps NAME to the function
that writes it, so every figure in the README comes from a command.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)", re.S)


def oracle_sort() -> str:
    from bench.data.oracles import get_oracle

    program = get_oracle("sort")
    size = f"# n_ops={program.n_ops} depth={program.depth} n_params={program.n_params}"
    return f"```\n{program.pretty()}\n{size}\n```\n"


def zoo_table() -> str:
    from bench.models.manifest import zoo_table as table

    return table("github") + "\n"


def zoo_summary() -> str:
    """What the zoo table says in words: which tasks have a length-generalizing main model, which
    models have the published recipe, which controls meet the control criterion."""
    from bench.data.task import task_names
    from bench.models.hub import load_manifest
    from bench.models.manifest import is_control
    from bench.models.train import PUBLISHED_NOT_GENERALIZING

    models = list(load_manifest()["models"].values())
    main = {e["task"]: e for e in models if e["role"] == "main"}
    expected = [t for t in task_names() if t not in PUBLISHED_NOT_GENERALIZING]
    good = [t for t in expected if t in main and min(main[t]["accuracy"].values()) >= 0.9]
    others = [t for t in task_names() if t in main and t not in expected and min(main[t]["accuracy"].values()) >= 0.9]
    published = [e["id"] for e in models if e["recipe"].get("published")]
    controls = [e for e in models if e["role"] == "control"]
    meeting = [e["id"] for e in controls if is_control(e["accuracy"])]
    code = lambda names: ", ".join(f"`{n}`" for n in names) or "none"  # noqa: E731
    return (
        f"Of the {len(expected)} tasks whose published model length-generalizes, {len(good)} have a main model here "
        f"with at least 0.9 on every bin ({code(good)}); of the other {len(task_names()) - len(expected)}, "
        f"{len(others)} ({code(others)}). {len(published)} of the {len(models)} models were trained with the "
        "published recipe and search (`recipe`: published); the others are the zoo's first version (step budgets "
        "of at most 3,000, no gradient clipping) and are being retrained (`scripts/train_zoo.py`). "
        f"{len(meeting)} of the {len(controls)} controls meet the control criterion (at least 0.99 on lengths 0-50, "
        f"at most 0.5 on 101-150): {code(meeting)}.\n"
    )


# Zoo models whose decompiled programs the README prints (from the shipped decompile submission).
DECOMPILED_SHOWN = ("majority", "unique_copy", "sort")


def decompiled_programs() -> str:
    from bench.show import load_program, recorded_scores

    folder = ROOT / "submissions" / "decompile"
    if not (folder / "results.json").is_file():
        return "(no decompile submission yet: `scripts/make_baseline_submissions.sh decompile`)\n"
    from bench.scoring.results import load_results

    by_id = {m.model.id: m for m in load_results(folder / "results.json").models}
    parts = []
    for model_id in DECOMPILED_SHOWN:
        m = by_id.get(model_id)
        if m is None or m.program_file is None:
            parts.append(f"{model_id}: no program ({m.error if m else 'not in the submission'})\n")
            continue
        path = folder / m.program_file
        program = load_program(path)
        size = f"# n_ops={program.n_ops} depth={program.depth} n_params={program.n_params}"
        parts.append(f"```\n{program.pretty()}\n{size}\n\n{recorded_scores(path)}\n```\n")
    return "\n".join(parts)


GENERATORS = {"oracle-sort": oracle_sort, "zoo-table": zoo_table, "zoo-summary": zoo_summary,
              "decompiled-programs": decompiled_programs}


def render(text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise SystemExit(f"README.md: unknown generated block {name!r}")
        return match.group(1) + GENERATORS[name]() + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    args = parser.parse_args(argv)
    current = README.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print("README.md is stale: run python scripts/update_readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
