"""The task suite against docs/tasks.md, with ground truth recomputed independently.

The oracles below work on decoded symbols and are written from the task
definitions (docs/tasks.md), not from the task classes: sorted output is the input
sorted by number, a language's allowed-next bits come from a regular
expression for the language and a hand-written "can still be completed"
predicate (itself checked by brute force against the expression).
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
import re
import zlib
from collections import Counter

import numpy as np
import pytest

from bench import tasks
from bench.data.language import DFA
from bench.data.task import MAX_LENGTH, TEST_SPLITS, TaskError, get_task, task_names
from bench.tasks.majority import stream_length

BINS = {**TEST_SPLITS, "train": (0, 50)}
NUMBERS = tuple(str(i) for i in range(150))

# name: (kind, symbols, min length, n_positions) as in the tables of docs/tasks.md
SUITE = {
    "bin_majority": ("token", ("0", "1"), 1, 154),
    "majority": ("token", tuple("abcdefghijklmnopqrstuvwxyz"), 1, 154),
    "bin_majority_interleave": ("token", ("0", "1"), 3, 156),
    "unique_copy": ("token", NUMBERS, 1, 303),
    "unique_reverse": ("token", NUMBERS, 1, 303),
    "sort": ("token", NUMBERS, 1, 303),
    "unique_bigram_copy": ("token", tuple(str(i) for i in range(16)), 1, 303),
    "repeat_copy": ("token", ("a", "b"), 1, 303),
    "count": ("token", NUMBERS, 2, 155),
    "parity": ("token", ("0", "1"), 0, 154),
    "addition": ("token", ("0", "1", "+"), 4, 302),
    **{f"tomita{i}": ("token_set", ("0", "1"), 3 if i == 6 else 1, 152) for i in range(1, 8)},
    **{f"d{n}": ("token_set", ("a", "b"), 1, 152) for n in (2, 3, 4, 12)},
    "aastar": ("token_set", ("a",), 1, 152),
    "aaaastar": ("token_set", ("a",), 1, 152),
    "ababstar": ("token_set", ("a", "b"), 1, 152),
    "abcde": ("token_set", tuple("abcde"), 5, 152),
    "ab_d_bc": ("token_set", tuple("abcd"), 1, 152),
    "012_0_2": ("token_set", ("0", "1", "2"), 1, 152),
}
ENDS_WITHOUT_EOS = {"bin_majority", "majority", "parity"}
COPIES = {"unique_copy", "unique_reverse", "sort", "unique_bigram_copy", "repeat_copy"}


# ----- independent ground truth: token tasks ---------------------------------------------


def _majority(bits: list[str]) -> str:
    assert bits.count("0") != bits.count("1"), "a tie has no majority"
    return "0" if bits.count("0") > bits.count("1") else "1"


def _distinct(x: list[str]) -> list[str]:
    assert len(set(x)) == len(x), "symbols must be distinct"
    return x


def _most_common(x: list[str]) -> list[str]:
    (top, n_top), *rest = Counter(x).most_common()
    assert not rest or rest[0][1] < n_top, "the most frequent letter must be unique"
    return [top]


def _interleave(x: list[str]) -> list[str]:
    assert len(x) % 3 == 0
    return [_majority(x[k::3]) for k in range(3)]


def _bigram_copy(x: list[str]) -> list[str]:
    bigrams = list(zip(x, x[1:]))
    assert len(set(bigrams)) == len(bigrams), "bigrams must be distinct"
    return x


def _count(x: list[str]) -> list[str]:
    start, end = map(int, x)
    assert end - start + 1 >= 2
    return [str(i) for i in range(start, end + 1)]


def _add(x: list[str]) -> list[str]:
    a, b = "".join(x).split("+")
    for operand in (a, b):
        assert operand and (len(operand) == 1 or operand[0] == "1"), "no leading zero"
    return list(bin(int(a, 2) + int(b, 2))[2:])


EXPECTED_OUTPUT = {
    "bin_majority": lambda x: [_majority(x)],
    "majority": _most_common,
    "bin_majority_interleave": _interleave,
    "unique_copy": _distinct,
    "unique_reverse": lambda x: _distinct(x)[::-1],
    "sort": lambda x: sorted(_distinct(x), key=int),
    "unique_bigram_copy": _bigram_copy,
    "repeat_copy": lambda x: x,
    "count": _count,
    "parity": lambda x: [str(x.count("1") % 2)],
    "addition": _add,
}


def expected_length(name: str, x: list[str], y: list[str]) -> int:
    return len(y) if name == "count" else len(x)


def expected_offset_max(name: str, length: int, n_tokens: int) -> int:
    if name == "addition":
        return 2 * 151 - n_tokens
    return (2 if name in COPIES else 1) * (150 - length)


# ----- independent ground truth: languages -------------------------------------------------


def _runs(s: str) -> list[str]:
    return [m.group() for m in re.finditer(r"0+|1+", s)]


def _tomita3_bad_pairs(s: str, complete_only: bool) -> bool:
    """An odd run of 1s directly followed by an odd run of 0s (that a 1 has closed, if ``complete_only``)."""
    runs = _runs(s)
    for i in range(len(runs) - 1):
        ones, zeros = runs[i], runs[i + 1]
        closed = i + 2 < len(runs)
        if ones[0] == "1" and len(ones) % 2 and len(zeros) % 2 and (closed or not complete_only):
            return True
    return False


def _dyck(n: int, s: str, complete: bool) -> bool:
    depth = 0
    for ch in s:
        depth += 1 if ch == "a" else -1
        if not 0 <= depth <= n:
            return False
    return depth == 0 or not complete


# name: (is in the language, can be completed to a word of the language)
LANGUAGES = {
    "tomita1": (lambda s: re.fullmatch(r"1*", s), lambda p: re.fullmatch(r"1*", p)),
    "tomita2": (lambda s: re.fullmatch(r"(10)*", s), lambda p: re.fullmatch(r"(10)*1?", p)),
    "tomita3": (lambda s: not _tomita3_bad_pairs(s, False), lambda p: not _tomita3_bad_pairs(p, True)),
    "tomita4": (lambda s: "000" not in s, lambda p: "000" not in p),
    "tomita5": (lambda s: s.count("0") % 2 == 0 and s.count("1") % 2 == 0, lambda p: True),
    "tomita6": (lambda s: (s.count("0") - s.count("1")) % 3 == 0, lambda p: True),
    "tomita7": (lambda s: re.fullmatch(r"0*1*0*1*", s), lambda p: re.fullmatch(r"0*1*0*1*", p)),
    **{f"d{n}": (lambda s, n=n: _dyck(n, s, True), lambda p, n=n: _dyck(n, p, False)) for n in (2, 3, 4, 12)},
    "aastar": (lambda s: re.fullmatch(r"(aa)*", s), lambda p: re.fullmatch(r"a*", p)),
    "aaaastar": (lambda s: re.fullmatch(r"(aaaa)*", s), lambda p: re.fullmatch(r"a*", p)),
    "ababstar": (lambda s: re.fullmatch(r"(abab)*", s), lambda p: re.fullmatch(r"(ab)*a?", p)),
    "abcde": (lambda s: re.fullmatch(r"a+b+c+d+e+", s), lambda p: re.fullmatch(r"(a+(b+(c+(d+e*)?)?)?)?", p)),
    "ab_d_bc": (lambda s: re.fullmatch(r"[ab]*d[bc]*", s), lambda p: re.fullmatch(r"[ab]*(d[bc]*)?", p)),
    "012_0_2": (lambda s: re.fullmatch(r"[012]*02*", s), lambda p: re.fullmatch(r"[012]*", p)),
}
# longest completion the brute-force check of the viability predicates needs
# (d12 needs no more than 6: the prefixes tried are at most 6 long)
COMPLETION_BOUND = {"d2": 2, "d3": 3, "d4": 4, "d12": 6, "abcde": 5}


def expected_allowed(name: str, symbols: tuple[str, ...], string: str) -> list[list[int]]:
    """The allowed-next bits (over the vocabulary) after every prefix of ``string``."""
    member, viable = LANGUAGES[name]
    rows = []
    for t in range(len(string) + 1):
        prefix = string[:t]
        row = [int(bool(viable(prefix + ch))) for ch in symbols]
        rows.append(row + [0, 0, int(bool(member(prefix))), 0])  # <bos> <sep> <eos> <pad>
    return rows


# ----- the suite -------------------------------------------------------------------------


def test_the_suite_has_the_28_tasks_of_tasks_md():
    """The published suite, pinned here; a task added later needs no entry (docs/adding_a_task.md)."""
    assert set(SUITE) <= set(task_names()) and len(SUITE) == 28
    assert set(EXPECTED_OUTPUT) | set(LANGUAGES) == set(SUITE)


@pytest.mark.parametrize("name", sorted(SUITE))
def test_vocabulary_and_format_follow_tasks_md(name):
    task = get_task(name)
    kind, symbols, min_length, n_positions = SUITE[name]
    assert (task.kind, task.symbols, task.min_length, task.n_positions) == (kind, symbols, min_length, n_positions)
    n = len(symbols)
    assert task.vocab.tokens == symbols + ("<bos>", "<sep>", "<eos>", "<pad>")
    assert (task.vocab.bos, task.vocab.sep, task.vocab.eos, task.vocab.pad, task.vocab_size) == (n, n + 1, n + 2, n + 3, n + 4)
    assert task.version == "1.0"


def test_every_task_module_documents_its_source_and_version():
    modules = [m.name for m in pkgutil.iter_modules(tasks.__path__) if not m.name.startswith("_") and not m.ispkg]
    assert len(modules) >= 5
    for name in modules:
        doc = importlib.import_module(f"bench.tasks.{name}").__doc__
        assert "1.0 (2026-11-30): first version" in doc and "Huang" in doc, name


@pytest.mark.parametrize("bin_name", sorted(BINS))
@pytest.mark.parametrize("name", sorted(SUITE))
def test_sampled_sequences_are_right(name, bin_name):
    """Layout, ids, length measure and bin, validity rule, check(), targets, labels and offsets."""
    task = get_task(name)
    v = task.vocab
    lo, hi = BINS[bin_name]
    rng = np.random.default_rng([zlib.crc32(name.encode()), lo])
    for _ in range(25):
        length = task.draw_length(lo, hi, rng)
        ids = task.sample(length, rng)
        assert all(isinstance(i, int) and 0 <= i < v.size for i in ids)
        assert max(lo, task.min_length) <= length <= hi and task.is_valid_length(length)
        assert task.length_of(ids) == length
        task.check(ids)
        words = v.decode(ids)
        mask, labels = task.labels(ids)
        K = task.offset_max(ids)
        assert K >= 0 and K + len(ids) - 1 < task.n_positions  # the last position fits the model
        if task.kind == "token":
            _check_token_sequence(task, name, words, length, mask, labels, ids)
            assert K == expected_offset_max(name, length, len(ids))
        else:
            _check_language_sequence(task, name, words, length, mask, labels)
            assert K == 150 - length


def _check_token_sequence(task, name, words, length, mask, labels, ids):
    assert words[0] == "<bos>" and words.count("<sep>") == 1 and "<pad>" not in words
    sep = words.index("<sep>")
    x = words[1:sep]
    has_eos = name not in ENDS_WITHOUT_EOS
    y = words[sep + 1 : len(words) - has_eos]
    if has_eos:
        assert words[-1] == "<eos>" and words.count("<eos>") == 1
    else:
        assert "<eos>" not in words
    assert not {"<bos>", "<sep>", "<eos>"} & set(x + y)
    assert y == EXPECTED_OUTPUT[name](x)
    assert expected_length(name, x, y) == length
    assert task.vocab.decode(task.targets(ids)) == words[sep + 1 :]
    # the logits at t predict the token at t + 1: scored from <sep> to the second-to-last position
    expected_mask = [sep <= t <= len(ids) - 2 for t in range(len(ids))]
    assert mask.tolist() == expected_mask
    assert labels.tolist() == [ids[t + 1] if expected_mask[t] else -1 for t in range(len(ids))]


def _check_language_sequence(task, name, words, length, mask, labels):
    assert words[0] == "<bos>" and words[-1] == "<eos>" and len(words) == length + 2
    string = "".join(words[1:-1])
    assert len(string) == length  # every symbol is one character
    assert LANGUAGES[name][0](string), f"{string!r} is not in the language"
    expected = expected_allowed(name, task.symbols, string)
    assert mask.tolist() == [True] * (length + 1) + [False]
    assert labels.astype(int).tolist() == expected + [[0] * task.vocab_size]
    assert task.targets(task.vocab.encode(words)) == expected


@pytest.mark.parametrize("name", sorted(LANGUAGES))
def test_viability_predicates_agree_with_brute_force_completion(name):
    """A prefix can be completed iff some short string appended to it is in the language."""
    task = get_task(name)
    member, viable = LANGUAGES[name]
    alphabet = "".join(task.symbols)
    bound = COMPLETION_BOUND.get(name, 3)
    max_prefix = {1: 8, 2: 6, 3: 4, 4: 3, 5: 3}[len(alphabet)]
    completions = ["".join(w) for k in range(bound + 1) for w in itertools.product(alphabet, repeat=k)]
    for k in range(max_prefix + 1):
        for prefix in map("".join, itertools.product(alphabet, repeat=k)):
            brute = any(member(prefix + w) for w in completions)
            assert bool(viable(prefix)) == brute, f"{name}: prefix {prefix!r}"


# ----- known answers ------------------------------------------------------------------------

TOKEN_CASES = [
    ("bin_majority", "0 1 0", "0"),
    ("majority", "b a b c", "b"),
    ("bin_majority_interleave", "0 1 1 0 1 1 0 0 1", "0 1 1 <eos>"),
    ("unique_copy", "4 2", "4 2 <eos>"),
    ("unique_reverse", "5 7 9", "9 7 5 <eos>"),
    ("sort", "3 149 1 2", "1 2 3 149 <eos>"),
    ("unique_bigram_copy", "1 1 2 1", "1 1 2 1 <eos>"),
    ("repeat_copy", "a a b", "a a b <eos>"),
    ("count", "3 6", "3 4 5 6 <eos>"),
    ("parity", "1 0 1 1", "1"),
    ("parity", "", "0"),
    ("addition", "1 1 + 1", "1 0 0 <eos>"),
    ("addition", "0 + 1 0", "1 0 <eos>"),
]


@pytest.mark.parametrize("name, x, y", TOKEN_CASES)
def test_known_token_answers(name, x, y):
    task = get_task(name)
    ids = task.vocab.encode(["<bos>", *x.split(), "<sep>", *y.split()])
    task.check(ids)
    assert task.assemble(task.vocab.encode(x.split())) == ids


LANGUAGE_CASES = [
    ("d2", "a a b b", ["a <eos>", "a b", "b", "a b", "a <eos>"]),
    ("tomita3", "1 0 0", ["0 1 <eos>", "0 1 <eos>", "0", "0 1 <eos>"]),
    ("tomita7", "0 1 0 1", ["0 1 <eos>"] * 4 + ["1 <eos>"]),
    ("abcde", "a b c d e", ["a", "a b", "b c", "c d", "d e", "e <eos>"]),
    ("ab_d_bc", "a d c", ["a b d", "a b d", "b c <eos>", "b c <eos>"]),
    ("012_0_2", "1 0 2", ["0 1 2", "0 1 2", "0 1 2 <eos>", "0 1 2 <eos>"]),
    ("aastar", "a a", ["a <eos>", "a", "a <eos>"]),
]


@pytest.mark.parametrize("name, string, allowed", LANGUAGE_CASES)
def test_known_allowed_next_sets(name, string, allowed):
    task = get_task(name)
    ids = task.vocab.encode(["<bos>", *string.split(), "<eos>"])
    task.check(ids)
    got = [{tok for tok, bit in zip(task.vocab.tokens, row) if bit} for row in task.targets(ids)]
    assert got == [set(a.split()) for a in allowed]


# ----- automata -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LANGUAGES))
def test_language_dfas_are_minimal_with_at_most_one_dead_state(name):
    dfa = get_task(name).dfa
    assert len(dfa.dead_states) <= 1
    assert dfa.n_symbols == len(get_task(name).symbols)
    rebuilt = DFA(dfa.transitions, dfa.accepting)  # construction checks minimality
    assert rebuilt.accepts([]) == (0 in dfa.accepting)


@pytest.mark.parametrize("n", [2, 3, 4, 12])
def test_bounded_dyck_has_depth_states_plus_dead(n):
    dfa = get_task(f"d{n}").dfa
    assert dfa.n_states == n + 2 and len(dfa.dead_states) == 1


def test_tomita3_dfa_is_the_one_of_tasks_md():
    dfa = get_task("tomita3").dfa
    table = {name: tuple(dfa.name(q) for q in row) for name, row in zip(dfa.state_names, dfa.transitions)}
    assert table == {
        "q0": ("q0", "q1"),
        "q1": ("q3", "q0"),
        "q2": ("q3", "q1"),
        "q3": ("q2", "q4"),
        "q4": ("q4", "q4"),
    }
    assert {dfa.name(q) for q in dfa.accepting} == {"q0", "q1", "q2"}


def test_a_dfa_that_is_not_minimal_is_refused():
    with pytest.raises(ValueError, match="equivalent"):
        DFA.from_table({"p": "q", "q": "p"}, accepting=["p", "q"])
    with pytest.raises(ValueError, match="unreachable"):
        DFA.from_table({"p": "p", "q": "p"}, accepting=["p"])
    with pytest.raises(ValueError, match="unknown states"):
        DFA.from_table({"p": "r"}, accepting=["p"])


# ----- lengths ---------------------------------------------------------------------------------


def test_interleave_stream_length_rule():
    assert [stream_length(total, 3, 50) for total in (3, 4, 5, 49, 50)] == [1, 1, 2, 16, 16]
    assert stream_length(101, 101, 150) == 34 and stream_length(150, 101, 150) == 50
    assert stream_length(100, 51, 100) == 33


def test_interleave_lengths_respect_every_range():
    task = get_task("bin_majority_interleave")
    rng = np.random.default_rng(0)
    for lo, hi in itertools.combinations_with_replacement(range(0, 60), 2):
        if not any(n % 3 == 0 for n in range(max(lo, 3), hi + 1)):
            with pytest.raises(TaskError, match="no valid length"):
                task.draw_length(lo, hi, rng)
            continue
        for _ in range(3):
            length = task.draw_length(lo, hi, rng)
            assert max(lo, 3) <= length <= hi and length % 3 == 0


def test_interleave_stream_lengths_follow_the_rounding_rule():
    """In 0-50 (raised to 3-50), m = 1 comes from totals 3, 4 and m = 16 from 47..50."""
    task = get_task("bin_majority_interleave")
    rng = np.random.default_rng(1)
    counts = Counter(task.draw_length(0, 50, rng) // 3 for _ in range(48_000))
    assert abs(counts[1] / 48_000 - 2 / 48) < 0.006
    assert abs(counts[16] / 48_000 - 4 / 48) < 0.008
    assert abs(counts[8] / 48_000 - 3 / 48) < 0.007


@pytest.mark.parametrize("name", sorted(SUITE))
def test_draw_length_covers_exactly_the_valid_lengths(name):
    task = get_task(name)
    rng = np.random.default_rng(2)
    drawn = {task.draw_length(0, 30, rng) for _ in range(3000)}
    assert drawn == set(task.valid_lengths(0, 30))
    assert drawn == {n for n in range(max(task.min_length, 0), 31) if task.is_valid_length(n)}


def test_unique_bigram_copy_reaches_150_without_getting_stuck():
    task = get_task("unique_bigram_copy")
    rng = np.random.default_rng(3)
    for _ in range(100):
        task.check(task.sample(MAX_LENGTH, rng))


# the validity rules of docs/tasks.md, besides min <= L <= 150
EVEN = {"tomita2", "tomita5", "d2", "d3", "d4", "d12", "aastar"}
MULTIPLE_OF_4 = {"aaaastar", "ababstar"}


@pytest.mark.parametrize("name", sorted(SUITE))
def test_validity_rules(name):
    task = get_task(name)
    minimum = SUITE[name][2]

    def valid(n: int) -> bool:
        if name in EVEN:
            return n % 2 == 0
        if name in MULTIPLE_OF_4:
            return n % 4 == 0
        if name == "tomita6":
            return n % 2 == 1
        if name == "bin_majority_interleave":
            return n % 3 == 0
        return True

    assert task.valid_lengths(0, 150) == [n for n in range(minimum, 151) if valid(n)]
    assert task.valid_lengths(0, 10_000) == task.valid_lengths(0, 150)  # nothing above 150


# ----- bad input ---------------------------------------------------------------------------------


def test_unknown_task_names_the_closest_match_and_the_known_ones():
    with pytest.raises(TaskError) as error:
        get_task("sortt")
    message = str(error.value)
    assert "Did you mean 'sort'?" in message and "tomita7" in message and "\n" not in message


@pytest.mark.parametrize(
    "name, lo, hi, words",
    [
        ("sort", 10, 5, "empty length range"),
        ("sort", -3, 5, "negative length"),
        ("tomita2", 3, 3, "no valid length"),
        ("aaaastar", 5, 7, "no valid length"),
        ("abcde", 0, 4, "no valid length"),
        ("bin_majority_interleave", 4, 5, "no valid length"),
        ("count", 0, 1, "no valid length"),
        ("unique_copy", 151, 300, "no valid length"),
    ],
)
def test_impossible_length_ranges_are_one_line_errors(name, lo, hi, words):
    task = get_task(name)
    with pytest.raises(TaskError, match=words) as error:
        task.draw_length(lo, hi, np.random.default_rng(0))
    assert "\n" not in str(error.value) and name in str(error.value)


@pytest.mark.parametrize(
    "name, length", [("tomita2", 3), ("unique_copy", 151), ("sort", 0), ("count", 1), ("tomita6", 4), ("d2", 5)]
)
def test_sampling_an_invalid_length_is_refused(name, length):
    with pytest.raises(TaskError, match="not valid"):
        get_task(name).sample(length, np.random.default_rng(0))


def _mutations(task, ids):
    """Malformed variants of a well-formed sequence."""
    v = task.vocab
    yield "no <bos>", ids[1:]
    yield "<pad> for <bos>", [v.pad] + ids[1:]
    yield "id outside the vocabulary", ids[:-1] + [v.size] + ids[-1:]
    yield "negative id", [-1] + ids
    yield "not a number", ids[:1] + ["x"] + ids[1:]
    yield "empty", []
    yield "<pad> inside", ids[:2] + [v.pad] + ids[2:]
    if task.kind == "token":
        sep = ids.index(v.sep)
        yield "no <sep>", ids[:sep] + ids[sep + 1 :]
        yield "two <sep>", ids[: sep + 1] + [v.sep] + ids[sep + 1 :]
        yield "output token changed", ids[: sep + 1] + [(ids[sep + 1] + 1) % v.n_symbols] + ids[sep + 2 :]
        yield "output cut short", ids[: sep + 1] + ids[sep + 2 :]
        if task.ends_with_eos:
            yield "no <eos>", ids[:-1]
        else:
            yield "an <eos> added", ids + [v.eos]
    else:
        yield "no <eos>", ids[:-1]
        yield "<sep> inside", ids[:2] + [v.sep] + ids[2:]
        yield "<eos> twice", ids + [v.eos]


@pytest.mark.parametrize("name", sorted(SUITE))
def test_check_rejects_malformed_sequences(name):
    task = get_task(name)
    rng = np.random.default_rng(4)
    ids = task.sample(task.draw_length(8, 20, rng), rng)
    task.check(ids)
    for what, bad in _mutations(task, ids):
        with pytest.raises(TaskError) as error:
            task.check(bad)
        assert "\n" not in str(error.value), what


@pytest.mark.parametrize(
    "name, x, y, words",
    [
        ("unique_copy", "5 5", "5 5 <eos>", "repeats"),
        ("unique_reverse", "1 2 1", "1 2 1 <eos>", "repeats"),
        ("sort", "7 3 7", "3 7 7 <eos>", "repeats"),
        ("unique_bigram_copy", "1 2 1 2", "1 2 1 2 <eos>", "bigram"),
        ("majority", "a b", "a", "not unique"),
        ("bin_majority", "0 1", "0", "as many zeros as ones"),
        ("bin_majority_interleave", "0 1 1 0", "0 1 1 <eos>", "multiple of 3"),
        ("bin_majority_interleave", "0 1 1 1 1 1", "0 1 1 <eos>", "stream 1"),
        ("addition", "0 1 + 1", "1 0 <eos>", "leading zero"),
        ("addition", "1 + + 1", "1 0 <eos>", "exactly one"),
        ("addition", "1 1 1 +", "1 1 1 <eos>", "empty"),
        ("count", "6 3", "<eos>", "s <= e"),
        ("count", "3 3", "3 <eos>", "not valid"),
        ("sort", "3 1", "3 1 <eos>", "wrong output"),
        ("parity", "1 1", "1", "wrong output"),
    ],
)
def test_check_rejects_inputs_the_task_never_has(name, x, y, words):
    task = get_task(name)
    with pytest.raises(TaskError, match=words):
        task.check(task.vocab.encode(["<bos>", *x.split(), "<sep>", *y.split()]))


@pytest.mark.parametrize(
    "name, string, words",
    [
        ("tomita2", "1 1", "not in the language"),
        ("d2", "a a a b b b", "not in the language"),
        ("tomita6", "0 1", "not valid"),  # in the language, but of even length
        ("aaaastar", "a a", "not valid"),
        ("abcde", "a b c d", "not valid"),
        ("abcde", "a b c e d", "not in the language"),
        ("tomita3", "1 0 1", "not in the language"),
        ("012_0_2", "0 1", "not in the language"),
    ],
)
def test_check_rejects_strings_outside_the_language_or_lengths(name, string, words):
    task = get_task(name)
    with pytest.raises(TaskError, match=words):
        task.check(task.vocab.encode(["<bos>", *string.split(), "<eos>"]))


# ----- batches -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sort", "addition", "tomita3", "d12"])
def test_training_batches_offsets_and_padding(name):
    task = get_task(name)
    batch = task.sample_batch(64, 0, 50, np.random.default_rng(5))
    assert batch.input_ids.shape[0] == 64 and len(batch) == 64
    for row in range(64):
        n = int(batch.lengths[row])
        ids = batch.input_ids[row, :n].tolist()
        task.check(ids)
        assert (batch.input_ids[row, n:] == task.vocab.pad).all()
        start = int(batch.position_ids[row, 0])
        assert 0 <= start <= task.offset_max(ids)
        assert batch.position_ids[row].tolist() == list(range(start, start + batch.input_ids.shape[1]))
        assert start + n - 1 < task.n_positions
        mask, labels = task.labels(ids)
        assert (batch.label_mask[row, :n] == mask).all() and not batch.label_mask[row, n:].any()
        assert (batch.labels[row, :n] == labels).all()
    test_batch = task.sample_batch(8, 101, 150, np.random.default_rng(6), offsets=False)
    assert (test_batch.position_ids[:, 0] == 0).all()
