"""What running a program costs, bounded before it runs: working memory and work per chunk.

Scoring runs programs that strangers submit, so the harness must know, from the
declared shapes alone, that a program fits in memory and finishes in bounded
time. For every node this module gives bytes and multiply-adds per *position*
(a ``(b, t)`` entry of a chunk) and per *pair* (a ``(b, query, key)`` entry):
its value, kept until its last use, and the temporaries of its evaluation.
:class:`ProgramCost` adds them up in the order the interpreter runs the nodes
(freeing each value after its last use, as :func:`.interpret_fast.run_program`
does) and bounds the peak for a chunk of ``rows`` sequences of width ``T``.

The per-operation figures follow the vectorized interpreter (``fast_dense``,
``fast_attention``, ``exactdot``): exact-slice products hold about five
copies of an operand (scaled, two slices, the products, output), the
causal softmax about six ``(B, T, T)`` arrays, an expression evaluated over
arrays one array per syntax node. They are upper bounds with a margin, checked
against measured peaks (``tests/test_program_cost.py`` compares them with
``tracemalloc``, which sees every numpy allocation, on programs of every kind,
the shipped submissions' and hostile ones).

Scoring (:mod:`bench.scoring.score`) uses this to refuse a program whose single
longest sequence would already exceed :data:`MAX_SCORING_BYTES` or whose work
per sequence exceeds :data:`MAX_WORK_PER_SEQUENCE`, and to size the chunks of
every batch so that each one stays below the memory budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ProgramError
from .exactdot import VALUE_CACHE_BYTES

#: Peak working memory allowed while a program runs on one chunk (and on one longest sequence). The
#: largest bound among the shipped programs is 165 MiB for one sequence of 303 tokens (decompile's
#: repeat_copy and addition, 128 MiB of it the value-slice cache): 12 times below.
MAX_SCORING_BYTES = 2 << 30
#: Work (multiply-adds, as bounded here) allowed for one sequence of the longest scored length. The
#: largest among the shipped programs is 3.4e9 (decompile's repeat_copy and addition, 303 tokens): 15 times below.
MAX_WORK_PER_SEQUENCE = 5 * 10**10

F64 = 8  # bytes of a float64 / int64 entry
SLICED = 5  # copies of an operand an exact-slice product holds (scaled, hi, lo, a product, output)
SOFTMAX = 6  # (B, T, T) arrays of the causal softmax (scores, where, shifted, powers, sums, weights)
#: Work counts multiply-adds of exact-slice (BLAS) products; one step of an expression evaluated over
#: arrays (a numpy ufunc pass) costs about as much time as this many of them.
ELEMENTWISE = 20


class CostError(ProgramError):
    """A program whose bounded cost is over a scoring limit; the message names the node."""


class OverTimeError(CostError):
    """A program still running when its time budget ran out."""


@dataclass(frozen=True)
class NodeCost:
    """Bytes and work of one node, per position and per (query, key) pair of a chunk."""

    node_id: str
    value_position: int = 0  # bytes of its value, per position
    value_pair: int = 0  # bytes of its value, per pair (selectors)
    temp_position: int = 0  # bytes of temporaries while it runs, per position
    temp_pair: int = 0
    temp_fixed: int = 0  # bytes independent of the chunk (tables expanded per category)
    work_position: int = 0  # multiply-adds per position
    work_pair: int = 0  # multiply-adds per pair

    def value_bytes(self, positions: int, pairs: int) -> int:
        return self.value_position * positions + self.value_pair * pairs

    def peak_bytes(self, positions: int, pairs: int, fixed: bool = True) -> int:
        """Its value plus its temporaries while it runs (``fixed=False``: leaving out those of a fixed size)."""
        return (self.value_bytes(positions, pairs) + self.temp_position * positions + self.temp_pair * pairs
                + self.temp_fixed * fixed)

    def work(self, positions: int, pairs: int) -> int:
        return self.work_position * positions + self.work_pair * pairs


@dataclass(frozen=True)
class ProgramCost:
    """Every node's cost in run order, with the position of each value's last use."""

    nodes: tuple[NodeCost, ...]
    freed: tuple[tuple[int, ...], ...]  # per node, the values freed once it has run (their last use)

    def peak_bytes(self, rows: int, width: int, fixed: bool = True) -> int:
        """Upper bound on the working memory of a chunk of ``rows`` sequences padded to ``width``.

        ``fixed=False`` leaves out the temporaries whose size does not depend on the chunk.
        """
        positions, pairs = rows * width, rows * width * width
        # the causal mask, token ids, lengths, the predictions, and the slices of values kept for their readers
        base = pairs + positions * 3 * F64 + VALUE_CACHE_BYTES * fixed
        live, peak = 0, 0
        for index, cost in enumerate(self.nodes):
            peak = max(peak, live + cost.peak_bytes(positions, pairs, fixed))
            live += cost.value_bytes(positions, pairs)
            live -= sum(self.nodes[n].value_bytes(positions, pairs) for n in self.freed[index])
        return base + peak

    def work(self, rows: int, width: int) -> int:
        """Multiply-adds of a chunk of ``rows`` sequences padded to ``width``."""
        positions, pairs = rows * width, rows * width * width
        return sum(cost.work(positions, pairs) for cost in self.nodes)

    def largest_memory(self, width: int) -> NodeCost:
        """The node with the largest own peak on one sequence of ``width`` (what an over-limit message names)."""
        return max(self.nodes, key=lambda c: c.peak_bytes(width, width * width))

    def largest_work(self, width: int) -> NodeCost:
        return max(self.nodes, key=lambda c: c.work(width, width * width))

    def rows_within(self, width: int, max_bytes: int) -> int:
        """How many sequences of ``width`` a chunk may hold under ``max_bytes`` (0: not even one).

        ``peak_bytes`` is a maximum over nodes of ``rows * a + b`` (``b``: the fixed-size temporaries);
        ``rows * max(a) + max(b)`` bounds it, which gives the count in one pass (cached per width:
        chunks are sized often).
        """
        key = (width, max_bytes)
        if key not in self._rows:
            per_row = self.peak_bytes(1, width, fixed=False)
            self._rows[key] = max(0, (max_bytes - self._fixed) // max(per_row, 1))
        return self._rows[key]

    @property
    def _fixed(self) -> int:
        return max((cost.temp_fixed for cost in self.nodes), default=0) + VALUE_CACHE_BYTES

    def __post_init__(self):
        object.__setattr__(self, "_rows", {})


def program_cost(program) -> ProgramCost:
    """The cost of every node of ``program``, in the order the interpreter runs them."""
    position = {node: n for n, node in enumerate(program.nodes)}
    last_use: dict[int, int] = {}  # a value nothing reads stays until the end, as in the interpreter
    for n, node in enumerate(program.nodes):
        for v in node.inputs():
            last_use[position[v]] = n
    freed: list[list[int]] = [[] for _ in program.nodes]
    for n, last in last_use.items():
        if program.nodes[n] is not program.output:
            freed[last].append(n)
    costs = tuple(node_cost(program, node) for node in program.nodes)
    return ProgramCost(costs, tuple(tuple(f) for f in freed))


def check_cost(program, width: int, max_bytes: int = MAX_SCORING_BYTES,
               max_work: int = MAX_WORK_PER_SEQUENCE) -> ProgramCost:
    """The program's cost, or :class:`CostError` when one sequence of ``width`` is over a limit."""
    cost = program_cost(program)
    memory = cost.peak_bytes(1, width)
    if memory > max_bytes:
        node = cost.largest_memory(width)
        raise CostError(f"running one sequence of length {width} needs up to {_mib(memory)} of memory, over the "
                        f"scoring limit of {_mib(max_bytes)} (largest: node {node.node_id!r}, "
                        f"{_mib(node.peak_bytes(width, width * width))})")
    work = cost.work(1, width)
    if work > max_work:
        node = cost.largest_work(width)
        raise CostError(f"one sequence of length {width} takes up to {work:.2e} multiply-adds, over the scoring "
                        f"limit of {max_work:.0e} (largest: node {node.node_id!r}, "
                        f"{node.work(width, width * width):.2e})")
    return cost


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


