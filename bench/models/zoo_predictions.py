"""The zoo's stored predictions: write them, and check them against this machine's forward pass.

    python -m bench.zoo predictions --write [IDS]   # compute, store in zoo/<id>/, record sha256 in the manifest
    python -m bench.zoo predictions --check [IDS]   # recompute here; count positions that differ from the stored ones

A difference found by ``--check`` is not an error of the stored file: the
model's forward pass can take other kernels on another CPU, and logits that
nearly tie can then flip. That is why scores use the stored predictions.
"""

from __future__ import annotations

from bench.data.splits import load_splits
from bench.data.task import get_task
from bench.models import predictions
from bench.models.hub import load_manifest, load_reference, zoo_dir


def write(ids: list[str], log=print) -> None:
    """Compute and store the predictions of ``ids``, updating the manifest and model cards after each."""
    from bench.models.manifest import save_manifest
    from bench.models.modelcard import render_card

    zoo = zoo_dir()
    manifest = load_manifest(zoo)
    for model_id in ids:
        ref = load_reference(model_id, prefer_bundled=True)
        task = get_task(ref.task_name)
        splits = load_splits(task)
        stored = predictions.compute(ref.model, task, splits, ref.sha256)
        golds = {b: predictions.gold(task, splits[b]) for b in predictions.BINS}
        path = predictions.bundled_path(model_id, zoo)
        entry = manifest["models"][model_id]
        entry["predictions_sha256"] = predictions.save(stored, golds, path)
        save_manifest(manifest, zoo)
        (zoo / model_id / "README.md").write_text(render_card(entry))
        log(f"{model_id}: {path.stat().st_size:,} bytes, sha256 {entry['predictions_sha256'][:12]}...")


def check(ids: list[str]) -> list[list]:
    """Per model and bin: scored positions, and how many differ between the stored and a fresh forward pass."""
    rows = []
    manifest = load_manifest()
    for model_id in ids:
        entry = manifest["models"][model_id]
        ref = load_reference(model_id, prefer_bundled=True)
        task = get_task(ref.task_name)
        splits = load_splits(task)
        golds = {b: predictions.gold(task, splits[b]) for b in predictions.BINS}
        stored = predictions.load_bundled(model_id, entry, task, splits, golds)
        fresh = predictions.compute(ref.model, task, splits, ref.sha256)
        differ = predictions.count_differences(stored, fresh)
        for name in predictions.BINS:
            rows.append([model_id, name, len(stored.bins[name].values), differ[name]])
    return rows
