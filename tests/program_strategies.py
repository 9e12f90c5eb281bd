"""Hypothesis strategies for random well-typed programs (shared by the program tests).

``programs()`` builds a random DAG one operation at a time, drawing every
input from the variables built so far with a fitting type, and finishes with
an output of the right type. Each variable also carries an *exactness level*
telling how its values may differ between the two interpreters:

- 0: integer-valued (cats, counts, integer arithmetic): bit-identical;
- 1: exact non-integers (a mean of integers, one division): bit-identical,
  since both interpreters do the same IEEE operations;
- 2: approximate (sums of non-integers, softmax, MLPs, readouts): equal up to
  rounding, so they only feed continuous operations (a discontinuous one,
  like a comparison, could turn a last-bit difference into a different value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import bench.program as rasp
from bench.program import Basis


@dataclass
class Var:
    node: rasp.Node
    kind: str  # cat / num / vec / sel / soft
    basis: str | None
    level: int


@dataclass
class Case:
    program: rasp.Program
    levels: dict  # node id -> exactness level
    input_ids: np.ndarray  # (B, T), padded with random ids past each length
    lengths: np.ndarray  # (B,)


def _expr(draw, names: list[str], depth: int, integer: bool) -> str:
    """A random expression string over ``names``; ``integer`` keeps integer inputs integer."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if names and draw(st.booleans()):
            return draw(st.sampled_from(names))
        return str(draw(st.integers(-3, 5)))
    sub = lambda: _expr(draw, names, depth - 1, integer)  # noqa: E731
    ops = ["+", "-", "*", "//", "%", "cmp", "and", "or", "not", "if", "min", "max", "abs", "pow"]
    if not integer:
        ops += ["/", "round", "floor"]
    op = draw(st.sampled_from(ops))
    if op in ("+", "-", "*", "//", "%", "/"):
        return f"({sub()} {op} {sub()})"
    if op == "cmp":
        return f"({sub()} {draw(st.sampled_from(['==', '!=', '<', '<=', '>', '>=']))} {sub()})"
    if op in ("and", "or"):
        return f"({sub()} {op} {sub()})"
    if op == "not":
        return f"(not {sub()})"
    if op == "if":
        return f"({sub()} if {sub()} else {sub()})"
    if op in ("min", "max"):
        return f"{op}({sub()}, {sub()})"
    if op == "pow":
        return f"({sub()} ** {draw(st.integers(0, 2))})"
    return f"{op}({sub()})"


class _Skip(Exception):
    """No variable of a fitting type exists yet: skip this step."""


