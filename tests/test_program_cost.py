"""The cost bound of a program (bench.program.cost) and the limits scoring enforces with it.

The bound must be an upper bound: for programs of every kind of operation (and the hostile
shapes that once took 6-8 GB), the peak that ``tracemalloc`` measures (it sees every numpy
allocation) while the program runs stays below it. Programs over the limits are refused before
they run, naming the node; chunks are sized to stay under the memory budget; a program still
running when its time is up is stopped.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

import bench.program as rasp
from bench.data.task import get_task
from bench.program.cost import CostError, OverTimeError, check_cost, program_cost
from bench.program.interpret_fast import Budget, run_program
from bench.scoring.score import ScoringLimits, count_bins

VOCAB, POSITIONS = 12, 64


def program(output, kind="token"):
    return rasp.Program(output, vocab_size=VOCAB, kind=kind, n_positions=POSITIONS)


def wide_mlp(hidden: int):
    rng = np.random.default_rng(0)
    x = rasp.numerical(rasp.tokens)
    h = rasp.mlp(x, [(rng.normal(size=(1, hidden)), rng.normal(size=hidden)),
                     (rng.normal(size=(hidden, 1)), np.zeros(1))])
    return program(rasp.categorical(h, "x > 0", basis="tokens"))


def onehot_readout(basis_size: int, terms: int):
    rng = np.random.default_rng(0)
    cats = [rasp.categorical(rasp.tokens, f"(x * {n + 1}) % {basis_size}", basis=("c", basis_size))
            for n in range(terms)]
    return program(rasp.readout(*[(rasp.onehot(c), rng.normal(size=(basis_size, VOCAB))) for c in cats]))


def soft_attention(terms: int, vec: bool, vec_keys: bool = False):
    rng = np.random.default_rng(0)
    parts = []
    for n in range(terms):
        q = rasp.onehot(rasp.tokens) if vec else rasp.tokens
        k = rasp.onehot(rasp.indices) if vec_keys else rasp.indices
        parts.append(rasp.score(q, k, rng.normal(size=(VOCAB, POSITIONS))))
    weights = rasp.soft_select(*parts)
    averaged = rasp.aggregate(weights, rasp.onehot(rasp.tokens))
    return program(rasp.readout((averaged, rng.normal(size=(VOCAB, VOCAB)))))


def balanced_sum(terms: int) -> str:
    """``k * q`` added ``terms`` times, as a balanced tree (expressions nest at most 32 deep)."""
    if terms == 1:
        return "k * q"
    return f"({balanced_sum(terms // 2)} + {balanced_sum(terms - terms // 2)})"


def expression_select(n_selects: int, expr_terms: int):
    expr = balanced_sum(expr_terms) + " > 3"
    x = rasp.numerical(rasp.tokens)
    out = rasp.numerical(rasp.tokens)
    for _ in range(n_selects):
        out = rasp.aggregate(rasp.select(x, out, expr), out, numerical=True)
    return program(rasp.categorical(out, "x > 1", basis="tokens"))


def hard_programs():
    t, i = rasp.tokens, rasp.indices
    prefix = rasp.select(i, i, rasp.LEQ)
    same = rasp.select(t, t, rasp.EQ)
    both = rasp.selector_and(prefix, rasp.selector_not(same))
    width = rasp.selector_width(both)
    counted = rasp.aggregate(same, rasp.onehot(t))
    mean = rasp.aggregate(rasp.selector_or(prefix, same), rasp.numerical(t), numerical=True)
    mixed = rasp.sequence_map(rasp.categorical(width, "x % 12", basis="tokens"), t, "(x + y) % 12", basis="tokens")
    return {
        "hard selectors and widths": program(mixed),
        "numerical aggregate": program(rasp.categorical(mean, "x % 12", basis="tokens")),
        "counting aggregate": program(rasp.readout((counted, np.eye(VOCAB)))),
    }


MEASURED = {
    **hard_programs(),
    "wide MLP over a num": wide_mlp(4096),
    "readout over one-hot terms": onehot_readout(512, 8),
    "soft select, cat query": soft_attention(4, vec=False),
    "soft select, vec query": soft_attention(4, vec=True),
    "soft select, vec query and key": soft_attention(4, vec=True, vec_keys=True),
    "selects with long expressions": expression_select(3, 20),
}


def measured_peak(prog, ids) -> int:
    run_program(prog, ids[:1, :4])  # caches and first-use allocations outside the measurement
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_program(prog, ids, chunk_pairs=1 << 40)  # one chunk: the bound is for a chunk
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_the_bound_is_above_the_measured_peak(name):
    prog = MEASURED[name]
    rows, width = 6, 48
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(rows, width))
    peak = measured_peak(prog, ids)
    bound = program_cost(prog).peak_bytes(rows, width)
    assert peak <= bound, f"{name}: measured {peak / 2**20:.1f} MiB over the bound {bound / 2**20:.1f} MiB"


def test_the_bound_grows_with_rows_and_width():
    cost = program_cost(MEASURED["soft select, vec query"])
    assert cost.peak_bytes(2, 40) > cost.peak_bytes(1, 40)
    assert cost.peak_bytes(1, 60) > cost.peak_bytes(1, 40)
    assert cost.work(2, 40) == 2 * cost.work(1, 40)


def test_a_program_over_the_memory_limit_is_refused_naming_the_node():
    prog = wide_mlp(1 << 20)  # once killed above 8 GB at 20 sequences
    with pytest.raises(CostError, match=r"needs up to [\d,]+ MiB of memory, over the scoring limit of 2,048 MiB") as err:
        check_cost(prog, 152)
    largest = program_cost(prog).largest_memory(152).node_id
    assert f"node {largest!r}" in str(err.value) and type(prog.by_id[largest]).__name__ == "MLP"


def test_a_program_near_the_limit_runs_in_chunks_under_it():
    """A readout over 64 one-hot vec[c:4096] terms once reached 6.5 GB at 20 sequences."""
    prog = onehot_readout(4096, 64)
    cost = check_cost(prog, 152)
    rows = cost.rows_within(152, 2 << 30)
    assert 1 <= rows < 20 and cost.peak_bytes(rows, 152) <= 2 << 30


def test_programs_over_the_work_limit_are_refused():
    """2,000 selects with 255-node expressions once took about 15 hours per model; 1,000 are over the limit."""
    prog = expression_select(1000, 60)
    with pytest.raises(CostError, match="multiply-adds, over the scoring limit of 5e\\+10"):
        check_cost(prog, 152)
    check_cost(expression_select(20, 60), 152)  # a few are fine


def test_chunks_stay_under_the_memory_budget():
    prog = MEASURED["soft select, vec query"]
    cost = program_cost(prog)
    width = 48
    budget = Budget(cost, max_bytes=cost.peak_bytes(3, width))
    assert cost.rows_within(width, budget.max_bytes) in (2, 3)  # the affine bound may leave one row out
    ids = np.random.default_rng(2).integers(0, VOCAB, size=(10, width))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        chunked = run_program(prog, ids, chunk_pairs=1 << 40, budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= budget.max_bytes + chunked.nbytes  # the predictions of the whole batch live beside the chunk
    assert np.array_equal(chunked, run_program(prog, ids))  # chunking changes no prediction


def test_a_sequence_over_the_budget_alone_is_refused():
    prog = MEASURED["soft select, vec query"]
    budget = Budget(program_cost(prog), max_bytes=1000)
    with pytest.raises(CostError, match="needs more than the memory budget"):
        run_program(prog, np.zeros((2, 30), dtype=np.int64), budget=budget)


def test_a_program_out_of_time_is_stopped_between_nodes():
    prog = expression_select(30, 60)
    ids = np.random.default_rng(3).integers(0, VOCAB, size=(20, 60))
    budget = Budget(program_cost(prog), max_bytes=1 << 40, deadline=time.monotonic() + 0.05)
    start = time.monotonic()
    with pytest.raises(OverTimeError, match="time budget for running this program ran out \\(at node"):
        run_program(prog, ids, budget=budget)
    one_node = time.monotonic() - start
    assert one_node < 5.0


def test_scoring_reports_a_program_over_its_limits():
    task = get_task("bin_majority")
    prog = rasp.Program.for_task(task, rasp.map(rasp.tokens, "x", basis="tokens"))
    batch = task.sample_batch(4, 0, 20, np.random.default_rng(0), offsets=False)
    batches = {"test_0_50": [(batch, np.zeros_like(batch.input_ids))]}
    assert count_bins(prog, batches)["test_0_50"].n_sequences == 4
    with pytest.raises(CostError, match="over the scoring limit"):
        count_bins(prog, batches, ScoringLimits(max_bytes=100))
