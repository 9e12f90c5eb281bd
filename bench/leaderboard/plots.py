"""The leaderboard's figures, written as PNG files with reproducible bytes.

Two figures: mean faithfulness (``match_acc``) against the input-length bin,
one line per method; and program size (``n_ops``) against out-of-distribution
faithfulness, one point per (method, model). Building twice gives identical
files: matplotlib's default style (not the user's rc file), the Agg backend,
fixed sizes, colours by rank, and no ``Software`` or date metadata in the PNG.
The bytes may still differ between matplotlib or FreeType versions, which is
why the CI check compares the text outputs exactly and the PNGs only by name.
"""

from __future__ import annotations

from pathlib import Path

from bench.leaderboard.tables import BIN_LABELS, Entry, ood_match, ranked
from bench.scoring.results import BINS

MATCH_BY_LENGTH = "match_acc_by_length.png"
SIZE_VS_MATCH = "n_ops_vs_ood_match_acc.png"
DPI = 100
SIZE_TICKS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
PNG_METADATA = {"Software": None}  # PNG has no date field unless asked; Software names the version


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(entries: list[Entry], folder: Path) -> list[Path]:
    """Write both figures into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / MATCH_BY_LENGTH, folder / SIZE_VS_MATCH]
    plt = _pyplot()
    with plt.style.context("default"):
        _match_by_length(plt, entries, paths[0])
        _size_vs_match(plt, entries, paths[1])
    return paths


def label(text: str) -> str:
    """A method name as a legend label, shown literally: ``$`` would start matplotlib's math text (which
    raises on bad TeX) and a leading ``_`` would hide the entry."""
    text = text.replace("$", "\\$")  # matplotlib shows an escaped dollar as itself, never as math
    return " " + text if text.startswith("_") else text


def _colours(plt, entries: list[Entry]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {e.submission.method: cmap(i % 10) for i, (_, e) in enumerate(ranked(entries))}


def _match_by_length(plt, entries: list[Entry], path: Path) -> None:
    colours = _colours(plt, entries)
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    labels = [BIN_LABELS[b] for b in BINS]
    for _, e in ranked(entries):
        values = [e.results.summary.mean_match_acc[b] for b in BINS]
        ax.plot(labels, values, marker="o", color=colours[e.submission.method], label=label(e.submission.method))
    threshold = entries[0].results.match_threshold if entries else 0.9
    ax.axhline(threshold, color="grey", lw=0.8, ls="--", label=f"success threshold {threshold:g}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("input length (test bin)")
    ax.set_ylabel("mean match_acc over models")
    ax.set_title("Faithfulness against length")
    ax.grid(alpha=0.3)
    if entries:
        ax.legend(fontsize=8, loc="lower left")
    _save(plt, fig, path)


def _size_vs_match(plt, entries: list[Entry], path: Path) -> None:
    colours = _colours(plt, entries)
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    largest = 1
    for _, e in ranked(entries):
        points = [(m.size.n_ops, ood_match(m)) for m in e.results.models if m.status == "ok" and m.size]
        if points:
            xs, ys = zip(*points)
            largest = max(largest, *xs)
            ax.scatter(xs, ys, s=18, alpha=0.75, color=colours[e.submission.method], label=label(e.submission.method))
    ax.set_xscale("symlog", linthresh=1)  # log-like, but a program of 0 operations still has a place
    ticks = [t for t in SIZE_TICKS if t <= 2 * largest]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlim(-0.3, 2 * largest)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("program size n_ops (lower is better)")
    ax.set_ylabel("mean match_acc, 51-150")
    ax.set_title("Size against out-of-distribution faithfulness")
    ax.grid(alpha=0.3)
    if any(m.status == "ok" for e in entries for m in e.results.models):
        ax.legend(fontsize=8, loc="lower right")
    _save(plt, fig, path)


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png", metadata=PNG_METADATA)
    plt.close(fig)