@st.composite
def programs(draw, max_steps: int = 14, allow_approx: bool = True):
    """A :class:`Case`: a random valid program, its levels and a padded input batch."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    vocab = draw(st.integers(3, 6))
    n_positions = draw(st.integers(3, 9))
    custom = Basis("c", draw(st.integers(2, 5)))
    sizes = {"tokens": vocab, "positions": n_positions, "bool": 2, "c": custom.size}
    pool = [Var(rasp.tokens, "cat", "tokens", 0), Var(rasp.indices, "cat", "positions", 0)]

    def pick(kinds, max_level=2, basis=None):
        options = [v for v in pool if v.kind in kinds and v.level <= max_level and (basis is None or v.basis == basis)]
        if not options:
            raise _Skip
        return draw(st.sampled_from(options))

    def table(*shape):
        return rng.integers(-4, 5, size=shape) / 2.0

    def out_basis():
        return draw(st.sampled_from(["tokens", "positions", "bool", custom]))

    def basis_name(b):
        return b if isinstance(b, str) else b.name

    def _step(op):
        new = None
        if op == "const":
            which = draw(st.sampled_from(["cat", "num", "vec"]))
            if which == "cat":
                new = Var(rasp.constant(draw(st.integers(0, 1)), basis="bool"), "cat", "bool", 0)
            elif which == "num":
                new = Var(rasp.constant(float(draw(st.integers(-2, 3)))), "num", None, 0)
            else:
                new = Var(rasp.constant(table(vocab), basis="tokens"), "vec", "tokens", 1)
        elif op == "map":
            x = pick(("cat", "num"), 1)
            integer = x.level == 0 and draw(st.booleans())
            expr = _expr(draw, ["x"], 3, integer)
            if draw(st.booleans()):
                b = out_basis()
                new = Var(rasp.map(x.node, expr, basis=b, default=draw(st.integers(0, 1))), "cat", basis_name(b), 0)
            else:
                new = Var(rasp.map(x.node, expr), "num", None, max(x.level, 0 if integer else 1))
        elif op == "map_table":
            x = pick(("cat",))
            keys = draw(st.lists(st.integers(0, sizes[x.basis] - 1), max_size=4, unique=True))
            if draw(st.booleans()):
                b = out_basis()
                n = sizes[basis_name(b)]
                entries = {k: draw(st.integers(0, n - 1)) for k in keys}
                new = Var(rasp.map(x.node, entries, basis=b, default=draw(st.integers(0, 1))), "cat", basis_name(b), 0)
            else:
                entries = {k: float(draw(st.integers(-3, 3))) for k in keys}
                new = Var(rasp.map(x.node, entries, default=0.5), "num", None, 1)
        elif op == "map_vec":
            x = pick(("vec",), 1)
            if x is not None:
                new = Var(rasp.map(x.node, _expr(draw, ["x", "i"], 2, False)), "vec", x.basis, 1)
        elif op in ("seqmap", "seqmap_table"):
            if op == "seqmap_table":
                x, y = pick(("cat",)), pick(("cat",))
                keys = draw(st.lists(st.tuples(st.integers(0, sizes[x.basis] - 1), st.integers(0, sizes[y.basis] - 1)),
                                     max_size=4, unique=True))
                entries = {k: draw(st.integers(0, 1)) for k in keys}
                new = Var(rasp.sequence_map(x.node, y.node, entries, basis="bool"), "cat", "bool", 0)
            elif draw(st.booleans()) and pick(("vec",), 1) is not None:
                x = pick(("vec",), 1)
                y = pick(("vec", "num", "cat"), 1)
                if y.kind == "vec" and y.basis != x.basis:
                    y = pick(("num", "cat"), 1)
                new = Var(rasp.sequence_map(x.node, y.node, _expr(draw, ["x", "y", "i"], 2, False)), "vec", x.basis, 1)
            else:
                x, y = pick(("cat", "num"), 1), pick(("cat", "num"), 1)
                integer = x.level == 0 and y.level == 0 and draw(st.booleans())
                expr = _expr(draw, ["x", "y"], 3, integer)
                if draw(st.booleans()):
                    b = out_basis()
                    new = Var(rasp.sequence_map(x.node, y.node, expr, basis=b), "cat", basis_name(b), 0)
                else:
                    new = Var(rasp.sequence_map(x.node, y.node, expr), "num", None, 0 if integer else 1)
        elif op == "select":
            k, q = pick(("cat", "num"), 1), pick(("cat", "num"), 1)
            if draw(st.booleans()):
                pred = draw(st.sampled_from(["EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"]))
            else:
                pred = _expr(draw, ["k", "q"], 2, True)
            new = Var(rasp.select(k.node, q.node, pred), "sel", None, 0)
        elif op == "logic":
            a, b = pick(("sel",)), pick(("sel",))
            if a is not None:
                which = draw(st.sampled_from(["and", "or", "not"]))
                node = a.node & b.node if which == "and" else a.node | b.node if which == "or" else ~a.node
                new = Var(node, "sel", None, 0)
        elif op == "agg_num":
            s, v = pick(("sel", "soft")), pick(("num",))
            if s is not None and (s.kind == "sel" or allow_approx):
                level = 2 if s.kind == "soft" or v.level > 0 else 1
                default = float(draw(st.integers(-1, 1)))
                new = Var(rasp.aggregate(s.node, v.node, default=default if s.kind == "sel" else 0), "num", None, level)
        elif op == "agg_cat":
            s, v = pick(("sel",)), pick(("cat",))
            if s is not None:
                new = Var(rasp.aggregate(s.node, v.node, default=draw(st.integers(0, sizes[v.basis] - 1))), "cat",
                          v.basis, 0)
        elif op == "agg_hist":
            s, v = pick(("sel", "soft")), pick(("cat",))
            if s is not None:
                new = Var(rasp.aggregate(s.node, v.node, numerical=True), "vec", v.basis, 1 if s.kind == "sel" else 2)
        elif op == "agg_vec":
            s, v = pick(("sel", "soft")), pick(("vec",))
            if s is not None and v is not None:
                new = Var(rasp.aggregate(s.node, v.node), "vec", v.basis, 2)
        elif op == "width":
            s = pick(("sel",))
            if s is not None:
                new = Var(rasp.selector_width(s.node), "num", None, 0)
        elif op == "onehot":
            x = pick(("cat",))
            new = Var(rasp.onehot(x.node), "vec", x.basis, 0)
        elif op == "argmax":
            x = pick(("vec",), 1)
            if x is not None:
                new = Var(rasp.argmax(x.node), "cat", x.basis, 0)
        elif op == "unary":
            fn = draw(st.sampled_from(["relu", "threshold", "component", "sum", "max", "harden", "normalize"]))
            x = pick(("vec",), 1) if fn in ("component", "sum", "harden", "normalize", "threshold") else pick(("vec", "num"))
            if x is not None and not (fn in ("harden", "normalize", "max") and x.kind != "vec"):
                if fn == "component":
                    node = rasp.component(x.node, draw(st.integers(0, sizes[x.basis] - 1)))
                    new = Var(node, "num", None, x.level)
                elif fn in ("sum", "max"):
                    level = x.level if fn == "max" or x.level == 0 else 2
                    new = Var(rasp.apply(fn, x.node), "num", None, level)
                elif fn == "normalize":
                    new = Var(rasp.normalize(x.node), "vec", x.basis, 1 if x.level == 0 else 2)
                elif fn == "threshold":
                    new = Var(rasp.threshold(x.node, 0.5), x.kind, x.basis, 0)
                else:
                    new = Var(rasp.apply(fn, x.node), x.kind, x.basis, x.level)
        elif op == "soft":
            terms = []
            for _ in range(draw(st.integers(0, 2))):
                k = pick(("cat", "vec"))
                if draw(st.booleans()):
                    q = pick(("cat", "vec"))
                    terms.append(rasp.score(q.node, k.node, table(sizes[q.basis], sizes[k.basis])))
                else:
                    terms.append(rasp.key_score(k.node, table(sizes[k.basis])))
            new = Var(rasp.soft_select(*terms), "soft", None, 2)
        elif op == "mlp":
            x = pick(("cat", "num", "vec"))
            width = 1 if x.kind == "num" else sizes[x.basis]
            hidden = draw(st.integers(1, 4))
            out_num = draw(st.booleans())
            layers = [(table(width, hidden), table(hidden)), (table(hidden, 1 if out_num else custom.size),
                                                               table(1 if out_num else custom.size))]
            act = draw(st.sampled_from(["relu", "gelu_new", "tanh", "identity"]))
            if out_num:
                new = Var(rasp.mlp(x.node, layers, activation=act), "num", None, 2)
            else:
                new = Var(rasp.mlp(x.node, layers, activation=act, basis=custom), "vec", "c", 2)
        elif op == "readout":
            x = pick(("cat", "num", "vec"))
            shape = (vocab,) if x.kind == "num" else (sizes[x.basis], vocab)
            new = Var(rasp.readout((x.node, table(*shape)), bias=table(vocab)), "vec", "tokens", 2)
        return new

    steps = draw(st.integers(2, max_steps))
    op_names = ["const", "map", "map", "map_table", "map_vec", "seqmap", "seqmap", "seqmap_table", "select", "select",
                "select", "logic", "agg_num", "agg_num", "agg_cat", "agg_cat", "agg_hist", "agg_vec", "width", "width",
                "onehot", "argmax", "unary"]
    if allow_approx:
        op_names += ["soft", "soft", "mlp", "readout"]
    for _ in range(steps):
        op = draw(st.sampled_from(op_names))
        try:
            new = _step(op)
        except _Skip:
            new = None
        if new is not None:
            if draw(st.booleans()):
                new.node = new.node.named(f"v{len(pool)}")
            pool.append(new)

    # The output: an existing cat[tokens] variable, or a readout of every variable nothing else uses
    # (so that most of the DAG reaches the output).
    token_cats = [v for v in pool if v.kind == "cat" and v.basis == "tokens" and v.node is not rasp.tokens]
    if token_cats and draw(st.integers(0, 3)) == 0:
        output, kind = draw(st.sampled_from(token_cats)).node, "token"
    else:
        used = {id(u) for v in pool for u in v.node.inputs()}
        sinks = []
        for v in pool[2:]:
            if id(v.node) in used:
                continue
            if v.kind == "sel":
                v = Var(rasp.selector_width(v.node), "num", None, 0)
            elif v.kind == "soft":
                v = Var(rasp.aggregate(v.node, rasp.tokens, numerical=True), "vec", "tokens", 2)
            sinks.append(v)
            pool.append(v)
        sinks = sinks[-8:] or [pool[0]]
        terms = [(v.node, table(vocab) if v.kind == "num" else table(sizes[v.basis], vocab)) for v in sinks]
        output, kind = rasp.readout(*terms, bias=table(vocab)), draw(st.sampled_from(["token", "token_set"]))
        pool.append(Var(output, "vec", "tokens", 2))
    program = rasp.Program(output, vocab_size=vocab, kind=kind, n_positions=n_positions, name="random")
    levels = {program.ids[v.node]: v.level for v in pool if v.node in program.ids}

    batch = draw(st.integers(1, 4))
    lengths = rng.integers(1, n_positions + 1, size=batch)
    lengths[0] = n_positions if draw(st.booleans()) else lengths[0]
    width = int(lengths.max())
    ids = rng.integers(0, vocab, size=(batch, width))  # the tail past each length is random "padding"
    return Case(program, levels, ids, lengths)
