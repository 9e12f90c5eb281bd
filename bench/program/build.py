"""The construction API: build programs the way RASP reads.

>>> from bench.program import tokens, indices, select, aggregate, map, selector_width, EQ, Program
>>> same = select(tokens, tokens, EQ)                      # keys, queries, predicate
>>> hist = selector_width(same).named("hist")              # num: how often the token occurred so far
>>> out = map(hist, "min(x, 3)", basis="tokens").named("out")
>>> program = Program(out, vocab_size=5, kind="token", n_positions=16, name="hist")
>>> print(program.pretty())
# hist: token program, vocab_size=5, n_positions=16; n_ops=3, depth=1, n_params=4
hist = selector_width(select(tokens, tokens, ==))  # num
out = categorical(min(hist, 3))  # cat[tokens]
output = out

Functions (``f`` is an expression string or a lookup table ``{key: value}``):

- ``map(x, f, basis=None, default=0)``, ``sequence_map(x, y, f, basis=None, default=0)``;
- ``select(keys, queries, predicate)`` with EQ, LT, LEQ, GT, GEQ, NEQ, TRUE, FALSE
  or an expression over ``k`` and ``q``; ``a & b``, ``a | b``, ``~a``;
- ``aggregate(selector, values, numerical=False, default=0)``, ``selector_width(selector)``;
- ``soft_select(score(q, k, table), key_score(k, vector), ...)``;
- ``onehot``, ``argmax``, ``harden``, ``relu``, ``threshold``, ``normalize``,
  ``sharpen``, ``component``, ``vec_sum``, ``vec_max`` (or ``apply(name, x, **params)``);
- ``mlp(x, layers, activation, basis)``, ``readout((x, table), ..., bias=..., basis="tokens")``;
- ``constant(value, basis=None)``; ``v.named("name")`` names a variable.
"""

from __future__ import annotations

import numpy as np

from . import fields as F
from .errors import ProgramError
from .expr import Expr
from .ops import Constant, Indices, Node, Tokens, make_constant  # noqa: F401 (types for annotations)
from .ops_attention import (
    PREDICATES,
    SELECT_VARIABLES,
    Aggregate,
    Select,
    SelectorAnd,
    SelectorNot,
    SelectorOr,
    SelectorWidth,
)
from .ops_dense import MLP, Apply, Layer, Readout, ReadoutTerm
from .ops_map import MAP_VARIABLES, SEQUENCE_MAP_VARIABLES, Map, SequenceMap, _table_entries
from .ops_soft import ScoreTerm, SoftSelect
from .vtypes import as_basis

tokens = Tokens()
indices = Indices()

EQ, LT, LEQ, GT, GEQ, NEQ, TRUE, FALSE = "EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"


def _var(value, where: str) -> Node:
    if not isinstance(value, Node):
        raise ProgramError(f"{where}: expected a program variable, got {type(value).__name__}")
    return value


def _basis(basis):
    if basis is None:
        return None
    try:
        return as_basis(basis)
    except TypeError as err:
        raise ProgramError(str(err)) from None


def _function(f, variables, arity: int, default) -> dict:
    default = F.int_or_float(default, "default")
    if isinstance(f, str):
        return {"expr": Expr(f, variables), "table": None, "default": default}
    if isinstance(f, (dict, list, tuple)):
        return {"expr": None, "table": _table_entries(f, arity, "table"), "default": default}
    raise ProgramError(f"a function is an expression string or a lookup table, got {type(f).__name__}")


def map(x: Node, f, *, basis=None, default=0) -> Map:  # noqa: A001 (RASP's name)
    """``f(x)`` per position: ``cat[basis]`` when ``basis`` is given, else ``num`` (``vec`` for a vec x).

    ``f`` is an expression in ``x`` (and ``i``, the entry index, for a vec x) or
    a table ``{category: value}``; ``default`` fills missing keys and, for cat
    outputs, values outside the basis.
    """
    return Map(_var(x, "map"), **_function(f, MAP_VARIABLES, 1, default), basis=_basis(basis))


def sequence_map(x: Node, y: Node, f, *, basis=None, default=0) -> SequenceMap:
    """``f(x, y)`` per position; ``f`` is an expression in ``x, y`` or a table ``{(x, y): value}``."""
    return SequenceMap(_var(x, "sequence_map"), _var(y, "sequence_map"),
                       **_function(f, SEQUENCE_MAP_VARIABLES, 2, default), basis=_basis(basis))


def numerical(x: Node, f: str = "x") -> Map:
    """``map(x, f)`` with a num output (e.g. a cat turned into its number)."""
    return map(x, f)


def categorical(x: Node, f: str = "x", *, basis, default=0) -> Map:
    """``map(x, f, basis=basis)``: e.g. a num rounded to a category."""
    return map(x, f, basis=basis, default=default)


def select(keys: Node, queries: Node, predicate: str = EQ) -> Select:
    """Query ``i`` selects key ``j <= i`` when ``predicate(keys[j], queries[i])`` (``LT``: key < query)."""
    keys, queries = _var(keys, "select keys"), _var(queries, "select queries")
    if predicate in PREDICATES:
        return Select(keys, queries, predicate)
    if isinstance(predicate, str):
        return Select(keys, queries, None, Expr(predicate, SELECT_VARIABLES))
    raise ProgramError(f"a predicate is one of {', '.join(PREDICATES)} or an expression over k and q")


