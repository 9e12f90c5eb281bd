"""Every operation on small hand-computed cases, in both interpreters."""

from __future__ import annotations

import numpy as np
import pytest

import bench.program as rasp
from bench.program import EQ, FALSE, GEQ, GT, LEQ, LT, NEQ, TRUE, ProgramError, indices, tokens

V = 6  # tokens 0..5


def values(node, ids, vocab=V, n_positions=8):
    """The node's value on one sequence, checked to be identical in both interpreters."""
    kind = _type(node, vocab, n_positions).kind
    sink = {"sel": lambda: rasp.selector_width(node),
            "soft": lambda: rasp.aggregate(node, tokens, numerical=True)}.get(kind, lambda: node)()
    sink_type = _type(sink, vocab, n_positions)
    width = None if sink_type.kind == "num" else _sizes(sink, vocab, n_positions)[sink_type.basis]
    table = np.zeros(vocab) if width is None else np.zeros((width, vocab))
    program = rasp.Program(rasp.readout((sink, table)), vocab_size=vocab, kind="token_set", n_positions=n_positions)
    node_id = program.ids[node]
    fast = rasp.evaluate(program, [ids])[node_id][0]
    ref = rasp.evaluate_reference(program, ids)[node_id]
    if kind in ("sel", "soft"):
        dense = np.zeros((len(ids), len(ids)))
        for i, row in enumerate(ref):
            dense[i, : i + 1] = row
        ref = dense
    np.testing.assert_allclose(fast, np.asarray(ref, dtype=float), rtol=1e-12, atol=1e-12)
    return fast


def _checked(node, vocab, n_positions):
    from bench.program.validate import assign_ids, basis_sizes, collect_nodes, typecheck_all

    problems = []
    nodes = collect_nodes(node, problems)
    ids = assign_ids(nodes, problems)
    sizes = basis_sizes(nodes, ids, vocab, n_positions, problems)
    types = typecheck_all(nodes, ids, sizes, problems)
    assert not problems, problems
    return types[node], sizes


def _type(node, vocab, n_positions):
    return _checked(node, vocab, n_positions)[0]


def _sizes(node, vocab, n_positions):
    return _checked(node, vocab, n_positions)[1]


# ----- inputs, constants, maps ------------------------------------------------------------


def test_inputs_and_constants():
    ids = [3, 1, 4, 1]
    assert values(tokens, ids).tolist() == ids
    assert values(indices, ids).tolist() == [0, 1, 2, 3]
    assert values(rasp.constant(1, basis="bool"), ids).tolist() == [1, 1, 1, 1]
    assert values(rasp.constant(2.5), ids).tolist() == [2.5] * 4
    assert values(rasp.constant([1, 2], basis=2), ids).tolist() == [[1.0, 2.0]] * 4


def test_map_expressions_tables_and_rounding():
    ids = [0, 1, 2, 5]
    assert values(rasp.map(tokens, "x == 2"), ids).tolist() == [0, 0, 1, 0]
    assert values(rasp.map(tokens, "x * 2 - 1"), ids).tolist() == [-1, 1, 3, 9]
    # cat output: rounded half up, outside the basis -> default
    assert values(rasp.map(tokens, "x / 2", basis="tokens"), ids).tolist() == [0, 1, 1, 3]
    assert values(rasp.map(tokens, "x + 2", basis="tokens", default=4), ids).tolist() == [2, 3, 4, 4]
    assert values(rasp.map(tokens, "x - 1", basis="tokens", default=5), ids).tolist() == [5, 0, 1, 4]
    assert values(rasp.map(tokens, {1: 3, 5: 0}, basis="tokens", default=2), ids).tolist() == [2, 3, 2, 0]
    assert values(rasp.map(tokens, {2: 0.25}, default=-1.0), ids).tolist() == [-1, -1, 0.25, -1]


def test_map_elementwise_over_vec_binds_the_index():
    v = rasp.constant([0.0, 2.0, 3.0], basis=3)
    assert values(rasp.map(v, "x * (i >= 1) + i"), [0, 1]).tolist() == [[0, 3, 5]] * 2


def test_sequence_map():
    ids = [0, 1, 2, 3]
    assert values(rasp.sequence_map(tokens, indices, "x * 10 + y"), ids).tolist() == [0, 11, 22, 33]
    assert values(rasp.sequence_map(tokens, indices, "x - y", basis="bool", default=1), ids).tolist() == [0, 0, 0, 0]
    table = {(1, 1): 1, (3, 3): 1}
    assert values(rasp.sequence_map(tokens, indices, table, basis="bool"), ids).tolist() == [0, 1, 0, 1]
    hist = rasp.constant([1.0, 0.0, 2.0], basis=3)
    assert values(rasp.sequence_map(hist, indices, "x * y + i"), [4, 4]).tolist() == [[0, 1, 2], [1, 1, 4]]


