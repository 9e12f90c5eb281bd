"""The tables of a program's operations, as 2-d arrays with labelled axes, ready to draw.

:func:`program_tables` lists every table of every operation (what each kind has
is in :mod:`bench.program.heatmaps`); a select's or a map's values are computed
only when asked for (:attr:`Table.values`), and not at all above ``MAX_GRID``
entries. :func:`token_symbols` labels the ``tokens`` basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .ops_attention import _NP_PREDICATES
from .ops_map import to_cat_np

MAX_GRID = 1 << 20  # entries of a select or map evaluated into a table; bigger ones are not drawn
SPECIALS = ("<bos>", "<sep>", "<eos>", "<pad>")  # the last four tokens of every vocabulary


@dataclass(frozen=True)
class Axis:
    """One axis of a table: the basis it runs over and a label per entry."""

    name: str  # the axis label: what runs along it and over which basis
    labels: tuple[str, ...]
    marks: tuple[int, ...] = ()  # entries labelled even where the labels are thinned (the first special token)


@dataclass(frozen=True)
class Table:
    """One table of a program, ready to draw: a 2-d array, one row for a vector."""

    index: int  # the operation's position in program.nodes (the order pretty() prints)
    variable: str  # the node id
    part: str  # which table of the operation ("term0", "bias", "layer1", ...), "" when it has one
    title: str
    compute: Callable[[], np.ndarray]  # the values; evaluated (selects, maps) only when asked for
    rows: Axis | None  # None for a vector (one row)
    columns: Axis
    scale: str  # "signed" (diverging, centred on 0), "boolean" (0/1), "levels" (min..max) or "auto"
    colorbar_label: str = ""
    category_labels: tuple[str, ...] = ()  # colour bar labels of a categorical output
    bias_row: bool = False  # the last row is a bias (MLP layers): ruled off from the weights

    @property
    def values(self) -> np.ndarray:
        """The table as a float64 ``(rows, columns)`` array (computed anew on every call)."""
        return np.atleast_2d(np.asarray(self.compute(), dtype=np.float64))

    def file_name(self, width: int = 2) -> str:
        """``<op-index>-<variable>[-<part>].png``, the index zero-padded to ``width`` digits."""
        return f"{self.index:0{width}d}-{self.variable}{'-' + self.part if self.part else ''}.png"


def token_symbols(vocab_size: int, task_name: str | None = None) -> tuple[str, ...]:
    """The symbols of the ``tokens`` basis: the task's vocabulary when ``task_name`` is a registered task
    of that size, else content ids ``0..V-5`` followed by the four specials (every task's layout)."""
    if task_name is not None:
        from bench.data.task import TaskError, get_task

        try:
            task = get_task(task_name)
        except (TaskError, KeyError, ValueError):
            task = None
        if task is not None and task.vocab_size == vocab_size:
            return tuple(task.vocab.tokens)
    n = vocab_size - len(SPECIALS)
    if n < 0:
        return tuple(str(i) for i in range(vocab_size))
    return tuple(str(i) for i in range(n)) + SPECIALS




def program_tables(program, symbols: tuple[str, ...] | None = None) -> list[Table]:
    """Every drawable table of ``program``, in the order of its operations; ``symbols`` name the tokens."""
    symbols = symbols or token_symbols(program.vocab_size)
    if len(symbols) != program.vocab_size:
        raise ValueError(f"{len(symbols)} token symbols for a vocabulary of {program.vocab_size}")
    tables = []
    for index, node in enumerate(program.nodes):
        extract = _EXTRACTORS.get(node.op)
        if extract is not None:
            tables += extract(_Context(program, symbols, index, node))
    return tables


@dataclass(frozen=True)
class _Context:
    """One operation of a program, with what its tables need to name their axes."""

    program: object
    symbols: tuple[str, ...]
    index: int
    node: object

    @property
    def variable(self) -> str:
        return self.program.ids[self.node]

    def name(self, node) -> str:
        return self.program.ids[node]

    def type(self, node):
        return self.program.types[node]

    def axis(self, basis: str, name: str) -> Axis:
        """An axis named ``name`` over a basis: symbols for tokens, false/true for bool, else the category
        numbers."""
        if basis == "tokens":
            return Axis(name, tuple(self.symbols), marks=(len(self.symbols) - len(SPECIALS),))
        if basis == "bool":
            return Axis(name, ("false", "true"))
        return Axis(name, tuple(str(i) for i in range(self.program.sizes[basis])))

    def input_axis(self, node, role: str = "") -> Axis | None:
        """The axis of a cat or vec variable over its basis, e.g. ``key: indices (positions)``; None for a num."""
        t = self.type(node)
        if t.kind not in ("cat", "vec"):
            return None
        name = self.name(node) if self.name(node) == t.basis else f"{self.name(node)} ({t.basis})"
        return self.axis(t.basis, f"{role}: {name}" if role else name)

    def code(self) -> str:
        """The operation as ``pretty()`` prints it."""
        return self.node.render([self.name(v) for v in self.node.inputs()], self.type(self.node))

    def table(self, part: str, what: str | None, values, rows, columns, scale: str, **extra) -> Table:
        """A table of this operation, titled ``variable = op: what`` (the printed code when ``what`` is None);
        ``values`` is an array or a function computing it."""
        title = f"{self.variable} = {self.code() if what is None else f'{self.node.op}: {what}'}"
        compute = values if callable(values) else lambda: values
        return Table(self.index, self.variable, part, title, compute, rows, columns, scale, **extra)


def _soft_select_tables(c: _Context) -> list[Table]:
    out = []
    for n, term in enumerate(c.node.terms):
        part = _numbered("term", n, len(c.node.terms)) if len(c.node.terms) > 1 else ""
        key = c.input_axis(term.key, "key")
        if term.query is None:
            out.append(c.table(part, f"key_score({c.name(term.key)})", term.scores, None, key, "signed",
                               colorbar_label="score"))
        else:
            out.append(c.table(part, f"score({c.name(term.query)}, {c.name(term.key)})", term.scores,
                               c.input_axis(term.query, "query"), key, "signed",
                               colorbar_label="score"))
    return out


def _numbered(part: str, n: int, count: int) -> str:
    """``term3``, zero-padded so that file names sort in term order (``term03`` of 20 terms)."""
    return f"{part}{n:0{len(str(count - 1))}d}"


def _select_tables(c: _Context) -> list[Table]:
    node = c.node
    tk, tq = c.type(node.keys), c.type(node.queries)
    if node.predicate in ("TRUE", "FALSE") or tk.kind != "cat" or tq.kind != "cat":
        return []
    n_q, n_k = c.program.sizes[tq.basis], c.program.sizes[tk.basis]
    if n_q * n_k > MAX_GRID:
        return []

    def selected() -> np.ndarray:
        gq, gk = np.meshgrid(np.arange(n_q, dtype=np.float64), np.arange(n_k, dtype=np.float64), indexing="ij")
        if node.predicate is not None:
            return _NP_PREDICATES[node.predicate](gk, gq)
        return node.expr.eval_np({"k": gk, "q": gq}) != 0

    return [c.table("", None, selected, c.input_axis(node.queries, "query"), c.input_axis(node.keys, "key"),
                    "boolean", colorbar_label="selected")]


def _map_tables(c: _Context) -> list[Table]:
    node = c.node
    args = node.inputs()
    types = [c.type(a) for a in args]
    if any(t.kind != "cat" for t in types):
        return []
    sizes = [c.program.sizes[t.basis] for t in types]
    out_type = c.type(node)
    onehot = len(args) == 1 and out_type.kind == "cat"  # input values x output values
    if int(np.prod(sizes)) * (c.program.sizes[out_type.basis] if onehot else 1) > MAX_GRID:
        return []
    values = lambda: _function_values(node, sizes, c)  # noqa: E731 -- computed when drawn
    axes = [c.input_axis(a, variable) for variable, a in zip("xy", args)]
    if len(args) == 2:  # sequence_map: x values x y values, coloured by the output
        if out_type.kind == "cat":
            return [c.table("", None, values, *axes, "levels", colorbar_label=f"value ({out_type.basis})",
                            category_labels=c.axis(out_type.basis, "").labels)]
        return [c.table("", None, values, *axes, "auto", colorbar_label="value")]
    if onehot:
        return [c.table("", None, lambda: _one_hot(values(), c.program.sizes[out_type.basis]), axes[0],
                        c.axis(out_type.basis, f"value ({out_type.basis})"), "boolean",
                        colorbar_label="f(x) is this value")]
    return [c.table("", None, values, None, axes[0], "auto", colorbar_label="value")]


def _function_values(node, sizes: list[int], c: _Context) -> np.ndarray:
    """A map's output for every category (every pair of categories for a sequence_map)."""
    categorical = c.type(node).kind == "cat"
    if node.table is not None:
        return node._dense_table(sizes, categorical).astype(np.float64)
    grids = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in sizes), indexing="ij")
    values = node.expr.eval_np(dict(zip("xy", grids)))
    if categorical:
        values = to_cat_np(values, c.program.sizes[c.type(node).basis], node.default)
    return np.asarray(values, dtype=np.float64)


