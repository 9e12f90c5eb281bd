"""Demo programs (the worked examples of docs/program_language.md) solve real suite tasks.

They show that the language expresses what the oracles need: counting with
selector_width and numerical aggregates, position arithmetic, vec histograms
with nonlinearities, and next-token-set readouts. Each is checked against the
task's gold labels at every scored position, at all test lengths.
"""

from __future__ import annotations

import numpy as np
import pytest

import bench.program as rasp
from bench.data.task import get_task
from bench.program.examples import make_dyck, make_histogram, make_parity, make_reverse, make_sort


def _check_on_task(program, task, lo, hi, n=60, seed=0):
    batch = task.sample_batch(n, lo, hi, np.random.default_rng(seed), offsets=False)
    pred = rasp.run_program(program, batch)
    mask = batch.label_mask
    assert np.array_equal(pred[mask], batch.labels[mask]), f"{program.name} is wrong on {task.name} {lo}-{hi}"
    for row in range(1):  # the reference interpreter agrees (it is slow on long sequences)
        length = int(batch.lengths[row])
        assert np.array_equal(rasp.run_reference(program, batch.input_ids[row, :length]), pred[row, :length])


def test_histogram():
    program = make_histogram()
    assert rasp.run_program(program, [[0, 1, 0, 0, 0]]).tolist() == [[1, 1, 2, 3, 3]]
    assert program.depth == 1 and program.n_ops == 3


@pytest.mark.parametrize("bins", [(0, 50), (101, 150)])
def test_reverse(bins):
    task = get_task("unique_reverse")
    _check_on_task(make_reverse(task), task, *bins)


@pytest.mark.parametrize("bins", [(0, 50), (101, 150)])
def test_sort(bins):
    task = get_task("sort")
    _check_on_task(make_sort(task), task, *bins)


def test_parity():
    task = get_task("parity")
    _check_on_task(make_parity(task), task, 0, 150)


@pytest.mark.parametrize("name, max_depth", [("d2", 2), ("d4", 4), ("d12", 12)])
def test_dyck_next_token_sets(name, max_depth):
    task = get_task(name)
    _check_on_task(make_dyck(task, max_depth), task, 1, 150)


def test_demos_round_trip_and_print():
    for program in (make_histogram(), make_sort(get_task("sort")), make_dyck(get_task("d4"), 4)):
        assert rasp.Program.from_json(program.to_json()) == program
        assert program.pretty().splitlines()[-1] == "output = out" or program.pretty().endswith("output = allowed")