# ----- selectors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "predicate, test",
    [(EQ, lambda k, q: k == q), (LT, lambda k, q: k < q), (LEQ, lambda k, q: k <= q), (GT, lambda k, q: k > q),
     (GEQ, lambda k, q: k >= q), (NEQ, lambda k, q: k != q), (TRUE, lambda k, q: True), (FALSE, lambda k, q: False)],
)
def test_select_predicates_compare_key_with_query_and_are_causal(predicate, test):
    ids = [2, 0, 2, 1, 3]
    matrix = values(rasp.select(tokens, tokens, predicate), ids)
    expected = [[float(j <= i and test(ids[j], ids[i])) for j in range(5)] for i in range(5)]
    assert matrix.tolist() == expected


def test_select_expression_and_selector_logic():
    ids = [0, 0, 0, 0]
    previous = rasp.select(indices, indices, "k == q - 1")
    assert values(previous, ids).tolist() == [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    first = rasp.select(indices, indices, "k == 0")
    assert values(previous | first, ids)[2].tolist() == [1, 1, 0, 0]
    assert values(previous & first, ids)[1].tolist() == [1, 0, 0, 0]
    # not stays inside the prefix: never a key after the query
    assert values(~first, ids).tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 1]]


@pytest.mark.parametrize("source", ["k == 1", "q % 2 == 0", "k < q", "k + q > 100"])
def test_select_tables_of_the_key_or_the_query_alone_give_the_same_selector(source):
    """An expression of the key alone (or the query alone, or neither) is gathered per key (per query)
    and broadcast; on numeric keys and queries too (distinct values); checked against the reference."""
    from bench.program.ops_attention import _gather

    rng = np.random.default_rng(0)
    for table in (rng.random((5, 7)) < 0.5, np.tile(rng.random(7) < 0.5, (5, 1)), np.tile(rng.random((5, 1)) < 0.5, 7)):
        q, k = rng.integers(0, 5, (3, 6, 1)), rng.integers(0, 7, (3, 1, 6))
        assert np.array_equal(np.broadcast_to(_gather(table, q, k), (3, 6, 6)), table[q, k])
    ids = [1, 0, 1, 2, 1]
    for keys, queries in ((tokens, tokens), (rasp.numerical(rasp.map(tokens, "x * 1.5")), indices)):
        assert values(rasp.select(keys, queries, source), ids).shape == (5, 5)


# ----- aggregation ----------------------------------------------------------------------


def test_numerical_aggregate_means_and_default_for_empty_selection():
    ids = [1, 2, 4, 1]
    prefix = rasp.select(indices, indices, TRUE)
    mean = rasp.aggregate(prefix, rasp.map(tokens, "x"))
    assert values(mean, ids).tolist() == [1.0, 1.5, 7 / 3, 2.0]
    ones = rasp.select(tokens, tokens, "k == 1 and q == 2")  # only query 1 (token 2) selects the 1 at key 0
    assert values(rasp.aggregate(ones, rasp.map(indices, "x + 10"), default=-1.0), ids).tolist() == [-1, 10, -1, -1]


def test_categorical_aggregate_unique_equal_conflicting_and_empty():
    ids = [3, 3, 5, 3]
    same_token = rasp.select(tokens, tokens, EQ)
    # keys with the same token carry the same token: the value itself
    assert values(rasp.aggregate(same_token, tokens, default=0), ids).tolist() == [3, 3, 5, 3]
    # the prefix holds different tokens from position 2 on: default
    prefix = rasp.select(indices, indices, TRUE)
    assert values(rasp.aggregate(prefix, tokens, default=1), ids).tolist() == [3, 3, 1, 1]
    # exactly one key selected: its value
    previous = rasp.select(indices, indices, "k == q - 1")
    assert values(rasp.aggregate(previous, tokens, default=0), ids).tolist() == [0, 3, 3, 5]


def test_histogram_and_vec_aggregates():
    ids = [1, 2, 1, 0]
    prefix = rasp.select(indices, indices, TRUE)
    hist = values(rasp.aggregate(prefix, tokens, numerical=True), ids)
    assert hist[:, :3].tolist() == [[0, 1, 0], [0, 0.5, 0.5], [0, 2 / 3, 1 / 3], [0.25, 0.5, 0.25]]
    assert hist[:, 3:].sum() == 0
    vec = rasp.constant([2.0, 4.0], basis=2)
    assert values(rasp.aggregate(rasp.select(indices, indices, FALSE), vec), ids).tolist() == [[0, 0]] * 4
    # a histogram of the indices under a (non-prefix) hard selector is the selector's rows over their widths
    ones = rasp.select(tokens, tokens, "k == 1")
    seen = values(rasp.aggregate(ones, indices, numerical=True), ids)
    assert seen.shape == (4, 8) and seen[:, 4:].sum() == 0
    assert seen[:, :4].tolist() == [[1, 0, 0, 0], [1, 0, 0, 0], [0.5, 0, 0.5, 0], [0.5, 0, 0.5, 0]]