# ----- per operation -------------------------------------------------------------------------------


def _width(program, t) -> int:
    """Entries per position of a value of type ``t`` (vec: its basis size; cat, num: 1)."""
    return program.sizes[t.basis] if t.kind == "vec" else 1


def _value(program, node) -> dict:
    t = program.types[node]
    if t.kind == "sel":
        return {"value_pair": 1}
    if t.kind == "soft":
        return {"value_pair": F64}
    return {"value_position": F64 * _width(program, t)}


def _expr_nodes(expr) -> int:
    return expr.n_nodes if expr is not None else 0


def node_cost(program, node) -> NodeCost:
    """Bytes and work of ``node`` in ``program`` (see the module docstring for the model)."""
    op = type(node).__name__
    node_id = program.ids[node]
    value = _value(program, node)
    inputs = [program.types[v] for v in node.inputs()]
    in_widths = [_width(program, t) for t in inputs]
    out_width = _width(program, program.types[node])
    if op == "Select":
        n = _expr_nodes(node.expr)
        grid = program.sizes.get(inputs[1].basis, 0) * program.sizes.get(inputs[0].basis, 0) if n else 0
        return NodeCost(node_id, **value, temp_pair=F64 * (4 + n), temp_fixed=F64 * (n + 2) * min(grid, 1 << 16),
                        work_pair=ELEMENTWISE * (1 + n))
    if op in ("SelectorAnd", "SelectorOr", "SelectorNot", "SelectorWidth"):
        return NodeCost(node_id, **value, temp_pair=2 * F64, work_pair=1)
    if op == "Aggregate":
        values_width = in_widths[1] if inputs[1].kind == "vec" else (
            program.sizes[inputs[1].basis] if inputs[1].kind == "cat" and node.numerical else 1)
        soft = inputs[0].kind == "soft"
        return NodeCost(node_id, **value,
                        temp_pair=F64 * (SLICED + 2 if soft else 4),
                        temp_position=F64 * (SLICED + 2) * values_width,
                        work_pair=(2 * SLICED if soft else 2) * values_width)
    if op == "SoftSelect":
        return _soft_select_cost(program, node, node_id, value)
    if op == "MLP":
        shapes = [layer.weight.shape for layer in node.layers]
        hidden = sum(n_in + n_out for n_in, n_out in shapes)
        macs = sum(n_in * n_out for n_in, n_out in shapes)
        return NodeCost(node_id, **value, temp_position=F64 * SLICED * hidden,
                        temp_fixed=F64 * 2 * sum(n_in * n_out for n_in, n_out in shapes),
                        work_position=2 * SLICED * macs)
    if op == "Readout":
        macs = sum(term.table.size for term in node.terms)
        return NodeCost(node_id, **value, temp_position=F64 * (SLICED * sum(in_widths) + 3 * out_width),
                        temp_fixed=F64 * 2 * macs, work_position=2 * SLICED * macs + out_width)
    if op in ("Map", "SequenceMap", "Apply"):
        n = _expr_nodes(getattr(node, "expr", None))
        wide = max([out_width] + in_widths)
        table = getattr(node, "table", None)
        fixed = F64 * (n + 2) * min(_grid(program, inputs), 1 << 16) + (F64 * 4 * len(table) if table else 0)
        return NodeCost(node_id, **value, temp_position=F64 * (n + 4) * wide, temp_fixed=fixed,
                        work_position=ELEMENTWISE * (n + 2) * wide)
    return NodeCost(node_id, **value, temp_position=F64 * (out_width + 1), work_position=out_width)


