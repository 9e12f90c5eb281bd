"""The vectorized interpreter's dense operations: MLPs and readouts.

Called by the ``run_batch`` methods in :mod:`.ops_dense`. Numerics
(docs/program_language.md, "Numerics"): products with weight tables are exact
slices (:mod:`.exactdot`), activations are the language's own
(:mod:`.detmath`), so every bit is the same on every machine.

- An MLP over a ``cat`` input starts from the rows of its first weight matrix
  (``onehot(x) @ W`` is exactly ``W[x]``, as in the reference) and runs once
  per category present, then is gathered; over a ``num`` input the first layer
  is one product ``x * W[0]``; over a ``vec`` input, exact-slice products.
- A readout adds its terms in order to the bias: ``table[x]`` (a gather),
  ``x * table`` or an exact-slice ``x @ table``, then clips.
"""

from __future__ import annotations

import numpy as np

from . import detmath
from .errors import MAX_VALUE
from .exactdot import times_table


def sanitize(values: np.ndarray) -> np.ndarray:
    """NaN -> 0 and clipping to +-MAX_VALUE, in place when possible."""
    values = np.clip(values, -MAX_VALUE, MAX_VALUE, out=values if values.flags.writeable else None)
    nan = np.isnan(values)
    if nan.any():
        values[nan] = 0.0
    return values


def activation(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "gelu_new":
        return detmath.gelu_new_np(h)
    if name == "tanh":
        return detmath.tanh_np(h)
    return h


def mlp(layers, activation_name: str, x: np.ndarray, kind: str, size: int | None) -> np.ndarray:
    """The MLP's last-layer output (..., n_out) for a cat (category ids), num or vec input."""
    if kind == "cat":
        present, where = np.unique(x, return_inverse=True)
        rows = _layers(layers, activation_name, layers[0].weight[present] + layers[0].bias)
        return rows[where.reshape(x.shape)]
    if kind == "num":
        first = x[..., None] * layers[0].weight[0] + layers[0].bias
    else:
        first = times_table(x, layers[0].weight, value=True) + layers[0].bias
    return _layers(layers, activation_name, first)


def _layers(layers, activation_name: str, h: np.ndarray) -> np.ndarray:
    """The layers after the first, from the first layer's output (before its clipping)."""
    h = sanitize(h)
    for layer in layers[1:]:
        h = sanitize(times_table(activation(activation_name, h), layer.weight) + layer.bias)
    return h


def readout(terms, bias: np.ndarray, values, kinds, shape: tuple[int, int]) -> np.ndarray:
    """``bias + sum of term(x)``, terms added in order, then clipped."""
    out = np.empty(shape + bias.shape)
    out[...] = bias
    for term, x, kind in zip(terms, values, kinds):
        if kind == "cat":
            out += term.table[x]
        elif kind == "num":
            out += x[..., None] * term.table
        else:
            out += times_table(x, term.table, value=True)
    return sanitize(out)
