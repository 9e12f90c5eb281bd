"""What a person reads of a run: the summary table, the extraction failures, match_acc by length."""

from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from bench.scoring.results import BINS, ModelResult, Results
from bench.scoring.run import error_filename


def summary_table(results: Results) -> str:
    rows = []
    for m in results.models:
        accs = [f"{m.metrics[b].match_acc:.3f}" if b in m.metrics else "-" for b in BINS]
        model_accs = [f"{m.metrics[b].model_acc:.3f}" if b in m.metrics else "-" for b in BINS]
        rows.append(
            [m.model.id, m.task.name, *accs, "/".join(model_accs), m.size.n_ops if m.size else "-",
             m.size.depth if m.size else "-", "yes" if m.success else ("ERROR" if m.status == "error" else "no")]
        )
    headers = ["model", "task", "match 0-50", "match 51-100", "match 101-150", "model acc (bins)", "n_ops", "depth", "success"]
    s = results.summary
    footer = (
        f"\n{results.method.name}: success {s.n_success}/{s.n_models} ({s.success_rate:.0%}), "
        f"mean match_acc " + " / ".join(f"{s.mean_match_acc[b]:.3f}" for b in BINS)
        + (f", median n_ops over successes {s.median_n_ops:g}" if s.median_n_ops is not None else "")
    )
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) + footer


def errors_report(results: Results, out_dir: Path | None = None, verbose: bool = False) -> str:
    """One line per failed model (and where its traceback is kept); with ``verbose``, the tracebacks."""
    lines = []
    for m in results.models:
        if m.status != "error":
            continue
        trace = out_dir / error_filename(m.model.id) if out_dir is not None else None
        kept = trace is not None and trace.is_file()
        lines.append(f"  {m.model.id}: {m.error}" + (f" (traceback: {trace})" if kept and not verbose else ""))
        if kept and verbose:
            lines.append("    " + trace.read_text(errors="replace").rstrip().replace("\n", "\n    "))
    return "\n".join(lines)


def plot_match_by_length(results: Results, path: Path) -> None:
    """One panel per task: match_acc against length bin, a line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_task: dict[str, list[ModelResult]] = {}
    for m in results.models:
        by_task.setdefault(m.task.name, []).append(m)
    n = len(by_task)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows + 0.4), squeeze=False, sharey=True,
                             layout="constrained")  # leaves room for the main title above the panel titles
    labels = ["0-50", "51-100", "101-150"]
    for ax, (task_name, models) in zip(axes.flat, sorted(by_task.items())):
        for m in models:
            values = [m.metrics[b].match_acc if b in m.metrics else 0.0 for b in BINS]
            ax.plot(labels, values, marker="o", label=m.model.id)
        ax.set_title(task_name, fontsize=9)
        ax.set_ylim(-0.05, 1.05)
        ax.axhline(results.match_threshold, color="grey", lw=0.6, ls="--")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{results.method.name}: match_acc against input length", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