def _one_hot(categories: np.ndarray, size: int) -> np.ndarray:
    table = np.zeros((len(categories), size))
    table[np.arange(len(categories)), categories.astype(np.int64)] = 1.0
    return table


def _readout_tables(c: _Context) -> list[Table]:
    node = c.node
    out_axis = c.axis(node.basis.name, f"output ({node.basis.name})")
    tables = []
    for n, term in enumerate(node.terms):
        t = c.type(term.x)
        what = {"cat": "table[{}]", "vec": "{} @ table", "num": "{} * table"}[t.kind].format(c.name(term.x))
        tables.append(c.table(_numbered("term", n, len(node.terms)), what, term.table, c.input_axis(term.x),
                              out_axis, "signed", colorbar_label="logit"))
    tables.append(c.table("bias", "bias", node.bias, None, out_axis, "signed", colorbar_label="logit"))
    return tables


def _mlp_tables(c: _Context) -> list[Table]:
    node = c.node
    tables = []
    for n, layer in enumerate(node.layers):
        n_in, n_out = layer.weight.shape
        if n == 0:
            rows = c.input_axis(node.x) or Axis(f"input {c.name(node.x)}", (c.name(node.x),))
        else:
            rows = Axis(f"hidden unit (layer {n - 1} output)", tuple(str(i) for i in range(n_in)))
        if n < len(node.layers) - 1:
            columns = Axis(f"hidden unit (layer {n} output)", tuple(str(i) for i in range(n_out)))
        elif node.basis is not None:
            columns = c.axis(node.basis.name, f"output ({node.basis.name})")
        else:
            columns = Axis("output (num)", ("num",))
        rows = Axis(rows.name, (*rows.labels, "bias"), (*rows.marks, n_in))
        values = lambda layer=layer: np.vstack([layer.weight, layer.bias[None, :]])  # noqa: E731
        then = f", then {node.activation}" if n < len(node.layers) - 1 else ""
        what = f"layer {n} weights and bias (last row){then}"
        tables.append(c.table(_numbered("layer", n, len(node.layers)), what, values, rows, columns, "signed",
                              colorbar_label="weight", bias_row=True))
    return tables


def _constant_tables(c: _Context) -> list[Table]:
    node = c.node
    if node.kind != "vec":
        return []
    return [c.table("", "vector", node.value, None, c.axis(node.basis.name, node.basis.name), "signed",
                    colorbar_label="value")]


_EXTRACTORS = {
    "soft_select": _soft_select_tables,
    "select": _select_tables,
    "map": _map_tables,
    "sequence_map": _map_tables,
    "readout": _readout_tables,
    "mlp": _mlp_tables,
    "constant": _constant_tables,
}
