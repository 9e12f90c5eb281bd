"""The leaderboard's tables, computed from verified submissions (pure data, no I/O).

Ranking: success rate (higher first), then median ``n_ops`` over successful
programs (lower first; a method with no success sorts last), then the mean
out-of-distribution ``match_acc`` (mean over ``test_51_100`` and
``test_101_150``, higher first), then the method name. Equal keys share a rank.

Every table is a :class:`pandas.DataFrame` whose cells are plain numbers,
strings or ``None``; formatting for Markdown and HTML happens in the writers.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

import pandas as pd

from bench.data.task import BIN_LABELS
from bench.leaderboard.submission import Submission, lengths_label
from bench.scoring.results import BINS, ModelResult, Results

OOD_BINS = ("test_51_100", "test_101_150")


@dataclass(frozen=True)
class Entry:
    """One verified submission, as the leaderboard shows it."""

    folder: str  # the submission folder, as given on the command line (for messages only)
    submission: Submission
    results: Results
    programs: dict[str, str]  # model id -> the program pretty-printed as RASP code

    @property
    def slug(self) -> str:
        return slug(self.submission.method)


def slug(text: str) -> str:
    """A file-name-safe form of a method or model name."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.") or "x"


def match_acc(m: ModelResult, bin_name: str) -> float:
    """A model's ``match_acc`` on a bin; a failed extraction counts as 0."""
    return m.metrics[bin_name].match_acc if bin_name in m.metrics else 0.0


def ood_match(m: ModelResult) -> float:
    return sum(match_acc(m, b) for b in OOD_BINS) / len(OOD_BINS)


def mean_ood(results: Results) -> float:
    return statistics.fmean(ood_match(m) for m in results.models) if results.models else 0.0


def median_n_ops(models: list[ModelResult]) -> float | None:
    sizes = [m.size.n_ops for m in models if m.success and m.size is not None]
    return float(statistics.median(sizes)) if sizes else None


def ranked(entries: list[Entry]) -> list[tuple[int, Entry]]:
    """Entries in leaderboard order with their rank (ties share a rank)."""

    def key(e: Entry):
        s = e.results.summary
        n_ops = s.median_n_ops if s.median_n_ops is not None else math.inf
        return (-s.success_rate, n_ops, -round(mean_ood(e.results), 12))

    order = sorted(entries, key=lambda e: (*key(e), e.submission.method))
    out, previous, rank = [], None, 0
    for position, e in enumerate(order, start=1):
        if key(e) != previous:
            rank, previous = position, key(e)
        out.append((rank, e))
    return out


def overall_table(entries: list[Entry]) -> pd.DataFrame:
    """One row per method, in rank order."""
    rows = []
    for rank, e in ranked(entries):
        s, r = e.submission, e.results
        rows.append(
            {
                "rank": rank,
                "method": s.method,
                "authors": ", ".join(s.authors),
                "lengths_seen": lengths_label(s),
                "models": r.summary.n_models,
                "successes": r.summary.n_success,
                "success_rate": r.summary.success_rate,
                "median_n_ops": r.summary.median_n_ops,
                "mean_ood_match_acc": mean_ood(r),
                **{f"match_acc_{BIN_LABELS[b]}": r.summary.mean_match_acc[b] for b in BINS},
                "date": s.date,
                "bench_version": r.bench_version,
                "paper": s.paper,
                "code": s.code,
            }
        )
    return pd.DataFrame(rows, columns=OVERALL_COLUMNS)


OVERALL_COLUMNS = [
    "rank", "method", "authors", "lengths_seen", "models", "successes", "success_rate", "median_n_ops",
    "mean_ood_match_acc", "match_acc_0-50", "match_acc_51-100", "match_acc_101-150", "date",
    "bench_version", "paper", "code",
]


def per_task_table(entries: list[Entry]) -> pd.DataFrame:
    """One row per (task, method): successes and mean faithfulness per bin over the task's models."""
    rows = []
    order = [e for _, e in ranked(entries)]
    tasks = sorted({m.task.name for e in entries for m in e.results.models})
    for task in tasks:
        for e in order:
            models = [m for m in e.results.models if m.task.name == task]
            if not models:
                continue
            rows.append(
                {
                    "task": task,
                    "method": e.submission.method,
                    "models": len(models),
                    "successes": sum(m.success for m in models),
                    **{f"match_acc_{BIN_LABELS[b]}": statistics.fmean(match_acc(m, b) for m in models) for b in BINS},
                    "median_n_ops": median_n_ops(models),
                }
            )
    return pd.DataFrame(rows, columns=PER_TASK_COLUMNS)


PER_TASK_COLUMNS = [
    "task", "method", "models", "successes", "match_acc_0-50", "match_acc_51-100", "match_acc_101-150",
    "median_n_ops",
]


def per_model_table(entries: list[Entry]) -> pd.DataFrame:
    """One row per (model, method): every reported figure, and the program's page."""
    rows = []
    order = [e for _, e in ranked(entries)]
    models = sorted({(m.task.name, m.model.id) for e in entries for m in e.results.models})
    for task, model_id in models:
        for e in order:
            for m in e.results.models:
                if m.model.id != model_id:
                    continue
                rows.append(
                    {
                        "model": model_id,
                        "task": task,
                        "role": m.model.role,
                        "method": e.submission.method,
                        "success": m.success,
                        "status": m.status,
                        **{f"match_acc_{BIN_LABELS[b]}": m.metrics[b].match_acc if b in m.metrics else None for b in BINS},
                        **{f"model_acc_{BIN_LABELS[b]}": m.metrics[b].model_acc if b in m.metrics else None for b in BINS},
                        "n_ops": m.size.n_ops if m.size else None,
                        "depth": m.size.depth if m.size else None,
                        "n_params": m.size.n_params if m.size else None,
                        "program_page": program_page(e, model_id) if model_id in e.programs else None,
                    }
                )
    return pd.DataFrame(rows, columns=PER_MODEL_COLUMNS)


PER_MODEL_COLUMNS = [
    "model", "task", "role", "method", "success", "status", "match_acc_0-50", "match_acc_51-100",
    "match_acc_101-150", "model_acc_0-50", "model_acc_51-100", "model_acc_101-150", "n_ops", "depth",
    "n_params", "program_page",
]


def program_page(entry: Entry, model_id: str) -> str:
    """Path of a program's page, relative to the leaderboard folder."""
    return f"programs/{entry.slug}/{slug(model_id)}.html"
