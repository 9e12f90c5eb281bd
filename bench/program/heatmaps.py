"""Heatmaps of every table of a program, drawn with matplotlib.

    from bench.program.heatmaps import draw_heatmaps
    from bench.program.op_tables import token_symbols
    drawn = draw_heatmaps(program, "figures/", symbols=token_symbols(program.vocab_size, "sort"))
    drawn.paths      # one PNG per table, named <op-index>-<variable>[-<part>].png
    drawn.left_out   # the tables beyond the figure cap, by file name

``pretty()`` shows a table as ``<154x154 table>``; here it is drawn, rows and
columns labelled with the values of their bases (token symbols for
``tokens``, position numbers for ``positions``, ``false``/``true`` for
``bool``, indices otherwise), with a colour bar and a title naming the
variable, its operation and the part of it. The tables of each operation kind:

- ``soft_select``: every term, ``score(query, key, M)`` as query values x key
  values, ``key_score(key, w)`` as one row over the key values;
- ``select`` over two ``cat`` variables (predicates other than TRUE/FALSE):
  which (query, key) value pairs are selected;
- ``map`` of a ``cat`` (table or expression): input values x output values
  (one-hot) for a ``cat`` output, one row of output values for a ``num`` one;
  ``sequence_map`` of two ``cat`` variables: x values x y values, coloured by
  the output;
- ``readout``: every term (input values x output values; one row for a
  ``num`` input) and the bias;
- ``mlp``: every layer's weights (inputs x outputs), its bias as the last row;
- ``constant`` vectors: one row over their basis.

Expressions over ``num`` or ``vec`` variables have no finite domain and are
not drawn. Figures are few and bounded, so a program of millions of
parameters draws in seconds: at most ``max_figures`` per program (every
operation's first table before any operation's second, score tables first and
MLP weights last; the rest are named in ``left_out``), tick labels thinned
above ``MAX_TICK_LABELS`` entries, a fixed layout. Values whose bulk spans
more than ``LOG_DECADES`` decades are coloured on a symmetric log scale; the
few outliers of a big signed table are saturated. The PNGs carry no metadata
and use matplotlib's default style, not the user's: drawing twice gives the
same bytes with the same matplotlib. matplotlib is imported only when drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .op_tables import Axis, Table, program_tables

MAX_FIGURES = 24  # per program
MAX_TICK_LABELS = 40  # above this many entries, an axis gets a few evenly spaced labels
LOG_DECADES = 3  # the bulk of the magnitudes spanning more decades than this: a log colour scale
CLIP_PERCENTILE = 99.5  # a signed table's colours end here when its largest entries are outliers
ANNOTATE_MAX = 10  # tables of at most this many rows and columns show their values in the cells
DPI = 80
TITLE_CHAR_PX = 5.6  # the mean width of a title character at DPI, to cut long titles to the figure
LABEL_CHAR_PX = 5.0  # the same for tick labels: wider x labels are turned upright
PNG_METADATA = {"Software": None}
# Draw order under the cap: what a reader looks at first (MLP weights are hidden units, last).
PRIORITY = {"soft_select": 0, "select": 0, "map": 1, "sequence_map": 1, "readout": 2, "constant": 3, "mlp": 4}


@dataclass
class Drawn:
    """What :func:`draw_heatmaps` wrote and what it left out."""

    max_figures: int
    paths: list[Path] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # file names of the tables beyond the cap

    def note(self) -> str:
        """One line naming the tables left out, or ``""``."""
        if not self.left_out:
            return ""
        names = ", ".join(self.left_out[:8]) + (", ..." if len(self.left_out) > 8 else "")
        return (f"{len(self.left_out)} more table{'s' * (len(self.left_out) != 1)} not drawn "
                f"(at most {self.max_figures} figures per program): {names}")


# ----- drawing ---------------------------------------------------------------------------------------


def draw_heatmaps(program, folder, *, symbols: tuple[str, ...] | None = None,
                  max_figures: int = MAX_FIGURES) -> Drawn:
    """Write one PNG per table of ``program`` into ``folder`` (created if missing), at most ``max_figures``.

    Under the cap every operation gets its first table before any gets a second (score tables,
    selects and maps before readouts, constants and MLP weights); files keep their
    ``<op-index>-<variable>`` names whatever the order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = program_tables(program, symbols)
    width = max(2, len(str(len(program.nodes) - 1)))
    chosen = sorted(_draw_order(program, tables)[:max_figures])
    left_out = sorted(set(range(len(tables))) - set(chosen))
    drawn = Drawn(max_figures, left_out=[tables[n].file_name(width) for n in left_out])
    with _style():  # once: entering it copies every setting
        for n in chosen:
            path = folder / tables[n].file_name(width)
            _draw(tables[n], path)
            drawn.paths.append(path)
    return drawn


