"""The static leaderboard page and the program pages.

``index.html`` is self-contained: inline CSS and JavaScript, the figures as
relative PNG files beside it, no request to anything outside the folder. Its
tables sort by clicking a header (numbers numerically, empty cells last) and
filter by a text box. Every submission links to its extracted programs,
pre-rendered as readable RASP code (``program.pretty()``) in
``programs/<method>/<model>.html``, with, when the build draws them, the
heatmaps of the program's tables (``programs/<method>/<model>/*.png``) under
the code.

Everything from a submission is untrusted text and is HTML-escaped; links are
only the http(s) URLs that the submission schema admits.
"""

from __future__ import annotations

import html
import json
import math

import pandas as pd

from bench.leaderboard import plots
from bench.leaderboard.submission import lengths_label
from bench.leaderboard.tables import BIN_LABELS, Entry, program_page, ranked, slug
from bench.scoring.results import BINS

TITLE = "rasp-bench leaderboard"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:78rem;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.86rem;margin:.6rem 0;width:100%}
th,td{border-bottom:1px solid #e5e5e5;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
input.filter{font-size:.9rem;padding:.3rem .5rem;width:22rem;max-width:100%}
.figures img{max-width:48%;min-width:20rem;margin-right:1%}
.ok{color:#137333}.no{color:#a50e0e}.muted{color:#666}
pre.program{background:#f7f7f7;border:1px solid #e1e1e1;padding:1rem;overflow-x:auto;font-size:.85rem;line-height:1.35}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dl.meta dt{font-weight:600}
"""
HEATMAPS_CSS = """.heatmaps{display:flex;flex-wrap:wrap;gap:1rem}.heatmaps figure{margin:0}
.heatmaps img{max-width:100%;height:auto}.heatmaps figcaption{font-size:.8rem;color:#666}
"""  # only on pages that show heatmaps: a build without them is unchanged

JS = """
(function(){
  function cellValue(row, index){
    var cell = row.cells[index];
    if(!cell){return null;}
    var v = cell.getAttribute('data-value');
    if(v === null){v = cell.textContent.trim();}
    return v === '' ? null : v;
  }
  function sortTable(table, index, header){
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = rows.every(function(r){var v = cellValue(r, index); return v === null || !isNaN(Number(v));});
    var ascending = header.getAttribute('aria-sort') !== 'ascending';
    rows.sort(function(a, b){
      var x = cellValue(a, index), y = cellValue(b, index);
      if(x === null && y === null){return 0;}
      if(x === null){return 1;}
      if(y === null){return -1;}
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? c : -c;
    });
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(h){h.removeAttribute('aria-sort');});
    header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  }
  document.querySelectorAll('table.sortable').forEach(function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(header, index){
      header.addEventListener('click', function(){sortTable(table, index, header);});
    });
  });
  document.querySelectorAll('input.filter').forEach(function(input){
    var table = document.getElementById(input.getAttribute('data-table'));
    input.addEventListener('input', function(){
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function(row){
        row.hidden = needle !== '' && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  });
})();
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def plain(value):
    """A table cell as a plain Python value: numpy scalars unwrapped, NaN (pandas' missing) as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def fmt(value, kind: str = "fraction") -> str:
    """A cell's text: fractions with 3 decimals, rates as percent, counts as integers, None as a dash."""
    value = plain(value)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "percent":
        return f"{100 * value:.1f}%"
    if kind == "count":
        return f"{value:g}"
    if kind == "fraction":
        return f"{value:.3f}"
    return str(value)


def _cell(value, kind: str = "text", *, link: str | None = None) -> str:
    value = plain(value)
    text = esc(fmt(value, kind))
    if link:
        text = f'<a href="{esc(link)}">{text}</a>'
    if value is None:
        css = "" if kind == "text" else ' class="num"'
        return f'<td{css} data-value="">{text}</td>'
    if kind == "text" or isinstance(value, bool):
        attr = f' data-value="{int(value)}"' if isinstance(value, bool) else ""
        return f"<td{attr}>{text}</td>"
    return f'<td class="num" data-value="{value!r}">{text}</td>'


def _table(table_id: str, columns: list[tuple[str, str]], rows: list[str], caption: str) -> str:
    head = "".join(f"<th>{esc(label)}</th>" for label, _ in columns)
    return (
        f'<p><input class="filter" type="search" data-table="{table_id}" placeholder="filter {esc(caption)}" '
        f'aria-label="filter {esc(caption)}"></p>\n'
        f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _page(title: str, body: str, *, script: bool, css: str = CSS) -> str:
    js = f"<script>{JS}</script>\n" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n{body}\n{js}</body>\n</html>\n"
    )


def index_page(entries: list[Entry], overall: pd.DataFrame, per_task: pd.DataFrame, per_model: pd.DataFrame) -> str:
    """The leaderboard page."""
    overall_columns, overall_rows = _overall_table(entries, overall)
    task_columns, task_rows = _task_table(per_task)
    model_columns, model_rows = _model_table(per_model)
    details = "\n".join(_submission_details(e) for _, e in ranked(entries))
    threshold = entries[0].results.match_threshold if entries else 0.9
    body = f"""<h1>{esc(TITLE)}</h1>
<p>Methods that extract RASP programs from the benchmark's reference transformers, scored by the harness
for <strong>faithfulness</strong> to the model (<code>match_acc</code>: the program's prediction equals the
model's at every scored position of a sequence), <strong>size</strong> (<code>n_ops</code>) and
<strong>length generalization</strong> (test bins 0-50, 51-100, 101-150; training lengths are 0-50).
A program is a success when <code>match_acc &ge; {threshold:g}</code> on every bin. Ranking: success rate,
then median <code>n_ops</code> over successes (lower first), then mean <code>match_acc</code> on 51-150.
Every figure was re-computed from the submitted programs before it was listed here. Click a column to sort.</p>
<h2>Ranking</h2>
{_table("overall", overall_columns, overall_rows, "methods")}
<h2>Figures</h2>
<div class="figures"><img src="{plots.MATCH_BY_LENGTH}" alt="mean match_acc against input length, one line per method">
<img src="{plots.SIZE_VS_MATCH}" alt="n_ops against mean match_acc on 51-150, one point per program"></div>
<h2>Per task</h2>
{_table("per-task", task_columns, task_rows, "tasks")}
<h2>Per model</h2>
{_table("per-model", model_columns, model_rows, "models")}
<h2>Submissions</h2>
{details}
<p class="muted">Generated by <code>python -m bench.leaderboard build</code> from <code>submissions/</code>.</p>"""
    return _page(TITLE, body, script=True)


def _overall_table(entries: list[Entry], overall: pd.DataFrame) -> tuple[list, list[str]]:
    """The ranking's columns and rows: one row per method."""
    by_method = {e.submission.method: e for e in entries}
    overall_rows = []
    for row in overall.to_dict("records"):
        e = by_method[row["method"]]
        links = " ".join(
            f'<a href="{esc(url)}" rel="noopener noreferrer">{name}</a>'
            for name, url in (("paper", e.submission.paper), ("code", e.submission.code))
            if url
        )
        overall_rows.append(
            "<tr>"
            + _cell(row["rank"], "count")
            + f'<td data-value="{esc(row["method"])}"><strong>{esc(row["method"])}</strong>'
            f'<br><span class="muted">{esc(row["authors"])}</span></td>'
            + _cell(row["lengths_seen"])
            + _cell(row["success_rate"], "percent")
            + f'<td class="num" data-value="{row["successes"]}">{row["successes"]}/{row["models"]}</td>'
            + _cell(row["median_n_ops"], "count")
            + _cell(row["mean_ood_match_acc"], "fraction")
            + "".join(_cell(row[f"match_acc_{BIN_LABELS[b]}"], "fraction") for b in BINS)
            + _cell(row["date"])
            + f'<td><a class="programs" href="programs/{esc(e.slug)}/index.html">programs</a> {links}</td>'
            + "</tr>"
        )
    overall_columns = [
        ("rank", ""), ("method", ""), ("lengths seen", ""), ("success rate", ""), ("successes", ""),
        ("median n_ops", ""), ("mean match 51-150", ""),
        *[(f"match {BIN_LABELS[b]}", "") for b in BINS], ("date", ""), ("links", ""),
    ]
    return overall_columns, overall_rows


def _task_table(per_task: pd.DataFrame) -> tuple[list, list[str]]:
    """The per-task table's columns and rows: one row per (task, method)."""
    task_rows = [
        "<tr>" + _cell(r["task"]) + _cell(r["method"])
        + f'<td class="num" data-value="{r["successes"]}">{r["successes"]}/{r["models"]}</td>'
        + "".join(_cell(r[f"match_acc_{BIN_LABELS[b]}"], "fraction") for b in BINS)
        + _cell(r["median_n_ops"], "count") + "</tr>"
        for r in per_task.to_dict("records")
    ]
    task_columns = [("task", ""), ("method", ""), ("successes", ""), *[(f"match {BIN_LABELS[b]}", "") for b in BINS], ("median n_ops", "")]
    return task_columns, task_rows


def _model_table(per_model: pd.DataFrame) -> tuple[list, list[str]]:
    """The per-model table's columns and rows: one row per (model, method)."""
    model_rows = []
    for r in per_model.to_dict("records"):
        status = "yes" if r["success"] else ("error" if r["status"] == "error" else "no")
        page = plain(r["program_page"])
        model_rows.append(
            "<tr>" + _cell(r["model"]) + _cell(r["task"]) + _cell(r["role"]) + _cell(r["method"])
            + f'<td class="{"ok" if r["success"] else "no"}" data-value="{int(bool(r["success"]))}">{status}</td>'
            + "".join(_cell(r[f"match_acc_{BIN_LABELS[b]}"], "fraction") for b in BINS)
            + _cell(r["model_acc_101-150"], "fraction")
            + "".join(_cell(r[name], "count") for name in ("n_ops", "depth", "n_params"))
            + (f'<td><a class="program" href="{esc(page)}">view</a></td>' if page else "<td>–</td>")
            + "</tr>"
        )
    model_columns = [
        ("model", ""), ("task", ""), ("role", ""), ("method", ""), ("success", ""),
        *[(f"match {BIN_LABELS[b]}", "") for b in BINS], ("model acc 101-150", ""),
        ("n_ops", ""), ("depth", ""), ("n_params", ""), ("program", ""),
    ]
    return model_columns, model_rows


def _submission_details(e: Entry) -> str:
    s = e.submission
    rows = [
        ("authors", esc(", ".join(s.authors))),
        ("contact", esc(s.contact)),
        ("date", esc(s.date)),
        ("lengths seen", esc(lengths_label(s))),
        ("method spec", f"<code>{esc(e.results.method.spec)}</code>"),
        ("bench version", esc(e.results.bench_version)),
    ]
    for name in ("paper", "code"):
        url = getattr(s, name)
        if url:
            rows.append((name, f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>'))
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f'<h3 id="{esc(e.slug)}">{esc(s.method)}</h3>\n<p>{esc(s.description)}</p>\n'
        f'<dl class="meta">{meta}</dl>\n<p><a href="programs/{esc(e.slug)}/index.html">extracted programs</a></p>'
    )


def method_programs_page(e: Entry) -> str:
    """``programs/<method>/index.html``: the method's programs, one link per model."""
    items = []
    for m in sorted(e.results.models, key=lambda m: (m.task.name, m.model.id)):
        verdict = "success" if m.success else ("extraction failed" if m.status == "error" else "not faithful")
        if m.model.id in e.programs:
            label = f'<a class="program" href="{esc(slug(m.model.id))}.html">{esc(m.model.id)}</a>'
        else:
            label = esc(m.model.id)
        items.append(f"<li>{label} <span class=\"muted\">({esc(m.task.name)}; {verdict})</span></li>")
    body = (
        f'<p><a href="../../index.html">&larr; leaderboard</a></p>\n<h1>{esc(e.submission.method)}: extracted programs</h1>\n'
        f"<ul>\n" + "\n".join(items) + "\n</ul>"
    )
    return _page(f"{e.submission.method}: programs", body, script=False)


def program_page_html(e: Entry, model_id: str, heatmaps: tuple[list[str], str] | None = None,
                      disagreements: str | None = None) -> str:
    """``programs/<method>/<model>.html``: one program as RASP code, with its figures and, when given as
    (image paths relative to the page's folder, a note), the heatmaps of its tables; ``disagreements``
    is the HTML of :func:`disagreements_section`."""
    m = next(m for m in e.results.models if m.model.id == model_id)
    figures = [("task", esc(m.task.name)), ("model", esc(m.model.id)), ("success", "yes" if m.success else "no")]
    figures += [(f"match_acc {BIN_LABELS[b]}", fmt(m.metrics[b].match_acc)) for b in BINS if b in m.metrics]
    figures += [(f"model_acc {BIN_LABELS[b]}", fmt(m.metrics[b].model_acc)) for b in BINS if b in m.metrics]
    if m.size:
        figures += [("n_ops", str(m.size.n_ops)), ("depth", str(m.size.depth)), ("n_params", str(m.size.n_params))]
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in figures)
    body = (
        f'<p><a href="../../index.html">&larr; leaderboard</a> · <a href="index.html">all programs of '
        f"{esc(e.submission.method)}</a></p>\n<h1>{esc(e.submission.method)} on {esc(model_id)}</h1>\n"
        f'<dl class="meta">{meta}</dl>\n<pre class="program"><code>{esc(e.programs[model_id])}</code></pre>'
    )
    if m.details:
        body += "\n" + details_section(m.details)
    if disagreements is not None:
        body += "\n" + disagreements
    if heatmaps is None:
        return _page(f"{e.submission.method} on {model_id}", body, script=False,
                     css=CSS + HEATMAPS_CSS if disagreements is not None else CSS)
    body += "\n" + _heatmaps(*heatmaps)
    return _page(f"{e.submission.method} on {model_id}", body, script=False, css=CSS + HEATMAPS_CSS)


#: The most characters of a method's per-model details shown on a program page (the harness keeps 16,000).
MAX_DETAILS_SHOWN = 16_000


def details_section(details: dict) -> str:
    """What the method reported about this extraction (``ModelResult.details``), as escaped JSON."""
    text = json.dumps(details, indent=1, sort_keys=True, ensure_ascii=True)
    if len(text) > MAX_DETAILS_SHOWN:
        text = text[:MAX_DETAILS_SHOWN] + f"\n... ({len(text) - MAX_DETAILS_SHOWN:,} more characters not shown)"
    return f'<h2>What the method reported</h2>\n<pre class="details"><code>{esc(text)}</code></pre>'


def disagreements_section(found, image: str | None, note: str) -> str:
    """Where a program disagrees with its model (a :class:`bench.scoring.diagnose.Diagnostics` computed by the build):
    per bin the count and the first sequences, and the plot of match_acc by exact length."""
    from bench.scoring.diagnose import marked_sequence

    parts = ["<h2>Where it disagrees with the model</h2>"]
    if found is None:
        return "\n".join(parts + [f'<p class="muted">{esc(note)}</p>'])
    parts.append('<p class="muted">Computed from the program and the model\'s stored predictions when this page '
                 "was built (<code>python -m bench.inspect PROGRAM.json</code> prints the same). "
                 "[x]: the outputs after token x differ.</p>")
    rows = []
    for name, got in found.bins.items():
        counts = got.counts
        rows.append(f'<tr><td>{esc(BIN_LABELS[name])}</td><td class="num">{counts.sequences}</td>'
                    f'<td class="num">{got.disagreeing}</td>'
                    f'<td class="num">{fmt(counts.matched_sequences / max(counts.sequences, 1))}</td></tr>')
    parts.append("<table><thead><tr><th>bin</th><th>sequences</th><th>disagreeing</th><th>match_acc</th></tr>"
                 "</thead><tbody>" + "".join(rows) + "</tbody></table>")
    examples = []
    for name, got in found.bins.items():
        for ex in got.examples:
            where = ", ".join(f"at {t}: program {p}, model {m}, gold {g}"
                              for t, p, m, g in list(zip(ex.positions, ex.program, ex.model, ex.gold))[:4])
            more = f" (+{len(ex.positions) - 4} more)" if len(ex.positions) > 4 else ""
            examples.append(f"{BIN_LABELS[name]}, L={ex.length}: {marked_sequence(ex)}\n    {where}{more}")
    if examples:
        parts.append('<pre class="program"><code>' + esc("\n".join(examples)) + "</code></pre>")
    if image:
        name = image.rsplit("/", 1)[-1]
        parts.append(f'<figure><img src="{esc(name)}" alt="match_acc by exact length"></figure>')
    return "\n".join(parts)


def _heatmaps(images: list[str], note: str) -> str:
    """The tables of a program as images (paths relative to the page's folder), and the note."""
    figures = []
    for source in images:
        name = source.rsplit("/", 1)[-1]
        figures.append(f'<figure><img src="{esc(source)}" alt="heatmap {esc(name)}">'
                       f"<figcaption>{esc(name)}</figcaption></figure>")
    text = ("The program's tables, the values of their bases on the axes, in the order of the code "
            "(<code>python -m bench.show PROGRAM.json --plot DIR</code> draws them).")
    parts = [f"<h2>Tables</h2>\n<p class=\"muted\">{text}</p>"]
    if figures:
        parts.append('<div class="heatmaps">\n' + "\n".join(figures) + "\n</div>")
    elif not note:
        parts.append('<p class="muted">This program has no tables.</p>')
    if note:
        parts.append(f'<p class="muted">{esc(note)}</p>')
    return "\n".join(parts)


def program_pages(e: Entry, heatmaps: dict[str, tuple[list[str], str]] | None = None,
                  disagreements: dict[str, tuple[str | None, str]] | None = None) -> dict[str, str]:
    """Relative path -> HTML for every page of one submission's programs; ``heatmaps`` (model id ->
    image paths and note, see :func:`program_page_html`) adds the tables under the code, and
    ``disagreements`` (model id -> (plot, section HTML)) where the program disagrees with its model."""
    pages = {f"programs/{e.slug}/index.html": method_programs_page(e)}
    for model_id in sorted(e.programs):
        drawn = heatmaps.get(model_id, ([], "")) if heatmaps is not None else None
        section = disagreements[model_id][1] if disagreements and model_id in disagreements else None
        pages[program_page(e, model_id)] = program_page_html(e, model_id, drawn, section)
    return pages
