"""Validation reports every problem at once, naming nodes; JSON reading refuses bad input clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bench.program as rasp
from bench.program import EQ, TRUE, Basis, Program, ProgramError, indices, tokens

V = 6


def problems_of(build) -> list[str]:
    with pytest.raises(ProgramError) as info:
        build()
    assert str(info.value) and "\n" not in str(info.value)
    return info.value.problems


def small_program() -> Program:
    prefix = rasp.select(indices, indices, TRUE).named("prefix")
    hist = rasp.aggregate(prefix, tokens, numerical=True).named("hist")
    return Program(rasp.argmax(hist).named("out"), vocab_size=V, kind="token", n_positions=8, name="small")


def test_reports_every_problem_naming_the_nodes():
    bad_sel = rasp.aggregate(tokens, tokens).named("swapped")  # a cat where a selector belongs
    bad_table = rasp.map(tokens, {9: 1}, basis="tokens").named("offvocab")  # key outside the vocabulary
    bad_default = rasp.map(tokens, "x", basis="bool", default=7).named("baddefault")
    out = rasp.readout((bad_sel, np.zeros((V, V))), (bad_table, np.zeros((V, V))), (bad_default, np.zeros((3, V))))
    problems = problems_of(lambda: Program(out, vocab_size=V, kind="token", n_positions=8))
    assert len(problems) == 3
    assert "node 'swapped' (aggregate): the selector must be sel or soft" in problems[0]
    assert any("'offvocab'" in p and "key 9 outside basis tokens" in p for p in problems)
    assert any("'baddefault'" in p and "category 7" in p for p in problems)


def test_type_mismatches():
    cases = [
        (lambda: rasp.select(rasp.onehot(tokens), tokens, EQ), "keys must be cat or num"),
        (lambda: rasp.selector_width(rasp.map(tokens, "x")), "must be sel"),
        (lambda: rasp.aggregate(rasp.soft_select(), tokens), "numerical=True"),
        (lambda: rasp.aggregate(rasp.select(tokens, tokens, EQ), rasp.onehot(tokens), default=1), "default must be 0"),
        (lambda: rasp.argmax(tokens), "argmax takes vec"),
        (lambda: rasp.map(tokens, "i"), "only defined when an argument is a vec"),
        (lambda: rasp.map(rasp.map(tokens, "x"), {0: 1}), "needs cat arguments"),
        (lambda: rasp.sequence_map(rasp.onehot(tokens), rasp.onehot(indices), "x + y"), "different bases"),
        (lambda: rasp.map(rasp.onehot(tokens), "x", basis="bool"), "no output basis"),
        (lambda: rasp.soft_select(rasp.score(tokens, indices, np.zeros((2, 2)))), "expected (6, 8)"),
        (lambda: rasp.component(rasp.onehot(tokens), 6), "index 6 outside"),
        (lambda: rasp.apply("sharpen", rasp.onehot(tokens), power=0), "power"),
        (lambda: rasp.apply("nope", tokens), "unknown nonlinearity"),
        (lambda: rasp.mlp(tokens, [(np.zeros((3, 2)), np.zeros(2))], basis=2), "do not fit"),
        (lambda: rasp.readout((tokens, np.zeros(V))), "expected (6, 6)"),
        (lambda: rasp.constant(5, basis="bool"), "outside basis bool"),
    ]
    for build, message in cases:
        node = build()
        problems = problems_of(lambda: Program(_sink(node), vocab_size=V, kind="token_set", n_positions=8))
        assert any(message in p for p in problems), (message, problems)


def _sink(node):
    """Something that makes ``node`` part of a program whatever its (possibly broken) type."""
    return rasp.readout((rasp.map(rasp.constant(0.0), "x"), np.zeros(V)), (node, np.zeros(V)))


def test_output_types():
    assert "outputs vec[tokens]" in problems_of(
        lambda: Program(tokens, vocab_size=V, kind="token_set", n_positions=8))[0]
    assert "outputs vec[tokens] or cat[tokens]" in problems_of(
        lambda: Program(indices, vocab_size=V, kind="token", n_positions=8))[0]
    assert Program(tokens, vocab_size=V, kind="token", n_positions=8).n_ops == 0


def test_metadata_and_bases():
    assert len(problems_of(lambda: Program(tokens, vocab_size=0, kind="lm", n_positions=True))) == 3
    conflict = rasp.sequence_map(rasp.map(tokens, "x", basis=Basis("c", 3)), rasp.map(tokens, "x", basis=Basis("c", 4)),
                                 "x", basis="tokens")
    assert "basis c has size 4 here but 3" in problems_of(
        lambda: Program(conflict, vocab_size=V, kind="token", n_positions=8))[0]
    assert "size" in problems_of(lambda: Program(rasp.map(tokens, "x", basis=10**6), vocab_size=V, kind="token",
                                                 n_positions=8))[0]
    assert "tokens has size 6, not 5" in problems_of(
        lambda: Program(rasp.map(tokens, "x", basis=Basis("tokens", 5)), vocab_size=V, kind="token", n_positions=8))[0]


def test_names_must_be_unique_identifiers():
    a = rasp.map(tokens, "x", basis="tokens").named("same")
    b = rasp.map(a, "x + 1", basis="tokens", default=0).named("same")
    assert "used by two different nodes" in problems_of(lambda: Program(b, vocab_size=V, kind="token", n_positions=8))[0]
    with pytest.raises(ProgramError, match="identifier"):
        tokens.named("not a name")


def test_builder_argument_errors_are_program_errors():
    for build in [lambda: rasp.select(3, tokens), lambda: rasp.map(tokens, 3), lambda: rasp.aggregate(tokens, "x"),
                  lambda: rasp.map(tokens, {0.5: 1}), lambda: rasp.map(tokens, [[0, 1], [0, 2]]),
                  lambda: rasp.readout((tokens, [[np.nan] * V] * V)), lambda: rasp.constant(float("inf")),
                  lambda: rasp.score(tokens, tokens, [[1, 2], [3]]), lambda: rasp.select(tokens, tokens, 7)]:
        with pytest.raises(ProgramError):
            build()


def test_json_round_trip_and_equality():
    program = small_program()
    obj = program.to_json()
    assert obj["schema_version"] == rasp.SCHEMA_VERSION
    assert [n["id"] for n in obj["nodes"]] == ["indices", "prefix", "tokens", "hist", "out"]
    again = Program.from_json(json.dumps(obj))
    assert again == program and again.to_json() == obj and hash(again) == hash(program)
    assert again != Program(tokens, vocab_size=V, kind="token", n_positions=8)


def test_save_and_load(tmp_path):
    program = small_program()
    program.save(tmp_path / "p.json")
    assert Program.load(tmp_path / "p.json") == program


def _mutated(change) -> dict:
    obj = small_program().to_json()
    change(obj)
    return obj


def json_problems(obj) -> list[str]:
    return problems_of(lambda: Program.from_json(obj))


def test_json_structure_problems():
    by_id = lambda o, i: next(n for n in o["nodes"] if n["id"] == i)  # noqa: E731
    assert "unknown node 'nowhere'" in json_problems(_mutated(lambda o: by_id(o, "hist").update(selector="nowhere")))[0]
    assert "cycle" in json_problems(_mutated(lambda o: by_id(o, "prefix").update(keys="hist")))[0]
    assert "used twice" in json_problems(_mutated(lambda o: o["nodes"].append(dict(o["nodes"][0]))))[0]
    assert "do not contribute" in json_problems(_mutated(lambda o: o["nodes"].append({"id": "extra", "op": "indices"})))[0]
    assert "schema_version" in json_problems(_mutated(lambda o: o.update(schema_version=2)))[0]
    assert "unknown op 'exec'" in json_problems(_mutated(lambda o: by_id(o, "out").update(op="exec")))[0]
    assert "unknown field" in json_problems(_mutated(lambda o: by_id(o, "out").update(code="import os")))[0]
    assert "missing top-level field 'output'" in json_problems(_mutated(lambda o: o.pop("output")))[0]
    as_map = {"id": "out", "op": "map", "x": "hist", "expr": "x", "basis": "zz"}
    assert "not declared" in json_problems(_mutated(lambda o: o["nodes"].__setitem__(-1, as_map)))[0]
    assert "NaN" in json_problems('{"schema_version": NaN}')[0]
    assert "nested deeper" in json_problems("[" * 100_000 + "]" * 100_000)[0]
    assert "nested deeper" in json_problems(_mutated(lambda o: o.update(bases={"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]})))[0]
    assert "not valid JSON" in json_problems("{")[0]
    assert "not valid JSON" in json_problems('{"vocab_size": ' + "9" * 5000 + "}")[0]
    many = _mutated(lambda o: o["nodes"].extend({"id": f"n{k}", "op": "indices"} for k in range(5000)))
    assert "more than 4096 nodes" in json_problems(many)[0]


def test_every_node_problem_is_reported_from_json():
    obj = small_program().to_json()
    for node in obj["nodes"]:
        if node["op"] == "select":
            node["predicate"] = "MAYBE"
        if node["op"] == "aggregate":
            node["numerical"] = "yes"
    problems = json_problems(obj)
    assert len(problems) == 2
    assert any("'prefix' (select): unknown predicate" in p for p in problems)
    assert any("'hist' (aggregate): field 'numerical' must be true or false" in p for p in problems)


def test_notes_travel_with_the_program_and_are_only_text():
    plain = small_program()
    assert "notes" not in plain.to_json()  # absent when empty: programs without notes keep their bytes
    noted = Program(plain.output, vocab_size=V, kind="token", n_positions=8, name="small",
                    notes="pruned in 3 stages\nstage 1: 12 edges, match 0.97")
    again = Program.from_json(noted.dumps())
    assert again.notes == noted.notes and again == noted and again != plain
    shown = again.pretty().splitlines()
    assert shown[1:3] == ["#   pruned in 3 stages", "#   stage 1: 12 edges, match 0.97"]
    for bad in ["\x00binary", "x" * 20_001, 42]:
        assert "notes must be printable text" in json_problems(_mutated(lambda o: o.update(notes=bad)))[0]


@pytest.mark.parametrize("name", ["tokens", "indices"])
def test_an_input_name_cannot_label_another_operation(name):
    """A map called ``indices`` would print as if the program read positions."""
    with pytest.raises(ProgramError, match=f"name '{name}' is the {name} input's; a map node cannot take it"):
        rasp.Program(rasp.map(rasp.tokens, "x == 1", basis="tokens").named(name), vocab_size=6, kind="token",
                     n_positions=10)


def test_a_key_repeated_in_the_json_is_refused():
    text = Program(rasp.map(tokens, "x == 1", basis="tokens"), vocab_size=6, kind="token", n_positions=10).dumps()
    with pytest.raises(ProgramError, match="the key 'expr' appears twice in one object"):
        Program.from_json(text.replace('"expr": "x == 1"', '"expr": "x == 1", "expr": "x == 0"'))


def test_a_program_of_millions_of_empty_lists_is_refused_before_parsing():
    """48 MB of ``[[],[],...]`` once took 2.5 GB to parse; the lists are counted first."""
    text = "[" + ",".join(["[]"] * 2_000_000) + "]"
    with pytest.raises(ProgramError, match="2,000,001 lists and objects, over the limit of 1,048,576"):
        Program.from_json(text)