def _style():
    """matplotlib's default style, not the user's rc file (the same PNG bytes everywhere), small fonts."""
    from matplotlib import style

    return style.context(["default", {"font.size": 8}])


def _draw_order(program, tables: list[Table]) -> list[int]:
    """Table numbers in drawing order: round by round (an operation's n-th table in round n), by kind."""
    seen: dict[int, int] = {}
    keys = []
    for n, table in enumerate(tables):
        rank = seen.get(table.index, 0)
        seen[table.index] = rank + 1
        keys.append((rank, PRIORITY[program.nodes[table.index].op], n))
    return [key[-1] for key in sorted(keys)]


def draw_table(table: Table, path: Path) -> None:
    """One heatmap: the table, labelled axes, a colour bar and the title, on a fixed layout (fast)."""
    with _style():
        _draw(table, path)


def _draw(table: Table, path: Path) -> None:
    """:func:`draw_table` inside the style context."""
    from matplotlib.figure import Figure

    table = _computed(table)
    width, height = _figure_size(table)
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes(_inches(width, height, left=0.95, bottom=0.8, right=1.05, top=0.35))
    colours = _colours(table)
    image = ax.imshow(table.values, aspect="auto", interpolation=_interpolation(table, ax), cmap=colours["cmap"],
                      norm=colours["norm"])
    if table.bias_row:
        ax.axhline(table.values.shape[0] - 1.5, color="black", linewidth=0.8)
    _label_axis(ax.set_xticks, table.columns, room=(width - 2.0) * DPI)
    ax.set_xlabel(_literal(table.columns.name))
    if table.rows is None:
        ax.set_yticks([])
    else:
        _label_axis(ax.set_yticks, table.rows)
        ax.set_ylabel(_literal(table.rows.name))
    if max(table.values.shape) <= ANNOTATE_MAX:
        _annotate(ax, table)
    cax = fig.add_axes(_inches(width, height, left=width - 0.9, bottom=0.8, right=0.75, top=0.35))
    bar = fig.colorbar(image, cax=cax, extend=colours["extend"])
    bar.set_label(_literal(table.colorbar_label))
    _colorbar_ticks(bar, table)
    title = _shorten(table.title, int((width - 1.1) * DPI / TITLE_CHAR_PX))
    ax.set_title(_literal(title), fontsize=9, loc="left")
    fig.savefig(path, format="png", metadata=PNG_METADATA)


def _computed(table: Table) -> Table:
    """The table with its values computed once and an ``auto`` scale resolved (signed for mixed signs)."""
    values = table.values
    scale = table.scale
    if scale == "auto":
        scale = "signed" if values.size and values.min() < 0 < values.max() else "levels"
    return replace(table, compute=lambda: values, scale=scale)


def _interpolation(table: Table, ax) -> str:
    """Cells as sharp squares, or smoothed where there are more cells than pixels (no moire)."""
    box = ax.get_position()
    width, height = box.width * ax.figure.get_figwidth() * DPI, box.height * ax.figure.get_figheight() * DPI
    rows, columns = table.values.shape
    return "nearest" if rows <= height and columns <= width else "antialiased"


def _figure_size(table: Table) -> tuple[float, float]:
    """Inches: a strip for a vector, a wider frame for wide tables."""
    if table.rows is None:
        return (7.0, 2.2)
    rows, columns = table.values.shape
    return (7.0 if columns > 2 * rows else 6.0, 3.0 if rows <= 3 else 5.0)


def _inches(width: float, height: float, *, left: float, bottom: float, right: float, top: float) -> list[float]:
    """An axes rectangle in figure fractions from margins in inches."""
    return [left / width, bottom / height, (width - left - right) / width, (height - bottom - top) / height]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _colours(table: Table) -> dict:
    """Colour map and norm (and which ends of the colour bar are cut off): signed tables centred on 0,
    booleans 0..1, levels from min to max. Values spread over many decades (powers of two) get a
    symmetric log scale; a signed table whose few largest entries dwarf the rest is coloured up to its
    ``CLIP_PERCENTILE``-th percentile, the outliers saturated."""
    from matplotlib.colors import Normalize, SymLogNorm

    values = table.values
    if table.scale == "boolean":
        return {"cmap": "Greys", "norm": Normalize(0.0, 1.0), "extend": "neither"}
    magnitudes = np.abs(values[values != 0])
    top = float(magnitudes.max()) if magnitudes.size else 1.0
    if table.scale == "signed":
        low, high, cmap = -top, top, "RdBu_r"
    else:
        low, high, cmap = float(values.min()), float(values.max()), "viridis"
        high = high if high > low else low + 1.0
    if _spans_decades(magnitudes):
        norm = SymLogNorm(linthresh=float(magnitudes.min()), vmin=low, vmax=high)
        return {"cmap": cmap, "norm": norm, "extend": "neither"}
    if table.scale == "signed" and magnitudes.size:
        bulk = float(np.percentile(np.abs(values), CLIP_PERCENTILE))
        if top > 3 * bulk > 0:
            return {"cmap": cmap, "norm": Normalize(-bulk, bulk), "extend": "both"}
    return {"cmap": cmap, "norm": Normalize(low, high), "extend": "neither"}


