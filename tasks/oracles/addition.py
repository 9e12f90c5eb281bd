"""Oracle of ``addition`` (``tasks/addition.py``): ``<bos> a + b <sep> sum <eos>``, MSB first.

Notation: ``+`` stands at ``P``, ``<sep>`` at ``S``; ``a`` has ``p = P - 1``
digits, ``b`` has ``q = S - P - 1``; the digit of weight ``w`` (``2**w``) of
``a`` stands at ``P - 1 - w``, that of ``b`` at ``S - 1 - w``; ``M = max(p, q)``.

The algorithm (carry look-ahead, read from the top):

- the carry into weight ``w`` is decided by the highest weight ``g < w`` where
  ``a`` and ``b`` agree (missing digits are 0): two 1s generate a carry, two 0s
  kill it, and the disagreeing weights in between pass it on. So ``carry(w)`` is
  the digit at the first "agreeing" position below ``w``;
- the sum has ``M + carry(M)`` digits, so the query ``S + r`` predicts the digit
  of weight ``w = M + carry(M) - 1 - r`` (``<eos>`` once ``w < 0``), which is
  ``a_w xor b_w xor carry(w)``.

Why the program packs bits into numbers: whether ``a`` and ``b`` agree at a
weight compares two input positions ``q + 1`` apart, and that distance is only
known once ``<sep>`` has been read. A ``b`` digit cannot look up its partner in
``a`` when it is read (causality), and an attention from a later query cannot
compare two keys with each other. So the queries after ``<sep>`` gather the
digits of ``a`` as four exact integers of 37 bits each (sums of distinct
powers of two, exact in float64), shifted by ``2 ** (q + 1)``, and the selector
that marks the agreeing ``b`` digits reads the partner bit from them with
``floor(. * 2 ** -position) % 2``. This needs exact 37-bit arithmetic over a
wide exponent range, which the language's float64 expressions provide but a
finite-precision transformer does not: it is a correct program, not a
plausible circuit, consistent with trained models failing to length-generalize
on this task (docs/tasks.md, "Published figures"). Without such packing we
found no construction: every other way needs a ``b`` digit to know ``q``.
"""

from __future__ import annotations

from bench.data.oracles import oracle
from bench.data.task import get_task
from bench.program import (
    EQ, GT, TRUE, Node, Program, aggregate, indices, map, select, selector_width, sequence_map, tokens,
)
from bench.tasks.addition import PLUS
from bench.tasks.oracles._lib import count_tokens, position_of, show  # noqa: F401  (show: the doctests)

CHUNK_BITS = 37  # 4 chunks hold the at most 148 digits of a
N_CHUNKS = 4
SCALE = 90  # keeps every intermediate below the language's clip at 1e30 (about 2 ** 99.7)


def _partner_is_one(a_one: Node, b_bit: Node, offset: Node) -> Node:
    """Selector of the ``b`` digits whose partner in ``a`` (``offset`` positions earlier) is a 1.

    ``a_one`` flags the 1s of ``a``; ``b_bit`` is the digit at the digits of ``b``, 2 elsewhere.

    For chunk ``c`` (positions ``lo..hi`` of ``a``) the query holds
    ``ones_c * 2 ** (offset + lo - SCALE)`` where ``ones_c = sum of 2 ** (e - lo)``
    over the 1s of ``a`` at positions ``e`` in the chunk; a ``b`` digit at ``i``
    holds ``2 ** (SCALE - i)``. Their product is ``ones_c / 2 ** (e - lo)`` with
    ``e = i - offset``, whose integer part is odd exactly when ``a`` has a 1 at
    ``e`` (powers of two keep all of it exact; beyond the chunk it is even or below 1).
    """
    prefix = select(indices, indices, TRUE).named("prefix")
    length = selector_width(prefix).named("length")
    b_scale = sequence_map(b_bit, indices, f"2 ** ({SCALE} - y) if x < 2 else 0").named("b_scale")
    found = None
    for c in range(N_CHUNKS):
        lo, hi = 1 + CHUNK_BITS * c, CHUNK_BITS * (c + 1)
        bits = sequence_map(a_one, indices, f"(x == 1 and {lo} <= y <= {hi}) * 2 ** (y - {lo})").named(f"a_bit_{c}")
        mean = aggregate(prefix, bits).named(f"a_mean_{c}")
        ones = sequence_map(mean, length, "round(x * y)").named(f"a_ones_{c}")  # exact: distinct powers of 2
        shift = f"y + {lo - SCALE}" if lo >= SCALE else f"y - {SCALE - lo}"
        shifted = sequence_map(ones, offset, f"x * 2 ** ({shift})").named(f"a_shifted_{c}")
        hit = select(b_scale, shifted, "k * q % 2 >= 1")  # odd integer part
        found = hit if found is None else found | hit
    return found.named("partner_is_one")


