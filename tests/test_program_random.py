"""The two interpreters agree on random well-typed programs; JSON round-trips them exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import bench.program as rasp
from program_strategies import programs

FAST = settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
MANY = settings(max_examples=20000, deadline=None, suppress_health_check=list(HealthCheck))


def _compare(case) -> None:
    program = case.program
    fast = rasp.evaluate(program, case.input_ids)
    for row, length in enumerate(case.lengths):
        length = int(length)
        ref = rasp.evaluate_reference(program, case.input_ids[row, :length])
        for node_id, ref_value in ref.items():
            kind = program.type_of(node_id).kind
            value = fast[node_id][row][:length]
            if kind in ("sel", "soft"):
                value = value[:, :length]
                expected = np.zeros((length, length), dtype=value.dtype)
                for i, keys in enumerate(ref_value):
                    expected[i, : i + 1] = keys
                assert not np.any(np.triu(value, 1)), f"{node_id}: a key after the query is selected"
            else:
                expected = np.asarray(ref_value, dtype=value.dtype)
            level = case.levels.get(node_id, 0 if kind in ("cat", "sel") else 2)
            if level < 2 and kind != "soft":
                assert np.array_equal(value, expected), f"{node_id} ({kind}) differs:\n{value}\n{expected}\n{program.pretty()}"
            else:
                assert np.allclose(value, expected, rtol=1e-9, atol=1e-9), f"{node_id} differs\n{program.pretty()}"
    if case.levels.get(program.ids[program.output], 2) < 2:
        preds = rasp.run_program(program, (case.input_ids, case.lengths))
        for row, length in enumerate(case.lengths):
            ref_pred = rasp.run_reference(program, case.input_ids[row, : int(length)])
            assert np.array_equal(preds[row, : int(length)], ref_pred)


@FAST
@given(programs())
def test_interpreters_agree_on_random_programs(case):
    _compare(case)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(programs())
def test_json_round_trip_of_random_programs(case):
    program = case.program
    obj = program.to_json()
    again = rasp.Program.from_json(obj)
    assert again == program
    assert again.to_json() == obj
    assert rasp.Program.from_json(program.dumps()).to_json() == obj
    assert again.size() == program.size()
    assert again.pretty() == program.pretty()
    np.testing.assert_array_equal(rasp.run_program(again, case.input_ids), rasp.run_program(program, case.input_ids))


@pytest.mark.slow
@MANY
@given(programs(max_steps=16))
def test_interpreters_agree_on_many_random_programs(case):
    _compare(case)
