"""A small submission folder written the way ``bench.evaluate`` and ``bench.leaderboard init`` write one.

Shared by the leaderboard tests: each builds its programs and figures (made up, or computed), and
this writes ``programs/``, ``results.json`` and ``submission.json`` around them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import bench
from bench.scoring.results import BINS, Cost, MethodInfo, ModelInfo, ModelResult, Results, Size, TaskInfo, save_results
from bench.scoring.run import program_filename
from bench.scoring.score import is_success, summarize

MANIFEST = {
    "method": "toy", "authors": ["Test Author"], "contact": "test@example.org",
    "description": "A small test submission.", "date": "2025-01-02",
    "lengths_seen": [0, 50], "paper": None, "code": "https://example.org/toy",
}


def write_submission(folder: Path, harness, scored: dict, limit: int, method: str = "toy") -> Path:
    """``scored``: zoo model id -> (program, per-bin metrics); returns ``folder``."""
    models = []
    for model_id, (program, metrics) in scored.items():
        ref = harness.zoo[model_id]
        task = harness.task(ref.task)
        name = program_filename(model_id)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(program.dumps())
        models.append(ModelResult(
            ModelInfo(model_id, "zoo", ref.hub_repo, ref.revision, ref.weights_sha256, ref.role),
            TaskInfo(task.name, task.version, task.kind, {b: harness.fingerprints(task)[b] for b in BINS}),
            "ok", None, name, hashlib.sha256((folder / name).read_bytes()).hexdigest(), metrics,
            Size(program.n_ops, program.depth, program.n_params), Cost(0.1, 1.0), is_success(metrics, 0.9)))
    save_results(folder / "results.json", Results(1, bench.__version__, None, "2025-01-01T00:00:00+00:00",
                                                  MethodInfo(method, method, {}), 0, limit, 0.9, models,
                                                  summarize(models)))
    manifest = {**MANIFEST, "method": method, "bench_version": bench.__version__}
    (folder / "submission.json").write_text(json.dumps(manifest, indent=1))
    return folder
