"""Small example programs: the worked examples of docs/program_language.md.

They are demonstrations of the language (used by its tests and by
``scripts/bench_interpreter.py``), not the suite's oracle programs, which live
with the tasks. Each takes the task whose vocabulary it uses.

>>> run_program(make_histogram(), [[0, 1, 0, 0, 0]]).tolist()
[[1, 1, 2, 3, 3]]
"""

from __future__ import annotations

import numpy as np

from .build import (EQ, TRUE, aggregate, argmax, indices, map, readout, select, selector_width, sequence_map,
                    tokens)
from .interpret_fast import run_program  # noqa: F401  (used by the doctest)
from .program import Program


def make_histogram(vocab_size: int = 8) -> Program:
    """How often the current token occurred so far, capped at 3: ``a b a a`` -> ``1 1 2 3``."""
    same = select(tokens, tokens, EQ)
    hist = selector_width(same).named("hist")
    out = map(hist, "min(x, 3)", basis="tokens").named("out")
    return Program(out, vocab_size=vocab_size, kind="token", n_positions=64, name="hist")


def make_reverse(task) -> Program:
    """``<bos> x <sep> reverse(x) <eos>``: at position t after <sep>, copy x[2*sep - t - 1]."""
    sep, eos = task.vocab.sep, task.vocab.eos
    prefix = select(indices, indices, TRUE).named("prefix")
    is_sep = map(tokens, f"x == {sep}")
    sep_pos = aggregate(prefix, sequence_map(is_sep, indices, "x * y"))  # mean of [t == sep] * t
    n_seen = selector_width(prefix)
    sep_at = sequence_map(sep_pos, n_seen, "round(x * y)", basis="positions").named("sep_at")
    source = sequence_map(sep_at, indices, "2 * x - y - 1", basis="positions", default=0).named("source")
    copied = aggregate(select(indices, source, EQ), tokens).named("copied")
    done = sequence_map(sep_at, indices, "y - x >= x - 1", basis="bool").named("done")
    out = sequence_map(copied, done, f"{eos} if y else x", basis="tokens").named("out")
    return Program.for_task(task, out, name="reverse_demo")


def make_sort(task) -> Program:
    """Sort of distinct tokens: the next output is the smallest input symbol above the current token."""
    n, eos = task.vocab.n_symbols, task.vocab.eos
    seen = aggregate(select(indices, indices, TRUE), tokens, numerical=True).named("seen")
    current = map(tokens, f"x if x < {n} else -1").named("current")  # <sep> counts as -1
    candidates = sequence_map(
        seen, current, f"(x > 0 and i > y and i < {n}) * ({n} - i) + (i == {eos}) * 0.5").named("candidates")
    return Program.for_task(task, argmax(candidates).named("out"), name="sort_demo")


def make_parity(task) -> Program:
    """``<bos> x <sep> y``: y is the parity of the ones, a modular count."""
    prefix = select(indices, indices, TRUE)
    ones = aggregate(prefix, map(tokens, "x == 1"))
    count = sequence_map(ones, selector_width(prefix), "round(x * y)").named("count")
    return Program.for_task(task, map(count, "x % 2", basis="tokens").named("parity"), name="parity_demo")


def make_dyck(task, max_depth: int) -> Program:
    """Dyck-1 with bounded depth: the allowed next tokens from the current depth, through a readout."""
    a, b = task.vocab.encode(["a", "b"])
    eos, V = task.vocab.eos, task.vocab_size
    prefix = select(indices, indices, TRUE)
    step = map(tokens, f"(x == {a}) - (x == {b})")
    depth = sequence_map(aggregate(prefix, step), selector_width(prefix), "round(x * y)",
                              basis=max_depth + 2, default=max_depth + 1).named("depth")  # last row: invalid
    allowed = np.full((max_depth + 2, V), -1.0)
    allowed[:max_depth, a] = 1
    allowed[1 : max_depth + 1, b] = 1
    allowed[0, eos] = 1
    return Program.for_task(task, readout((depth, allowed)).named("allowed"), name="dyck_demo")
