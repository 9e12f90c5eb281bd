"""Dense positionwise operations: named nonlinearities, MLPs kept as data, readouts.

- ``apply(name, x, **params)``: an entry of the nonlinearity library
  (:mod:`.nonlin`), e.g. ``onehot`` (cat -> vec), ``argmax`` (vec -> cat),
  ``threshold``, ``relu``.
- ``mlp(x, layers, activation, basis)``: ``h = x``; for every layer
  ``h = h @ weight + bias``, with ``activation`` between layers (not after the
  last). ``x`` is a ``num`` (one input), a ``cat`` (its one-hot) or a ``vec``.
  The output is ``vec[basis]``, or a ``num`` when ``basis`` is None and the last
  layer has one output. Activations: ``relu``, ``gelu_new`` (GPT-2's tanh
  approximation), ``tanh``, ``identity``.
- ``readout(terms, bias, basis="tokens")``: ``bias + sum of term(x)`` where a
  term is ``table[x]`` for a ``cat`` x (table ``(|B_x|, n)``), ``x @ table`` for a
  ``vec`` x (same shape), or ``x * table`` for a ``num`` x (table ``(n,)``). The
  output is ``vec[basis]``: for ``tokens``, logits over the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from . import detmath, fast_dense
from . import fields as F
from .errors import MAX_MLP_LAYERS, MAX_TERMS, ProgramError
from .expr import sanitize
from .nonlin import NONLINEARITIES, check_params, resolved_params
from .ops import Node, expect_kind, register_op
from .vtypes import NUM, TOKENS, Basis, ValueType

ACTIVATIONS = ("relu", "gelu_new", "tanh", "identity")


@register_op
@dataclass(frozen=True, eq=False)
class Apply(Node):
    """An elementwise nonlinearity from the named library."""

    fn: str
    x: Node
    params: dict = field(default_factory=dict)

    op: ClassVar[str] = "apply"

    def inputs(self):
        return (self.x,)

    def typecheck(self, ctx, types):
        entry = NONLINEARITIES.get(self.fn) if isinstance(self.fn, str) else None
        if entry is None:
            raise ProgramError(f"unknown nonlinearity {str(self.fn)[:30]!r} (known: {', '.join(NONLINEARITIES)})")
        problems = check_params(entry, self.params)
        (t,) = types
        if t.kind not in entry.inputs:
            problems.append(f"{self.fn} takes {' or '.join(entry.inputs)}, got {t}")
        elif "index" in self.params and t.kind == "vec" and not problems:
            if not self.params["index"] < ctx.size(t.basis):
                problems.append(f"{self.fn}: index {self.params['index']} outside basis {t.basis}")
        if problems:
            raise ProgramError(problems)
        return entry.out(t, self.params)

    def n_params(self):
        return len(self.params)

    def to_fields(self, ref):
        return {"fn": self.fn, "x": ref(self.x), "params": dict(self.params)}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("fn", "x"), ("params",))
        fn = obj["fn"]
        if not isinstance(fn, str) or fn not in NONLINEARITIES:
            raise ProgramError(f"unknown nonlinearity {str(fn)[:30]!r} (known: {', '.join(NONLINEARITIES)})")
        params = obj.get("params", {})
        if not isinstance(params, dict):
            raise ProgramError("field 'params' must be an object")
        problems = check_params(NONLINEARITIES[fn], params)
        if problems:
            raise ProgramError(problems)
        return cls(fn, node(F.field(obj, "x", F.ref_id)), dict(params))

    def _params(self, ctx) -> dict:
        params = resolved_params(NONLINEARITIES[self.fn], self.params)
        (t,) = ctx.in_types
        if t.basis is not None:
            params["_size"] = ctx.sizes[t.basis]
        return params

    def run_batch(self, ctx, x):
        return NONLINEARITIES[self.fn].vectorized(x, self._params(ctx))

    def run_one(self, ctx, x):
        params = self._params(ctx)
        return [NONLINEARITIES[self.fn].scalar(v, params) for v in x]

    def render(self, args, out):
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{self.fn}({args[0]}{params})"


@dataclass(frozen=True, eq=False)
class Layer:
    weight: np.ndarray  # (n_in, n_out)
    bias: np.ndarray  # (n_out,)


@register_op
@dataclass(frozen=True, eq=False)
class MLP(Node):
    """A small multi-layer perceptron whose weights are part of the program."""

    x: Node
    layers: tuple[Layer, ...]
    activation: str = "relu"
    basis: Basis | None = None

    op: ClassVar[str] = "mlp"

    def inputs(self):
        return (self.x,)

    def bases(self):
        return (self.basis,) if self.basis is not None else ()

    def typecheck(self, ctx, types):
        (t,) = types
        expect_kind("the input", t, "cat", "num", "vec")
        problems = []
        if self.activation not in ACTIVATIONS:
            problems.append(f"unknown activation {str(self.activation)[:20]!r} (known: {', '.join(ACTIVATIONS)})")
        if not 1 <= len(self.layers) <= MAX_MLP_LAYERS:
            problems.append(f"needs 1..{MAX_MLP_LAYERS} layers, got {len(self.layers)}")
        width = 1 if t.kind == "num" else ctx.size(t.basis)
        for n, layer in enumerate(self.layers):
            if layer.weight.shape[0] != width or layer.bias.shape != layer.weight.shape[1:]:
                problems.append(f"layer {n}: weight {layer.weight.shape} and bias {layer.bias.shape} "
                                f"do not fit an input of width {width}")
                break
            width = layer.weight.shape[1]
        if not problems:
            expected = 1 if self.basis is None else ctx.size(self.basis.name)
            if width != expected:
                problems.append(f"output width {width}, but basis {self.basis or '(num)'} needs {expected}")
        if problems:
            raise ProgramError(problems)
        return NUM if self.basis is None else ValueType("vec", self.basis.name)

    def n_params(self):
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def to_fields(self, ref):
        return {"x": ref(self.x), "activation": self.activation, "basis": self.basis.name if self.basis else None,
                "layers": [{"weight": l.weight.tolist(), "bias": l.bias.tolist()} for l in self.layers]}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("x", "layers"), ("activation", "basis"))
        raw = obj["layers"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_MLP_LAYERS:
            raise ProgramError(f"field 'layers' must be a list of 1..{MAX_MLP_LAYERS} layers")
        layers = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) != {"weight", "bias"}:
                raise ProgramError(f"layer {n} must be an object with exactly 'weight' and 'bias'")
            layers.append(Layer(F.array(item["weight"], f"layer {n} weight", 2), F.array(item["bias"], f"layer {n} bias", 1)))
        name = obj.get("basis")
        activation = obj.get("activation", "relu")
        if not isinstance(activation, str):
            raise ProgramError("field 'activation' must be a string")
        return cls(node(F.field(obj, "x", F.ref_id)), tuple(layers), activation,
                   basis(F.check_name(name, "field 'basis'")) if name is not None else None)

    def run_batch(self, ctx, x):
        (t,) = ctx.in_types
        h = fast_dense.mlp(self.layers, self.activation, x, t.kind, ctx.sizes.get(t.basis))
        return h[..., 0] if self.basis is None else h

    def run_one(self, ctx, x):
        (t,) = ctx.in_types
        layers = [(layer.weight.tolist(), layer.bias.tolist()) for layer in self.layers]
        out = []
        for value in x:
            if t.kind == "num":
                h = [float(value)]
            elif t.kind == "cat":
                h = [1.0 if c == value else 0.0 for c in range(ctx.sizes[t.basis])]
            else:
                h = list(value)
            for n, (weight, bias) in enumerate(layers):
                if n:
                    h = [_activation(self.activation, v) for v in h]
                h = [sanitize(bias[o] + sum(h[i] * weight[i][o] for i in range(len(h)))) for o in range(len(bias))]
            out.append(h[0] if self.basis is None else h)
        return out

    def render(self, args, out):
        shapes = " -> ".join([str(self.layers[0].weight.shape[0])] + [str(l.weight.shape[1]) for l in self.layers])
        return f"mlp({args[0]}, <{shapes}, {self.activation}>)"


def _activation(name: str, v: float) -> float:
    if name == "relu":
        return max(v, 0.0)
    if name == "gelu_new":
        return detmath.gelu_new(v)  # the cube as (v * v) * v, tanh and sqrt(2 / pi) as in detmath
    if name == "tanh":
        return detmath.tanh(v)
    return v


@dataclass(frozen=True, eq=False)
class ReadoutTerm:
    """``table[x]`` (cat x), ``x @ table`` (vec x) or ``x * table`` (num x)."""

    x: Node
    table: np.ndarray

    def __post_init__(self):
        if not isinstance(self.x, Node):
            raise ProgramError(f"readout term: expected a program variable, got {type(self.x).__name__}")


@register_op
@dataclass(frozen=True, eq=False)
class Readout(Node):
    """A sum of per-variable logit tables plus a bias: a ``vec`` over ``basis`` (default: the vocabulary)."""

    terms: tuple[ReadoutTerm, ...]
    bias: np.ndarray
    basis: Basis = TOKENS

    op: ClassVar[str] = "readout"

    def inputs(self):
        return tuple(term.x for term in self.terms)

    def bases(self):
        return (self.basis,)

    def typecheck(self, ctx, types):
        if len(self.terms) > MAX_TERMS:
            raise ProgramError(f"more than {MAX_TERMS} terms")
        n = ctx.size(self.basis.name)
        problems = [] if self.bias.shape == (n,) else [f"bias of shape {self.bias.shape}, expected ({n},)"]
        for k, (term, t) in enumerate(zip(self.terms, types)):
            if t.kind not in ("cat", "vec", "num"):
                problems.append(f"term {k}: x must be cat, vec or num, got {t}")
                continue
            shape = (n,) if t.kind == "num" else (ctx.size(t.basis), n)
            if term.table.shape != shape:
                problems.append(f"term {k}: table of shape {term.table.shape}, expected {shape}")
        if problems:
            raise ProgramError(problems)
        return ValueType("vec", self.basis.name)

    def n_params(self):
        return self.bias.size + sum(term.table.size for term in self.terms)

    def to_fields(self, ref):
        return {"terms": [{"x": ref(t.x), "table": t.table.tolist()} for t in self.terms],
                "bias": self.bias.tolist(), "basis": self.basis.name}

    @classmethod
    def from_fields(cls, obj, node, basis):
        F.check_keys(obj, ("terms", "bias"), ("basis",))
        raw = obj["terms"]
        if not isinstance(raw, list) or len(raw) > MAX_TERMS:
            raise ProgramError(f"field 'terms' must be a list of at most {MAX_TERMS} terms")
        terms = []
        for k, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) != {"x", "table"}:
                raise ProgramError(f"term {k} must be an object with exactly 'x' and 'table'")
            table = item["table"]
            ndim = 2 if isinstance(table, list) and table and isinstance(table[0], list) else 1
            ndim = table.ndim if isinstance(table, np.ndarray) else ndim  # read from a sidecar
            terms.append(ReadoutTerm(node(F.ref_id(item["x"], f"term {k} x")), F.array(table, f"term {k} table", ndim)))
        name = obj.get("basis", "tokens")
        return cls(tuple(terms), F.field(obj, "bias", F.array, 1), basis(F.check_name(name, "field 'basis'")))

    def run_batch(self, ctx, *values):
        return fast_dense.readout(self.terms, self.bias, values, [t.kind for t in ctx.in_types], ctx.shape)

    def run_one(self, ctx, *values):
        tables = [term.table.tolist() for term in self.terms]
        bias = self.bias.tolist()
        out = []
        for i in range(len(ctx.tokens)):
            logits = list(bias)
            for table, x, t in zip(tables, values, ctx.in_types):
                for o in range(len(logits)):
                    if t.kind == "cat":
                        logits[o] += table[x[i]][o]
                    elif t.kind == "vec":
                        logits[o] += sum(x[i][b] * table[b][o] for b in range(len(table)))
                    else:
                        logits[o] += x[i] * table[o]
            out.append([sanitize(v) for v in logits])
        return out

    def render(self, args, out):
        parts = [f"{a} @ <{'x'.join(str(s) for s in t.table.shape)} table>" for a, t in zip(args, self.terms)]
        return f"readout({' + '.join(parts + [f'<{self.bias.size} bias>'])})"