def test_selector_width():
    ids = [1, 1, 2, 1]
    assert values(rasp.selector_width(rasp.select(tokens, tokens, EQ)), ids).tolist() == [1, 2, 1, 3]
    assert values(rasp.selector_width(rasp.select(indices, indices, TRUE)), ids).tolist() == [1, 2, 3, 4]


def test_soft_select_and_aggregate():
    ids = [0, 1, 2, 3]
    uniform = rasp.soft_select()
    assert np.allclose(values(rasp.aggregate(uniform, rasp.map(tokens, "x")), ids), [0, 0.5, 1, 1.5])
    # a large score on (query token q, key token q-1) attends to the previous position
    table = np.zeros((V, V))
    for q in range(1, V):
        table[q, q - 1] = 50.0
    previous = rasp.soft_select(rasp.score(tokens, tokens, table))
    weights = values(previous, ids)
    assert np.allclose(weights[1:], np.eye(4)[:-1], atol=1e-15)
    assert np.allclose(weights.sum(1), 1) and np.all(np.triu(weights, 1) == 0)
    # key-only scores: log 3 on key 0 -> key 0 weighs 3 times as much as any other key
    bias = rasp.soft_select(rasp.key_score(indices, np.log([3, 1, 1, 1, 1, 1, 1, 1])))
    assert np.allclose(values(bias, ids)[3], [0.5, 1 / 6, 1 / 6, 1 / 6])
    hist = values(rasp.aggregate(bias, tokens, numerical=True), ids)
    assert np.allclose(hist[3, :4], [0.5, 1 / 6, 1 / 6, 1 / 6])


def test_soft_select_with_vec_query_and_key():
    ids = [0, 1]
    q = rasp.constant([1.0, 0.0], basis=2)
    k = rasp.onehot(rasp.map(indices, "x", basis=2))
    weights = values(rasp.soft_select(rasp.score(q, k, [[0.0, np.log(3)], [0.0, 0.0]])), ids)
    assert np.allclose(weights[1], [0.25, 0.75])


# ----- nonlinearities, MLP, readout -----------------------------------------------------------


def test_nonlinearities():
    v = rasp.constant([1.0, -2.0, 3.0, 3.0], basis=4)
    ids = [0]
    assert values(rasp.argmax(v), ids).tolist() == [2]  # first of the largest entries
    assert values(rasp.harden(v), ids).tolist() == [[0, 0, 1, 0]]
    assert values(rasp.relu(v), ids).tolist() == [[1, 0, 3, 3]]
    assert values(rasp.threshold(v, 2.5), ids).tolist() == [[0, 0, 1, 1]]
    assert values(rasp.normalize(v), ids).tolist() == [[0.2, -0.4, 0.6, 0.6]]
    assert np.allclose(values(rasp.sharpen(v), ids), [[1 / 19, 0, 9 / 19, 9 / 19]])
    assert values(rasp.component(v, 1), ids).tolist() == [-2]
    assert values(rasp.vec_sum(v), ids).tolist() == [5]
    assert values(rasp.vec_max(v), ids).tolist() == [3]
    assert values(rasp.onehot(tokens), [2])[0].tolist() == [0, 0, 1, 0, 0, 0]
    assert values(rasp.relu(rasp.map(tokens, "x - 2")), [1, 4]).tolist() == [0, 2]


def test_mlp():
    layers = [([[1.0, -1.0]], [0.0, 1.0]), ([[2.0], [3.0]], [0.5])]  # num -> 2 -> num
    ids = [0, 1, 3]
    x = rasp.map(tokens, "x - 1")
    expected = [2 * max(v, 0) + 3 * max(1 - v, 0) + 0.5 for v in (-1, 0, 2)]
    assert values(rasp.mlp(x, layers), ids).tolist() == expected
    gelu = values(rasp.mlp(x, [([[1.0]], [0.0]), ([[1.0]], [0.0])], activation="gelu_new"), ids)
    assert np.allclose(gelu, [-0.158808, 0.0, 1.954597], atol=1e-6)


def test_readout_sums_tables():
    table = np.arange(V * V, dtype=float).reshape(V, V)
    count = rasp.selector_width(rasp.select(indices, indices, TRUE))
    out = rasp.readout((tokens, table), (count, np.ones(V)), bias=np.full(V, 0.5))
    got = values(out, [2, 4])
    assert got.tolist() == [(table[2] + 1 + 0.5).tolist(), (table[4] + 2 + 0.5).tolist()]