def selector_and(a: Node, b: Node) -> SelectorAnd:
    return SelectorAnd(_var(a, "selector_and"), _var(b, "selector_and"))


def selector_or(a: Node, b: Node) -> SelectorOr:
    return SelectorOr(_var(a, "selector_or"), _var(b, "selector_or"))


def selector_not(a: Node) -> SelectorNot:
    return SelectorNot(_var(a, "selector_not"))


def aggregate(selector: Node, values: Node, *, numerical: bool = False, default=0) -> Aggregate:
    """Mean of ``values`` over the selected keys; cat values: the common value (or ``default``),
    or with ``numerical=True`` the histogram ``vec``. See :mod:`.ops_attention`."""
    default = F.int_or_float(default, "default")
    return Aggregate(_var(selector, "aggregate"), _var(values, "aggregate"), bool(numerical), default)


def selector_width(selector: Node) -> SelectorWidth:
    """The number of selected keys (``num``)."""
    return SelectorWidth(_var(selector, "selector_width"))


def score(query: Node, key: Node, table) -> ScoreTerm:
    """A soft-selector term: ``table[query value, key value]`` (shape ``(|B_q|, |B_k|)``)."""
    return ScoreTerm(_var(query, "score"), _var(key, "score"), F.array(table, "score table", 2))


def key_score(key: Node, vector) -> ScoreTerm:
    """A soft-selector term that depends on the key only: ``vector[key value]``."""
    return ScoreTerm(None, _var(key, "key_score"), F.array(vector, "key_score vector", 1))


def soft_select(*terms: ScoreTerm) -> SoftSelect:
    """Causal softmax over the summed scores of ``terms`` (none: uniform over the prefix)."""
    for term in terms:
        if not isinstance(term, ScoreTerm):
            raise ProgramError("soft_select takes score(...) and key_score(...) terms")
    return SoftSelect(tuple(terms))


def apply(fn: str, x: Node, **params) -> Apply:
    """A nonlinearity from the library in :mod:`.nonlin`, by name."""
    return Apply(fn, _var(x, fn), dict(params))


def onehot(x: Node) -> Apply:
    return apply("onehot", x)


def argmax(x: Node) -> Apply:
    return apply("argmax", x)


def harden(x: Node) -> Apply:
    return apply("harden", x)


def relu(x: Node) -> Apply:
    return apply("relu", x)


def threshold(x: Node, t: float = 0.0) -> Apply:
    return apply("threshold", x, t=t)


def normalize(x: Node) -> Apply:
    return apply("normalize", x)


def sharpen(x: Node, power: int = 2) -> Apply:
    return apply("sharpen", x, power=power)


def component(x: Node, index: int) -> Apply:
    return apply("component", x, index=index)


def vec_sum(x: Node) -> Apply:
    return apply("sum", x)


def vec_max(x: Node) -> Apply:
    return apply("max", x)


def mlp(x: Node, layers, *, activation: str = "relu", basis=None) -> MLP:
    """An MLP kept as data: ``layers`` is a list of ``(weight (n_in, n_out), bias (n_out,))``."""
    built = []
    for n, layer in enumerate(layers):
        weight, bias = (layer["weight"], layer["bias"]) if isinstance(layer, dict) else layer
        built.append(Layer(F.array(weight, f"layer {n} weight", 2), F.array(bias, f"layer {n} bias", 1)))
    return MLP(_var(x, "mlp"), tuple(built), activation, _basis(basis))


def readout(*terms, bias=None, basis="tokens") -> Readout:
    """Logits: ``bias + sum(table[x] | x @ table | x * table)`` over ``(x, table)`` terms."""
    built = []
    for n, term in enumerate(terms):
        if not (isinstance(term, tuple) and len(term) == 2):
            raise ProgramError("readout terms are (variable, table) pairs")
        table = np.asarray(term[1], dtype=np.float64) if not isinstance(term[1], np.ndarray) else term[1]
        built.append(ReadoutTerm(_var(term[0], "readout"), F.array(table, f"readout term {n} table", table.ndim)))
    if bias is None:
        if not built:
            raise ProgramError("readout without terms needs a bias")
        bias = np.zeros(built[0].table.shape[-1])
    return Readout(tuple(built), F.array(bias, "readout bias", 1), _basis(basis))


def constant(value, basis=None) -> Constant:
    """A constant sequence: cat (an int with a basis), num (a float) or vec (a list with a basis)."""
    return make_constant(value, basis)


__all__ = [
    "tokens", "indices", "EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE",
    "map", "sequence_map", "numerical", "categorical", "select", "selector_and", "selector_or", "selector_not",
    "aggregate", "selector_width", "score", "key_score", "soft_select", "apply", "onehot", "argmax", "harden",
    "relu", "threshold", "normalize", "sharpen", "component", "vec_sum", "vec_max", "mlp", "readout", "constant",
]