def _spans_decades(magnitudes: np.ndarray) -> bool:
    """Whether the bulk of the nonzero magnitudes (10th to 90th percentile) spans more than ``LOG_DECADES``
    decades: exponentials, which a linear scale shows as one colour; not noisy weights or outliers."""
    if magnitudes.size < 2:
        return False
    low, high = np.percentile(magnitudes, [10, 90])
    return bool(high > low * 10.0**LOG_DECADES)


def _label_axis(set_ticks, axis: Axis, *, room: float | None = None) -> None:
    """Every label up to ``MAX_TICK_LABELS`` entries, else evenly spaced ones plus the axis' marks; turned
    upright when they would not fit side by side in ``room`` pixels (the x axis)."""
    n = len(axis.labels)
    step = 1 if n <= MAX_TICK_LABELS else _nice_step(n)
    positions = [p for p in range(0, n, step) if step == 1 or all(abs(p - m) >= step / 2 for m in axis.marks)]
    positions = sorted(set(positions) | {m for m in axis.marks if 0 <= m < n})
    shown = [_literal(axis.labels[p]) for p in positions]
    widest = (max((len(s) for s in shown), default=0) + 1) * LABEL_CHAR_PX
    closest = min((b - a for a, b in zip(positions, positions[1:])), default=n)
    upright = room is not None and widest > room / n * closest
    set_ticks(positions, shown, rotation=90 if upright else 0)


def _nice_step(n: int) -> int:
    """A round step (1, 2, 5 times a power of ten) that gives at most nine ticks over ``n`` entries."""
    for scale in (1, 10, 100, 1000, 10000, 100000):
        for base in (1, 2, 5):
            if n / (base * scale) <= 9:
                return base * scale
    return max(1, n // 8)


def _annotate(ax, table: Table) -> None:
    """The value in every cell of a small table, dark on light cells and light on dark ones."""
    norm = _colours(table)["norm"]
    for (r, k), v in np.ndenumerate(table.values):
        position = float(norm(v))
        strong = position > 0.75 or (position < 0.25 and table.scale != "boolean")
        if table.scale == "levels":
            strong = position < 0.45
        text = _literal(table.category_labels[int(v)]) if table.category_labels else _short(v)
        ax.text(k, r, text, ha="center", va="center", fontsize=7, color="white" if strong else "black")


def _short(value: float) -> str:
    """A number in a few characters: ``3``, ``-0.54``, ``17``, ``1e+27``."""
    if value == int(value) and abs(value) < 1e4:
        return str(int(value))
    return f"{value:.2g}" if abs(value) < 10 or abs(value) >= 1e4 else f"{value:.0f}"


def _colorbar_ticks(bar, table: Table) -> None:
    """Categories named on the colour bar of a categorical output, no/yes on a boolean one, a few powers
    of ten on a log scale."""
    from matplotlib.colors import SymLogNorm

    if table.scale == "boolean":
        bar.set_ticks([0.0, 1.0], labels=["no", "yes"])
    elif table.category_labels:
        present = np.unique(table.values).astype(np.int64)
        if len(present) <= MAX_TICK_LABELS:
            bar.set_ticks(present.tolist(), labels=[_literal(table.category_labels[v]) for v in present])
    elif isinstance(bar.norm, SymLogNorm):
        low, high = np.log10(bar.norm.linthresh), np.log10(max(abs(bar.norm.vmin), abs(bar.norm.vmax)))
        exponents = np.unique(np.round(np.linspace(np.ceil(low), np.floor(high), 5)[1:]).astype(int))  # 0 apart
        powers = [10.0 ** e for e in exponents]
        ticks = [-p for p in reversed(powers) if -p >= bar.norm.vmin] + [0.0]
        ticks += [p for p in powers if p <= bar.norm.vmax]
        bar.set_ticks(ticks, labels=[_short(t) for t in ticks])


def _literal(text: str) -> str:
    """Text shown as itself: a ``$`` would start matplotlib's math mode."""
    return text.replace("$", "\\$")
