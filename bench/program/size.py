"""Size measures of a program (the benchmark's size axis).

- ``n_ops``: the number of operations, i.e. nodes other than the inputs
  (``tokens``, ``indices``) and constants. Selects, selector logic, maps,
  aggregates, nonlinearities, MLPs and readouts each count 1.
- ``depth``: the number of layers a transformer needs to run the program: the
  largest number of attention-like operations (``aggregate``, hard or soft,
  and ``selector_width``) on any path from an input to the output. Maps,
  selects and the other positionwise operations are free. A program without
  attention has depth 0.
- ``n_params``: a description-length proxy, the sum over operations of
  table entries (a lookup table counts its entries plus 1 for the default;
  score, readout and MLP tables count every weight and bias), expression
  syntax nodes (numbers, names, operators, comparisons, calls, conditionals;
  see :attr:`Expr.n_nodes`), 1 per named select predicate, 1 per nonlinearity
  parameter and 1 per constant entry.
"""

from __future__ import annotations


def n_ops(program) -> int:
    return sum(1 for node in program.nodes if not node.is_leaf)


def depth(program) -> int:
    layers: dict = {}
    for node in program.nodes:  # inputs come before their users
        below = max((layers[v] for v in node.inputs()), default=0)
        layers[node] = below + (1 if node.is_attention else 0)
    return layers[program.output]


def n_params(program) -> int:
    return sum(node.n_params() for node in program.nodes)


def size(program) -> dict[str, int]:
    return {"n_ops": n_ops(program), "depth": depth(program), "n_params": n_params(program)}
