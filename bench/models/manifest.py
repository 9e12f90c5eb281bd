"""The reference-model zoo's manifest and bundled Hub repos: adding a trained run, the table, pushing.

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

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from bench.data.task import TEST_SPLITS, get_task
from bench.errors import BenchError
from bench.models.hub import MANIFEST_NAME, REPO_FILES, load_manifest, manifest_entry, sha256_file, zoo_dir
from bench.models.model import CONFIG_NAME, WEIGHTS_NAME

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
    from bench.models.train import Recipe, n_params

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
    from bench.models.modelcard import render_card
    from bench.models.train import TrainError, load_run, test_accuracies

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
        from bench.data.splits import load_splits, split_fingerprint
    except ImportError:
        return None
    splits = load_splits(task)
    return {split: split_fingerprint(splits[split]) for split in TEST_SPLITS}


# ----- tables ---------------------------------------------------------------------------


def is_control(accuracy: dict) -> bool:
    """The control criterion: learned in distribution, lost at the longest lengths (at least 0.99 on
    test_0_50, at most 0.5 on test_101_150)."""
    return accuracy["test_0_50"] >= 0.99 and accuracy["test_101_150"] <= 0.5


def zoo_rows(zoo: Path | None = None) -> list[list]:
    """One row per zoo model, sorted by model id."""
    rows = []
    for model_id, e in sorted(load_manifest(zoo)["models"].items()):
        a = e["arch"]
        recipe = "published" if e["recipe"].get("published") else "first version"
        rows.append(
            [model_id, e["task"], e["role"], f"{a['n_layer']}L {a['n_head']}H d{a['n_embd']}", recipe, e["steps"]]
            + [f"{e['accuracy'][s]:.3f}" for s in TEST_SPLITS]
        )
    return rows


ZOO_HEADERS = ["model id", "task", "role", "architecture", "recipe", "steps", "0-50", "51-100", "101-150"]


def zoo_table(fmt: str = "simple", zoo: Path | None = None) -> str:
    from tabulate import tabulate

    return tabulate(zoo_rows(zoo), headers=ZOO_HEADERS, tablefmt=fmt, disable_numparse=True)


# ----- push -------------------------------------------------------------------------


def push(ids: list[str], *, dry_run: Path | None = None, zoo: Path | None = None, log=print) -> dict:
    """Upload the bundled repos (or, with ``dry_run``, write exactly what would be uploaded).

    Returns ``{id: revision}``; after a real upload the manifest records each commit id.
    """
    from bench.models.modelcard import render_card

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