def _soft_select_cost(program, node, node_id: str, value: dict) -> NodeCost:
    """Scores summed term by term, ``q @ table`` once per vec query variable, one product for vec keys, softmax."""
    vec_queries, vec_keys, row_width, query_macs = {}, {}, 0, 0
    for term in node.terms:
        row_width += term.scores.shape[-1]
        if term.query is not None and program.types[term.query].kind == "vec":
            vec_queries[term.query] = _width(program, program.types[term.query])
            query_macs += term.scores.size
        if program.types[term.key].kind == "vec":
            vec_keys[term.key] = _width(program, program.types[term.key])
    queries, keys = sum(vec_queries.values()), sum(vec_keys.values())
    return NodeCost(node_id, **value,
                    temp_position=F64 * (4 * queries + 3 * row_width + 8 * keys),
                    temp_pair=F64 * (SOFTMAX + 3),  # the softmax's arrays, the summed scores, one term's
                    temp_fixed=F64 * SLICED * sum(t.scores.size for t in node.terms),
                    work_position=3 * query_macs,
                    work_pair=3 * keys + len(node.terms))


def _grid(program, inputs) -> int:
    """Categories a function is evaluated on once per chunk (the product of its cat inputs' bases)."""
    total = 1
    for t in inputs:
        total *= program.sizes[t.basis] if t.kind == "cat" else 1
    return total
