"""Hostile JSON programs: each is either a valid Program or a ProgramError, quickly, and nothing runs.

Valid seed programs (using every operation kind) are mutated at random: fields
deleted or replaced by hostile values (wrong types, NaN/inf, huge integers,
deep nesting, huge lists, code-like strings), ids rewired into cycles and
dangling references, nodes duplicated or shuffled, expressions replaced by
attempts at attribute access, imports, calls, lambdas, subscripts, dunder
names and giant exponents, and the JSON text itself corrupted. A valid result
is also run on a small batch, where again only ProgramError may come out.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pytest

import bench.program as rasp
from bench.program import EQ, TRUE, Basis, Program, ProgramError, indices, tokens

V = 7
SENTINEL = Path("/tmp") / "rasp_bench_fuzz_sentinel"

HOSTILE_EXPRESSIONS = [
    "x.__class__.__bases__[0].__subclasses__()", f"__import__('os').system('touch {SENTINEL}')",
    f"open('{SENTINEL}', 'w')", "(lambda: 1)()", "x[0]", "__builtins__", "globals()", "eval('1')",
    "exec('import os')", "10 ** 10 ** 10", "9" * 400, "2 ** 2 ** 2 ** 2 ** 2 ** 2", "x ** x ** x ** x",
    "[1] * 10 ** 9", "'a' * 10 ** 9", "{}.keys()", "x if x else __import__", "min(*x)", "f'{x}'",
    "(y := 1)", "sum(range(10 ** 12))", "-" * 2000 + "x", "(" * 500 + ")" * 500, "k", "q", "y", "i",
    "x\nimport os", "x; import os", "# comment", "", " ", "\x00", "x == 1 == 2 == 3",
]


HARMLESS = ("x == 1 == 2 == 3", "10 ** 10 ** 10", "2 ** 2 ** 2 ** 2 ** 2 ** 2", "x ** x ** x ** x", "k", "q", "y", "i")


def seed_programs() -> list[dict]:
    """Valid programs that together use every operation kind and field."""
    prefix = rasp.select(indices, indices, TRUE).named("prefix")
    hist = rasp.aggregate(prefix, tokens, numerical=True).named("hist")
    first = rasp.argmax(hist).named("first")
    programs = [Program(first, vocab_size=V, kind="token", n_positions=9, name="seed0")]

    parity = rasp.sequence_map(rasp.aggregate(prefix, rasp.map(tokens, "x == 1")), rasp.selector_width(prefix),
                               "round(x * y) % 2", basis="bool")
    same = rasp.select(tokens, tokens, EQ) & ~rasp.select(indices, indices, "k == q") | rasp.select(tokens, indices, "k < q")
    cat_agg = rasp.aggregate(same, rasp.map(tokens, {0: 1, 1: 2, 3: 4}, basis="tokens", default=0), default=5)
    pair = rasp.sequence_map(tokens, parity, {(0, 1): 1, (2, 0): 3}, basis=Basis("c", 4), default=2)
    soft = rasp.soft_select(rasp.score(tokens, indices, np.ones((V, 9))), rasp.key_score(pair, [0.5, 1.0, 0.0, -1.0]))
    soft_hist = rasp.aggregate(soft, tokens, numerical=True)
    net = rasp.mlp(soft_hist, [(np.eye(V)[:, :3], np.zeros(3)), (np.ones((3, 2)), [0.1, 0.2])], activation="gelu_new",
                   basis=Basis("h", 2))
    scalar = rasp.component(rasp.threshold(rasp.map(rasp.onehot(cat_agg), "x * (i + 1)"), 0.5), 2)
    logits = rasp.readout((cat_agg, np.eye(V)), (net, np.ones((2, V))), (scalar, np.arange(V, dtype=float)),
                          (rasp.constant(1.5), np.ones(V)), (rasp.constant([1.0, 2.0], basis="bool"), np.ones((2, V))),
                          (rasp.constant(3, basis="c"), np.zeros((4, V))), bias=np.zeros(V))
    programs.append(Program(logits, vocab_size=V, kind="token_set", n_positions=9, name="seed1"))
    return [p.to_json() for p in programs]


_DEEP = []
for _ in range(40):
    _DEEP = [_DEEP]
_HUGE_LIST = [0] * 2_000_000
HUGE_VALUES = [_HUGE_LIST, [[0.0] * 2000] * 2000, "a" * 1_000_000, [[[0]]] * 1000]
HOSTILE_VALUES = [
    None, True, False, 0, -1, 1, 2, 3, 0.5, -0.0, 2**63, 10**400, -(10**400), 1e308, float("nan"), float("inf"),
    float("-inf"), "", "x", "tokens", "hist", "prefix", "__class__", "EQ", "TRUE", "map", "select", "readout",
    "a" * 1000, [], {}, [[]], [[1, 2], [3]], [1, "a"], [None], [[float("nan")]], _DEEP, {"__class__": 1},
    {"x": "tokens"}, 4096, 4097, 10**9, -(10**9), [0.0] * 5, [[0.0] * 3] * 3,
]


def mutate(obj, rng: np.random.Generator):
    """One random structural mutation of a JSON object (in place where possible); returns the result."""
    paths = []
    stack = [((), obj)]
    while stack:
        path, value = stack.pop()
        paths.append(path)
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list) and value:  # the nodes list in full, a few entries of other lists
            picks = range(len(value)) if path == ("nodes",) else rng.integers(len(value), size=min(2, len(value)))
            stack.extend(((*path, int(k)), value[k]) for k in picks)
    path = paths[rng.integers(len(paths))]
    if not path:
        return HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))] if rng.random() < 0.05 else obj
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    nodes = obj.get("nodes") if isinstance(obj, dict) else None
    ids = [n.get("id") for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
    choice = rng.integers(7)
    if choice == 0:  # delete
        del parent[key]
    elif choice == 1:  # a hostile value (rarely a huge one: they are slow to copy)
        huge = rng.random() < 0.01
        parent[key] = HUGE_VALUES[rng.integers(len(HUGE_VALUES))] if huge else HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))]
    elif choice == 2 and ids:  # rewire to another id (cycles, self loops, dangling when renamed)
        parent[key] = ids[rng.integers(len(ids))]
    elif choice == 3:  # a hostile expression
        parent[key] = HOSTILE_EXPRESSIONS[rng.integers(len(HOSTILE_EXPRESSIONS))]
    elif choice == 4 and isinstance(parent, list):  # duplicate an entry
        parent.append(copy.deepcopy(parent[key]))
    elif choice == 5 and isinstance(parent, list):  # shuffle
        rng.shuffle(parent)
    elif choice == 6 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = [parent[key] + 1, -parent[key], parent[key] * 1000, 10**30][rng.integers(4)]
    else:
        parent[key] = HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))]
    return obj


def corrupt_text(text: str, rng: np.random.Generator) -> str:
    """A text-level corruption: truncation, a random byte, or a huge/NaN number."""
    position = int(rng.integers(len(text)))
    kind = rng.integers(4)
    if kind == 0:
        return text[:position]
    if kind == 1:
        return text[:position] + chr(int(rng.integers(0, 128))) + text[position:]
    if kind == 2:
        return text[:position] + "9" * 5000 + text[position:]
    return text.replace("0.0", "NaN", 1) if "0.0" in text else text + "Infinity"


def samples(n: int, seed: int):
    rng = np.random.default_rng(seed)
    seeds = [json.dumps(obj) for obj in seed_programs()]
    for k in range(n):
        obj = json.loads(seeds[k % len(seeds)])
        for _ in range(int(rng.integers(1, 4))):
            obj = mutate(obj, rng)
        if rng.random() < 0.15:
            try:
                yield corrupt_text(json.dumps(obj), rng)
            except (ValueError, TypeError, RecursionError):  # the mutation itself is not JSON-encodable
                yield obj
        else:
            yield obj


def check_one(sample, ids: np.ndarray) -> str:
    """'valid' or 'error'; anything but ProgramError propagates and fails the test."""
    try:
        program = Program.from_json(sample)
    except ProgramError as err:
        assert str(err).strip()
        return "error"
    try:
        rasp.run_program(program, ids)
    except ProgramError:
        pass
    return "valid"


def run_fuzz(n: int, seed: int) -> dict:
    SENTINEL.unlink(missing_ok=True)
    ids = np.random.default_rng(seed).integers(0, V, size=(3, 9))
    outcomes = {"valid": 0, "error": 0}
    slowest = 0.0
    for sample in samples(n, seed):
        start = time.perf_counter()
        outcomes[check_one(sample, ids)] += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert not SENTINEL.exists(), "a hostile expression was executed"
    assert slowest < 5.0, f"one sample took {slowest:.1f} s"
    return outcomes


def test_seeds_are_valid_and_round_trip():
    for obj in seed_programs():
        assert Program.from_json(obj).to_json() == obj


def test_hostile_expressions_are_refused_everywhere():
    for obj in seed_programs():
        for source in HOSTILE_EXPRESSIONS:
            for node in obj["nodes"]:
                if "expr" in node:
                    bad = copy.deepcopy(obj)
                    next(n for n in bad["nodes"] if n["id"] == node["id"])["expr"] = source
                    if source in HARMLESS:
                        continue  # arithmetic or a name the operation may well allow
                    with pytest.raises(ProgramError):
                        Program.from_json(bad)
    assert not SENTINEL.exists()


def test_ten_thousand_hostile_programs():
    outcomes = run_fuzz(10_000, seed=0)
    assert outcomes["error"] > 5_000 and outcomes["valid"] > 100, outcomes


@pytest.mark.slow
def test_hundred_thousand_hostile_programs():
    outcomes = run_fuzz(100_000, seed=1)
    assert outcomes["error"] > 50_000, outcomes
