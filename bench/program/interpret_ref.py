"""The reference interpreter: one sequence, plain Python, obviously correct.

Values are Python lists over positions: ``cat`` ints, ``num`` floats, ``vec``
lists of floats; a selector is a list of rows, row ``i`` holding the keys
``0..i`` only, so causality holds by construction. Each operation's
``run_one`` (in ``ops*.py``) is written with explicit loops and shares no code
with its vectorized ``run_batch``; the tests check that the two agree.
"""

from __future__ import annotations

import numpy as np

from .errors import ProgramError
from .ops import SeqContext


def _check(program, ids) -> list[int]:
    ids = [int(t) for t in np.asarray(ids).reshape(-1)]
    if len(ids) > program.n_positions:
        raise ProgramError(f"a sequence of length {len(ids)} exceeds the program's n_positions {program.n_positions}")
    if any(not 0 <= t < program.vocab_size for t in ids):
        raise ProgramError(f"token ids outside the vocabulary 0..{program.vocab_size - 1}")
    return ids


def evaluate_reference(program, ids) -> dict[str, list]:
    """Every node's value on one sequence, by node id."""
    ctx = SeqContext(tokens=_check(program, ids), sizes=program.sizes)
    values: dict = {}
    for node in program.nodes:
        inputs = node.inputs()
        ctx.in_types = [program.types[v] for v in inputs]
        ctx.out = program.types[node]
        values[node] = node.run_one(ctx, *[values[v] for v in inputs])
    return {program.ids[n]: v for n, v in values.items()}


def run_reference(program, ids) -> np.ndarray:
    """Predictions for one sequence: (T,) int64 token ids, or (T, V) bool for token sets."""
    output = evaluate_reference(program, ids)[program.ids[program.output]]
    if program.types[program.output].kind == "cat":
        return np.array(output, dtype=np.int64).reshape(-1)
    if program.kind == "token":
        best = []
        for logits in output:
            top = 0
            for index, value in enumerate(logits):
                if value > logits[top]:
                    top = index
            best.append(top)
        return np.array(best, dtype=np.int64)
    return np.array([[value > 0 for value in logits] for logits in output], dtype=bool).reshape(-1, program.vocab_size)
