"""The oracle programs (``tasks/oracles/``): one per task, exact on the frozen test bins.

The key test runs every oracle on its task's test bins and compares its
predictions with the gold labels at every scored position. The default run
uses the first sequences of each bin (drawn with the bin's own seed, so they
are the frozen split's first rows); the ``slow`` test checks all 2,000.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import bench.tasks.oracles
from bench.data.oracles import get_oracle, oracle_names
from bench.data.splits import SPLIT_NAMES, load_splits, sample_split, split_batches
from bench.data.task import TaskError, get_task, task_names
from bench.program import Program, run_program, run_reference
from bench.scoring.score import BinCounts

TASKS = task_names()
#: Sequences per bin in the default run (the full bins run under ``-m slow``).
SUBSET = 48


def program_acc(name: str, batches) -> float:
    """The oracle's sequence accuracy against the gold labels over ``batches``."""
    program, counts = get_oracle(name), BinCounts()
    for batch in batches:
        predicted = run_program(program, batch)
        counts.add(batch, predicted, predicted)  # the gold comparison is program_acc
    return counts.metrics().program_acc


def first_failure(name: str, batch) -> str:
    """A readable description of the first wrong sequence of a batch ('' if none)."""
    task, predicted = get_task(name), run_program(get_oracle(name), batch)
    equal = predicted == batch.labels
    equal = equal.all(-1) if equal.ndim == 3 else equal
    wrong = np.flatnonzero(~(equal | ~batch.label_mask).all(1))
    if not len(wrong):
        return ""
    row, length = wrong[0], batch.lengths[wrong[0]]
    positions = np.flatnonzero(~(equal[row] | ~batch.label_mask[row])[:length])
    return f"{task.describe(batch.input_ids[row, :length])} (wrong at positions {positions[:10].tolist()})"


def test_oracle_registry_matches_the_suite():
    assert oracle_names() == TASKS
    with pytest.raises(TaskError, match="no oracle"):
        get_oracle("no_such_task")


@pytest.mark.parametrize("name", TASKS)
def test_every_task_has_an_oracle_for_its_format(name):
    task, program = get_task(name), get_oracle(name)
    assert isinstance(program, Program)
    assert (program.name, program.vocab_size, program.kind, program.n_positions) == (
        name, task.vocab_size, task.kind, task.n_positions)
    assert program.type_of(program.output).basis == "tokens"
    assert program.n_ops > 0 and program.n_params > 0


@pytest.mark.parametrize("name", TASKS)
def test_oracle_is_exact_on_the_first_sequences_of_every_bin(name):
    task = get_task(name)
    for split in SPLIT_NAMES:
        batch = task.collate(sample_split(task, split, SUBSET))
        assert program_acc(name, [batch]) == 1.0, f"{split}: {first_failure(name, batch)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", TASKS)
def test_oracle_is_exact_on_the_whole_frozen_bins(name, split_cache):
    splits = load_splits(name, cache_dir=split_cache)
    for split in SPLIT_NAMES:
        assert program_acc(name, split_batches(name, splits[split], batch_size=256)) == 1.0, split


LANGUAGES = [name for name in TASKS if get_task(name).kind == "token_set"]


@pytest.mark.parametrize("name", LANGUAGES)
def test_language_oracles_are_right_after_every_prefix_not_only_in_the_language(name):
    """Strings outside the language too: random ones, and words of the language with one symbol changed."""
    task, rng = get_task(name), np.random.default_rng(0)
    n = task.vocab.n_symbols
    strings = [rng.integers(0, n, size=int(rng.integers(0, 40))).tolist() for _ in range(32)]
    for _ in range(32):
        word = task.sample_string(task.draw_length(0, 40, rng), rng)
        word[int(rng.integers(0, len(word)))] = int(rng.integers(0, n))
        strings.append(word)
    batch = task.collate([[task.vocab.bos, *s, task.vocab.eos] for s in strings])
    assert program_acc(name, [batch]) == 1.0, first_failure(name, batch)


@pytest.mark.parametrize("name", TASKS)
def test_json_round_trip_is_exact(name):
    program = get_oracle(name)
    again = Program.from_json(program.to_json())
    assert again == program
    assert again.dumps() == program.dumps()
    assert Program.from_json(program.dumps()).dumps() == program.dumps()
    assert again.size() == program.size()


@pytest.mark.parametrize("name", TASKS)
def test_pretty_prints_one_line_per_named_variable_and_ends_with_the_output(name):
    program = get_oracle(name)
    lines = program.pretty().splitlines()
    assert lines[0].startswith(f"# {name}: {program.kind} program") and f"n_ops={program.n_ops}" in lines[0]
    named = [program.ids[n] for n in program.nodes if n.label is not None]
    assert named, "an oracle names its variables"
    for variable in named:
        assert sum(line.startswith(f"{variable} = ") for line in lines) == 1, variable
    output_id = program.ids[program.output]
    assert lines[-1] == f"output = {output_id}"
    assert len(named) <= len(lines) - 2 <= program.n_ops  # selectors used once are written inline


@pytest.mark.parametrize("name", TASKS)
def test_reference_interpreter_agrees_with_the_vectorized_one(name):
    task, program = get_task(name), get_oracle(name)
    short = sorted(sample_split(task, "test_0_50", 8), key=len)[:3]  # the reference is plain Python
    for ids in short:
        fast = run_program(program, [ids])[0]
        assert np.array_equal(np.asarray(run_reference(program, ids)), fast), task.describe(ids)


@pytest.mark.parametrize("name", ["sort", "addition", "tomita3"])
def test_oracles_build_deterministically(name):
    assert get_oracle(name).dumps() == get_oracle(name).dumps()


@pytest.mark.parametrize(
    "module", [m.name for m in pkgutil.iter_modules(bench.tasks.oracles.__path__, "bench.tasks.oracles.")]
)
def test_docstring_examples(module):
    """The examples in the oracle docstrings (also collected by ``--doctest-modules``)."""
    result = doctest.testmod(importlib.import_module(module), verbose=False)
    assert result.failed == 0
    if not module.endswith("_lib"):
        assert result.attempted > 0
