"""Building blocks shared by the oracle programs (like tracr's ``compiler/lib.py``).

Each helper returns fresh program variables, so one program may use a helper
several times. Conventions: a "prefix" is the query position and every key
before it (the interpreter enforces causality); token ids follow docs/tasks.md
(content symbols ``0..n-1``, then ``<bos> <sep> <eos> <pad>``).

:func:`show` runs an oracle on one decoded sequence and prints its predictions
at the scored positions; the oracle docstrings use it as their example.
"""

from __future__ import annotations

import numpy as np

from bench.data.task import Task, get_task
from bench.program import (
    Node,
    Program,
    aggregate,
    argmax,
    indices,
    map,
    readout,
    run_program,
    select,
    selector_width,
    tokens,
)


def count_tokens(predicate: str) -> Node:
    """``num``: how many tokens ``k`` of the prefix satisfy ``predicate`` (e.g. ``"k == 0"``)."""
    return selector_width(select(tokens, tokens, predicate))


def count_true(flag: Node) -> Node:
    """``num``: how many positions of the prefix have ``flag`` (a ``cat[bool]``) set."""
    return selector_width(select(flag, flag, "k == 1"))


def position_of(token: int) -> Node:
    """``cat[positions]``: where the (unique) ``token`` stands, 0 while it is not in the prefix."""
    return aggregate(select(tokens, tokens, f"k == {token}"), indices)


def previous(values: Node, default: int = 0) -> Node:
    """``values`` one position back (``default`` at position 0)."""
    return aggregate(select(indices, indices, "k == q - 1"), values, default=default)


def last_position(selector: Node, name: str) -> Node:
    """``cat[positions]`` named ``name``: the largest selected key index (0 when none is selected).

    The histogram of the selected indices is nonzero exactly at the selected
    positions; weighting entry ``i`` by ``i + 1`` makes the last one the argmax.
    """
    seen = aggregate(selector, indices, numerical=True).named(f"{name}_seen")  # vec[positions]
    return argmax(map(seen, "(x > 0) * (i + 1)").named(f"{name}_score")).named(name)


def allowed_logits(task: Task, state: Node, allowed: dict[int, str]) -> Node:
    """``vec[tokens]`` logits: +1 for the tokens allowed in each ``state``, -1 elsewhere.

    ``allowed`` maps a state (a category of ``state``) to the allowed tokens,
    written as in the vocabulary and separated by spaces (``"0 1 <eos>"``);
    states left out allow nothing (a dead state).
    """
    n_states = 1 + max(allowed)
    table = -np.ones((n_states, task.vocab_size))
    for row, words in allowed.items():
        table[row, task.vocab.encode(words.split())] = 1.0
    return readout((state, table))


def show(program: Program, text: str) -> str:
    """The program's predictions at the scored positions of one decoded sequence.

    Token tasks: the predicted tokens, space-separated (the sequence must be a
    correct one of the task). Token-set tasks: one ``{...}`` set of allowed
    tokens per scored position (any string, in the language or not).
    """
    task = get_task(program.name)
    ids = task.vocab.encode(text.split())
    if task.kind == "token":
        task.check(ids)
    batch = task.collate([ids])
    predicted = run_program(program, batch)[0]
    scored = np.flatnonzero(batch.label_mask[0])
    if task.kind == "token":
        return " ".join(task.vocab.decode(predicted[scored]))
    return " ".join("{" + " ".join(task.vocab.decode(np.flatnonzero(predicted[t]))) + "}" for t in scored)