def _first_digit(selector: Node, ones: Node, weights: Node, name: str) -> Node:
    """``num`` 0/1: the digit at the first selected position (the highest selected weight), 0 if none.

    Weighting position ``j`` by ``4 ** -j`` makes the first selected key
    outweigh all later ones together (by 3 to 1), so the weighted share of
    ones is above 1/2 exactly when the first selected digit is a 1: a
    leftmost-attention head, written with two averages.
    """
    share = aggregate(selector, ones).named(f"{name}_ones")
    total = aggregate(selector, weights).named(f"{name}_all")
    return sequence_map(share, total, "x > y / 2").named(name)


@oracle("addition")
def make_addition() -> Program:
    """Carry look-ahead from the most significant digit (see the module docstring).

    >>> show(make_addition(), "<bos> 1 1 + 1 <sep> 1 0 0 <eos>")
    '1 0 0 <eos>'
    >>> show(make_addition(), "<bos> 1 0 1 + 1 0 <sep> 1 1 1 <eos>")
    '1 1 1 <eos>'
    """
    task = get_task("addition")
    eos = task.vocab.eos
    plus_at = position_of(PLUS).named("plus_at")
    sep_at = position_of(task.vocab.sep).named("sep_at")
    offset = sequence_map(sep_at, plus_at, "x - y").named("offset")  # q + 1: from a digit of a to its partner in b
    stage = count_tokens(f"k == {PLUS} or k == {task.vocab.sep}").named("stage")  # 1 from + to before <sep>
    b_bit = sequence_map(tokens, stage, "x if x < 2 and y == 1 else 2", basis=3).named("b_bit")  # 2: not in b

    # the weights where a and b agree (a missing digit is a 0)
    a_one = sequence_map(tokens, stage, "x == 1 and y == 0", basis="bool").named("a_one")  # a 1 of a
    partner_one = _partner_is_one(a_one, b_bit, offset)
    agree_b = ((partner_one & select(b_bit, b_bit, "k == 1")) | (~partner_one & select(b_bit, b_bit, "k == 0")))
    agree_b = agree_b.named("agree_b")
    a_only = sequence_map(plus_at, sep_at, "2 * x - y").named("a_only")  # p - q digits of a stand above b's top
    zero_at = sequence_map(tokens, indices, "y if x == 0 else -1").named("zero_at")
    agree_a = select(zero_at, a_only, "1 <= k <= q").named("agree_a")

    weights = map(indices, "4 ** -x").named("weights")
    ones = sequence_map(tokens, weights, "(x == 1) * y").named("ones")
    top = sequence_map(plus_at, sep_at, "max(x - 1, y - x - 1)").named("top")  # M = max(p, q)
    agree = (agree_b | agree_a).named("agree")
    carry_top = _first_digit(agree, ones, weights, "carry_top")  # the carry into weight M
    r = sequence_map(indices, sep_at, "x - y").named("r")  # output digits so far
    n_out = sequence_map(top, carry_top, "x + y").named("n_out")  # digits of the sum
    weight = sequence_map(n_out, r, "x - 1 - y").named("weight")  # of the digit to predict

    a_pos = sequence_map(plus_at, weight, "x - 1 - y").named("a_pos")  # where weight w of a stands
    b_pos = sequence_map(sep_at, weight, "x - 1 - y").named("b_pos")
    below = ((agree_b & select(indices, b_pos, GT)) | (agree_a & select(indices, a_pos, GT))).named("agree_below")
    carry = _first_digit(below, ones, weights, "carry")  # the carry into weight w

    a_digit = aggregate(select(indices, a_pos, EQ), tokens).named("a_digit")  # <bos> or none beyond a's top
    b_digit = aggregate(select(indices, b_pos, EQ), b_bit).named("b_digit")  # 2 beyond b's top
    ab = sequence_map(a_digit, b_digit, "(x == 1) + (y == 1)").named("ab")
    total = sequence_map(ab, carry, "(x + y) % 2").named("total")
    out = sequence_map(total, weight, f"{eos} if y < 0 else x", basis="tokens").named("out")
    return Program.for_task(task, out)
