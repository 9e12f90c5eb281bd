"""The benchmark's RASP program language (see docs/program_language.md).

A program is a DAG of operations over sequences, pure data: built with the
construction API below (it reads like RASP), validated on construction,
serialized to JSON, printed as RASP-style code, measured (``n_ops``,
``depth``, ``n_params``) and run by two interpreters: a vectorized one over
padded batches (:func:`run_program`, :func:`evaluate`) and a plain-Python
reference for one sequence (:func:`run_reference`, :func:`evaluate_reference`).

    >>> import bench.program as rasp
    >>> hist = rasp.selector_width(rasp.select(rasp.tokens, rasp.tokens, rasp.EQ))
    >>> p = rasp.Program(rasp.map(hist, "x", basis="tokens"), vocab_size=4, kind="token", n_positions=8)
    >>> rasp.run_program(p, [[0, 1, 0, 0]]).tolist()
    [[1, 1, 2, 3]]
"""

from .build import *  # noqa: F401,F403  (the construction API)
from .build import __all__ as _build_all
from .errors import ProgramError
from .expr import Expr
from .interpret_fast import evaluate, predictions, run_program
from .interpret_ref import evaluate_reference, run_reference
from .nonlin import NONLINEARITIES, Nonlinearity, register_nonlinearity
from .ops import OPS, Node, register_op
from .program import Program
from .serialize import SCHEMA_VERSION
from .vtypes import Basis, ValueType

__all__ = [
    *_build_all, "Program", "ProgramError", "Expr", "Node", "Basis", "ValueType", "OPS", "register_op",
    "NONLINEARITIES", "Nonlinearity", "register_nonlinearity", "SCHEMA_VERSION",
    "run_program", "evaluate", "predictions", "run_reference", "evaluate_reference",
]
