"""Leaderboard tables and ranking, on small synthetic submissions (no zoo needed).

The builders here (:func:`synthetic_entry`, :func:`synthetic_entries`) are
also used by the build and browser tests.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.leaderboard.submission import Submission
from bench.leaderboard.tables import Entry, overall_table, per_model_table, per_task_table, ranked
from bench.scoring.results import (
    BINS,
    BinMetrics,
    Cost,
    MethodInfo,
    ModelInfo,
    ModelResult,
    Results,
    Size,
    TaskInfo,
)
from bench.scoring.score import is_success, summarize

N = 200  # sequences per bin in the synthetic results


def model_result(model_id: str, task: str, matches, n_ops: int | None = 5) -> ModelResult:
    """One model's record; ``matches=None`` is a failed extraction."""
    info = ModelInfo(model_id, "zoo", f"rasp-bench/{model_id}", "rev0", "0" * 64, "main")
    task_info = TaskInfo(task, "1", "token", {b: "f" * 64 for b in BINS})
    if matches is None:
        return ModelResult(info, task_info, "error", "boom", None, None, {}, None, Cost(1.0, 10.0), False)
    metrics = {
        b: BinMetrics(N, round(m * N) / N, min(1.0, m + 0.05), 0.5, 0.9) for b, m in zip(BINS, matches)
    }
    return ModelResult(
        info, task_info, "ok", None, f"programs/{model_id}.json", "a" * 64, metrics,
        Size(n_ops=n_ops, depth=2, n_params=10 * n_ops), Cost(1.0, 10.0), is_success(metrics, 0.9),
    )


def synthetic_entry(method: str, models: list[ModelResult], **submission) -> Entry:
    results = Results(
        schema_version=1, bench_version="0.1.0", git_commit=None, date="2025-01-01T00:00:00+00:00",
        method=MethodInfo(method, method, {}), seed=0, limit=None, match_threshold=0.9, models=models,
        summary=summarize(models),
    )
    fields = dict(
        method=method, authors=["A. Author", "B. <Author>"], contact="a@example.org",
        description=f"The {method} method & friends <b>not bold</b>.", date="2025-01-02",
        bench_version="0.1.0", lengths_seen=[0, 50], paper="https://example.org/paper", code=None,
    )
    fields.update(submission)
    programs = {m.model.id: f"# {method} on {m.model.id}\nx = select(tokens, tokens, EQ)\n" for m in models if m.status == "ok"}
    return Entry(f"submissions/{method}", Submission(**fields), results, programs)


def synthetic_entries() -> list[Entry]:
    """Three methods over four models of two tasks, with a tie-break on n_ops and one failure."""
    return [
        synthetic_entry("lookup", [
            model_result("sort", "sort", (0.2, 0.1, 0.0), 1),
            model_result("sort_control", "sort", (0.3, 0.0, 0.0), 1),
            model_result("majority", "majority", (0.95, 0.92, 0.91), 1),
            model_result("parity", "parity", (0.5, 0.5, 0.5), 1),
        ], lengths_seen="all"),
        synthetic_entry("oracle", [
            model_result("sort", "sort", (1.0, 1.0, 1.0), 9),
            model_result("sort_control", "sort", (1.0, 0.3, 0.0), 9),
            model_result("majority", "majority", (1.0, 0.99, 0.98), 7),
            model_result("parity", "parity", None),
        ]),
        synthetic_entry("decompile", [
            model_result("sort", "sort", (1.0, 1.0, 0.99), 30),
            model_result("sort_control", "sort", (0.99, 0.95, 0.93), 40),
            model_result("majority", "majority", (0.9, 0.9, 0.9), 20),
            model_result("parity", "parity", (0.7, 0.6, 0.5), 50),
        ], paper=None, code="https://example.org/code"),
    ]


def test_ranking_is_success_rate_then_median_n_ops_then_ood_match():
    entries = synthetic_entries()
    order = [(rank, e.submission.method) for rank, e in ranked(entries)]
    # decompile 3/4 successes; oracle 2/4 with median n_ops 8; lookup 1/4
    assert order == [(1, "decompile"), (2, "oracle"), (3, "lookup")]
    # equal success rate: fewer ops wins, whatever the OOD accuracy
    a = synthetic_entry("a", [model_result("sort", "sort", (1, 1, 1), 9), model_result("parity", "parity", (1, 0, 0), 9)])
    b = synthetic_entry("b", [model_result("sort", "sort", (1, 1, 1), 3), model_result("parity", "parity", (1, 0.5, 0.5), 3)])
    assert [e.submission.method for _, e in ranked([a, b])] == ["b", "a"]
    # equal success rate and size: the higher OOD match wins; identical keys share a rank
    c = synthetic_entry("c", [model_result("sort", "sort", (1, 1, 1), 3), model_result("parity", "parity", (1, 0.7, 0.5), 3)])
    d = synthetic_entry("d", [model_result("sort", "sort", (1, 1, 1), 3), model_result("parity", "parity", (1, 0.5, 0.5), 3)])
    assert [(r, e.submission.method) for r, e in ranked([b, c, d])] == [(1, "c"), (2, "b"), (2, "d")]


def test_no_success_sorts_last_and_failed_extraction_counts_as_zero():
    entries = synthetic_entries()
    nothing = synthetic_entry("nothing", [model_result("sort", "sort", (0.5, 0.5, 0.5), 1)])
    assert ranked(entries + [nothing])[-1][1].submission.method == "nothing"
    table = overall_table(entries).set_index("method")
    assert table.loc["oracle", "successes"] == 2 and table.loc["oracle", "models"] == 4
    assert table.loc["oracle", "median_n_ops"] == 8.0
    expected_ood = ((1 + 1) + (0.3 + 0) + (0.99 + 0.98) + 0) / 2 / 4  # the failure counts as 0
    assert math.isclose(table.loc["oracle", "mean_ood_match_acc"], expected_ood)
    assert table.loc["lookup", "lengths_seen"] == "all" and table.loc["oracle", "lengths_seen"] == "0-50"


def test_per_task_and_per_model_tables():
    entries = synthetic_entries()
    tasks = per_task_table(entries)
    assert list(tasks["task"].unique()) == ["majority", "parity", "sort"]
    sort_rows = tasks[tasks.task == "sort"].set_index("method")
    assert sort_rows.loc["decompile", "successes"] == 2 and sort_rows.loc["lookup", "successes"] == 0
    assert list(sort_rows.index) == ["decompile", "oracle", "lookup"]  # rank order inside a task
    models = per_model_table(entries)
    assert len(models) == 12
    failed = models[(models.model == "parity") & (models.method == "oracle")].iloc[0]
    assert failed["status"] == "error" and pd.isna(failed["program_page"]) and pd.isna(failed["n_ops"])
    page = models[(models.model == "sort") & (models.method == "decompile")].iloc[0]["program_page"]
    assert page == "programs/decompile/sort.html"