# ----- programs: predictions, padding, sizes, printing -------------------------------------------


def test_run_program_predictions_and_padding():
    prev = rasp.aggregate(rasp.select(indices, indices, "k == q - 1"), tokens, default=5)
    program = rasp.Program(prev, vocab_size=V, kind="token", n_positions=8)
    ids = np.array([[1, 2, 3, 4], [4, 3, 0, 0]])
    lengths = np.array([4, 2])
    preds = rasp.run_program(program, (ids, lengths))
    assert preds.tolist() == [[5, 1, 2, 3], [5, 4, 0, 0]]  # padded positions are 0
    assert rasp.run_reference(program, [4, 3]).tolist() == [5, 4]
    # the padding content never changes real positions
    other = rasp.run_program(program, (np.array([[1, 2, 3, 4], [4, 3, 5, 1]]), lengths))
    assert np.array_equal(other, preds)


def test_token_set_and_logit_outputs():
    logits = rasp.readout((tokens, np.eye(V) * 2 - 1))
    as_set = rasp.Program(logits, vocab_size=V, kind="token_set", n_positions=4)
    assert rasp.run_program(as_set, [[2]])[0, 0].tolist() == [False, False, True, False, False, False]
    as_token = rasp.Program(logits, vocab_size=V, kind="token", n_positions=4)
    assert rasp.run_program(as_token, [[3, 1]]).tolist() == [[3, 1]]
    assert rasp.run_reference(as_token, [3, 1]).tolist() == [3, 1]


def test_chunked_run_equals_one_chunk():
    rng = np.random.default_rng(0)
    prefix = rasp.select(indices, indices, TRUE)
    count = rasp.selector_width(rasp.select(tokens, tokens, EQ) & prefix)
    program = rasp.Program(rasp.map(count, "x", basis="tokens", default=0), vocab_size=V, kind="token",
                           n_positions=40)
    ids = rng.integers(0, V, size=(50, 40))
    lengths = rng.integers(1, 41, size=50)
    whole = rasp.run_program(program, (ids, lengths))
    chunked = rasp.run_program(program, (ids, lengths), chunk_pairs=100)
    assert np.array_equal(whole, chunked)
    for row in range(5):
        assert np.array_equal(whole[row, : lengths[row]], rasp.run_reference(program, ids[row, : lengths[row]]))


def test_bad_inputs_to_the_interpreters():
    program = rasp.Program(rasp.map(tokens, "x", basis="tokens"), vocab_size=V, kind="token", n_positions=4)
    with pytest.raises(ProgramError, match="n_positions"):
        rasp.run_program(program, [[0] * 5])
    with pytest.raises(ProgramError, match="vocabulary"):
        rasp.run_program(program, [[0, V]])
    with pytest.raises(ProgramError, match="vocabulary"):
        rasp.run_reference(program, [-1])
    with pytest.raises(ProgramError, match="integer"):
        rasp.run_program(program, [[0.5]])


def test_sizes():
    prefix = rasp.select(indices, indices, TRUE)  # 1 param
    frac = rasp.aggregate(prefix, rasp.map(tokens, "x == 1"))  # map: 3 expression nodes
    width = rasp.selector_width(prefix)
    count = rasp.sequence_map(frac, width, "round(x * y)")
    late = rasp.aggregate(rasp.select(count, count, EQ), rasp.map(tokens, {0: 1.0}))  # 1 + (1 entry + default)
    program = rasp.Program(rasp.readout((late, np.zeros(V))), vocab_size=V, kind="token_set", n_positions=8)
    assert program.n_ops == 9  # 2 selects, 2 maps, 2 aggregates, selector_width, sequence_map, readout
    assert program.depth == 2  # aggregate (or selector_width) -> sequence_map -> select -> aggregate
    expr_nodes = 3 + 4  # "x == 1": Compare, x, 1; "round(x * y)": Call, BinOp, x, y
    assert program.n_params == 1 + expr_nodes + 1 + 2 + V + V  # readout table V and bias V


def test_pretty_printing():
    hist = rasp.aggregate(rasp.select(tokens, tokens, EQ), rasp.map(tokens, "x == 3")).named("hist")
    program = rasp.Program(rasp.map(hist, "x > 0.5", basis="tokens").named("out"), vocab_size=V, kind="token",
                           n_positions=8, name="demo")
    lines = program.pretty().splitlines()
    assert lines[1:] == [
        "map_1 = numerical(tokens == 3)  # num",
        "hist = aggregate(select(tokens, tokens, ==), map_1)  # num",
        "out = categorical(hist > 0.5)  # cat[tokens]",
        "output = out",
    ]
    assert lines[0].startswith("# demo: token program, vocab_size=6")
