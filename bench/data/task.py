"""What a task is: vocabulary, length rules, sampling, ground truth, batches.

Every task of the suite (``tasks/``) is a subclass of :class:`TokenTask` or
:class:`bench.data.language.LanguageTask`, registered by name with :func:`register_task`. The
formats are specified in ``docs/tasks.md``; this module holds what all tasks share:

- the vocabulary: content symbols ``0..n-1``, then ``<bos> <sep> <eos> <pad>``;
- the length rules: a length range is raised to the task's minimum, a length
  is drawn uniformly, and drawn again until the task's validity rule holds;
- :class:`Batch`, the padded teacher-forced form that models and programs read.

Supervision is stored *aligned with the position whose output is scored*: for a
token task the label at position ``t`` is the gold token at ``t + 1`` (the
model predicts it from the logits at ``t``); for a language task it is the set
of tokens allowed after the prefix ending at ``t``. ``label_mask`` marks the
scored positions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal

import numpy as np

from bench.errors import BenchError
from bench.registry import Registry

TaskKind = Literal["token", "token_set"]

SPECIALS = ("<bos>", "<sep>", "<eos>", "<pad>")

#: The frozen test bins, by split name: inclusive ranges of the length measure.
TEST_SPLITS: dict[str, tuple[int, int]] = {
    "test_0_50": (0, 50),
    "test_51_100": (51, 100),
    "test_101_150": (101, 150),
}
#: Each bin's lengths as people read them ("0-50"), for tables, plots and model cards.
BIN_LABELS: dict[str, str] = {name: f"{lo}-{hi}" for name, (lo, hi) in TEST_SPLITS.items()}
TRAIN_RANGE = (0, 50)
#: Largest length a task must produce (the top of the last test bin).
MAX_LENGTH = 150


class TaskError(BenchError):
    """A bad task name, length range or sequence; the message is one line."""


@dataclass(frozen=True)
class Vocab:
    """Content symbols first, then the four specials (``docs/tasks.md``)."""

    symbols: tuple[str, ...]

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @property
    def bos(self) -> int:
        return self.n_symbols

    @property
    def sep(self) -> int:
        return self.n_symbols + 1

    @property
    def eos(self) -> int:
        return self.n_symbols + 2

    @property
    def pad(self) -> int:
        return self.n_symbols + 3

    @property
    def size(self) -> int:
        return self.n_symbols + 4

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.symbols + SPECIALS

    def encode(self, words: list[str]) -> list[int]:
        index = {word: i for i, word in enumerate(self.tokens)}
        unknown = [w for w in words if w not in index]
        if unknown:
            raise TaskError(f"unknown token(s) {unknown[:5]}; the vocabulary is {list(self.tokens)}")
        return [index[w] for w in words]

    def decode(self, ids) -> list[str]:
        return [self.tokens[int(i)] if 0 <= int(i) < self.size else f"?{int(i)}" for i in ids]


@dataclass
class Batch:
    """A padded batch of teacher-forced sequences, as models and programs read them.

    ``labels`` holds, for token tasks, the gold next token at every scored
    position (``-1`` elsewhere); for token-set tasks, the 0/1 allowed-next set
    over the whole vocabulary (zeros elsewhere).
    """

    input_ids: np.ndarray  # (B, T) int64, padded with <pad>
    position_ids: np.ndarray  # (B, T) int64, 0..T-1 at test time, offset in training
    lengths: np.ndarray  # (B,) int64, real tokens per sequence
    label_mask: np.ndarray  # (B, T) bool, positions whose output is scored
    labels: np.ndarray  # (B, T) int64 for token tasks, (B, T, V) bool for token sets

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


@dataclass(frozen=True)
class Task:
    """Fields every task has; subclasses add the sampler and the ground truth."""

    name: str
    version: str  # bumped whenever the sampler or the format changes
    symbols: tuple[str, ...]
    n_positions: int
    min_length: int
    layout: str  # e.g. "<bos> x <sep> y"
    length_measure: str  # what L counts, e.g. "input length"
    description: str

    kind: ClassVar[TaskKind]

    # ----- vocabulary -------------------------------------------------------
    @property
    def vocab(self) -> Vocab:
        return Vocab(self.symbols)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    # ----- lengths ------------------------------------------------------------
    def is_valid_length(self, length: int) -> bool:
        """The task's validity rule (even, multiple of 4, ...); minimum and maximum included.

        No task goes above :data:`MAX_LENGTH`: longer sequences would not fit the
        models' ``n_positions`` (and the distinct-symbol tasks run out of symbols).
        """
        return self.min_length <= length <= MAX_LENGTH

    def valid_lengths(self, lo: int, hi: int) -> list[int]:
        """Every producible length in ``[lo, hi]`` after raising ``lo`` to the minimum."""
        return list(_valid_lengths(self, lo, hi))

    @property
    def length_rule(self) -> str:
        """The validity rule in words, e.g. ``"even, 1 <= L <= 150"``."""
        return f"{self.min_length} <= L <= {MAX_LENGTH}"

    def require_valid_length(self, length: int) -> None:
        """Raise :class:`TaskError` unless ``length`` satisfies the validity rule."""
        if not self.is_valid_length(length):
            raise TaskError(f"{self.name}: length {length} is not valid (rule: {self.length_rule})")

    def draw_length(self, lo: int, hi: int, rng: np.random.Generator) -> int:
        """Raise ``lo`` to the minimum, draw uniformly, redraw until valid (``docs/tasks.md``).

        ``hi`` is capped at :data:`MAX_LENGTH` (nothing longer is valid), which
        leaves the distribution over valid lengths unchanged.
        """
        _valid_lengths(self, lo, hi)  # raises a clear error when nothing can be drawn
        lo, hi = max(lo, self.min_length), min(hi, MAX_LENGTH)
        while True:
            length = int(rng.integers(lo, hi + 1))
            if self.is_valid_length(length):
                return length

    # ----- to be provided by the task kinds ---------------------------------------
    def sample(self, length: int, rng: np.random.Generator) -> list[int]:
        """One whole token sequence whose length measure is ``length``."""
        raise NotImplementedError

    def offset_max(self, ids: list[int]) -> int:
        """K: the largest training position offset for this sequence."""
        raise NotImplementedError

    def length_of(self, ids: list[int]) -> int:
        """The task's length measure of a whole sequence."""
        raise NotImplementedError

    def check(self, ids: list[int]) -> None:
        """Raise :class:`TaskError` if ``ids`` is not a well-formed sequence of this task."""
        raise NotImplementedError

    def targets(self, ids: list[int]):
        """Ground truth: the target token ids (token tasks) or the allowed-next sets."""
        raise NotImplementedError

    def labels(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(label_mask, labels)`` for one sequence, aligned with scored positions."""
        raise NotImplementedError

    # ----- batches ------------------------------------------------------------
    def sample_batch(
        self, n: int, lo: int, hi: int, rng: np.random.Generator, *, offsets: bool = True
    ) -> Batch:
        """``n`` fresh sequences with lengths drawn from ``[lo, hi]``.

        With ``offsets`` every sequence gets a random position offset drawn
        uniformly from ``[0, K]`` (training); without, positions start at 0.
        """
        sequences = [self.sample(self.draw_length(lo, hi, rng), rng) for _ in range(n)]
        starts = [int(rng.integers(0, self.offset_max(s) + 1)) if offsets else 0 for s in sequences]
        return self.collate(sequences, starts)

    def collate(self, sequences: list[list[int]], starts: list[int] | None = None) -> Batch:
        """Pad sequences into a :class:`Batch` (positions start at ``starts``, default 0)."""
        n, width = len(sequences), max(len(s) for s in sequences)
        starts = starts or [0] * n
        input_ids = np.full((n, width), self.vocab.pad, dtype=np.int64)
        position_ids = np.zeros((n, width), dtype=np.int64)
        label_mask = np.zeros((n, width), dtype=bool)
        if self.kind == "token":
            labels = np.full((n, width), -1, dtype=np.int64)
        else:
            labels = np.zeros((n, width, self.vocab_size), dtype=bool)
        for row, (ids, start) in enumerate(zip(sequences, starts)):
            length = len(ids)
            input_ids[row, :length] = ids
            position_ids[row] = start + np.arange(width)
            mask, lab = self.labels(ids)
            label_mask[row, :length] = mask
            labels[row, :length] = lab
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        return Batch(input_ids, position_ids, lengths, label_mask, labels)

    def describe(self, ids: list[int]) -> str:
        return " ".join(self.vocab.decode(ids))


# ----- helpers shared by the task kinds ------------------------------------------


@functools.lru_cache(maxsize=4096)
def _valid_lengths(task: Task, lo: int, hi: int) -> tuple[int, ...]:
    """:meth:`Task.valid_lengths`, remembered: every sampled sequence asks again."""
    if lo > hi:
        raise TaskError(f"{task.name}: empty length range {lo}-{hi} (lower bound above upper)")
    if lo < 0:
        raise TaskError(f"{task.name}: negative length in range {lo}-{hi}")
    top = min(hi, MAX_LENGTH)
    lengths = tuple(n for n in range(max(lo, task.min_length), top + 1) if task.is_valid_length(n))
    if not lengths:
        raise TaskError(f"{task.name}: no valid length in {lo}-{hi} (rule: {task.length_rule})")
    return lengths


def as_ids(task: Task, ids) -> list[int]:
    """``ids`` as a list of Python ints, every one inside the vocabulary."""
    try:
        out = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise TaskError(f"{task.name}: a sequence must be a list of integer token ids") from None
    bad = [i for i in out if not 0 <= i < task.vocab_size]
    if bad:
        raise TaskError(f"{task.name}: token id(s) {bad[:5]} outside the vocabulary 0..{task.vocab_size - 1}")
    return out


def short_text(task: Task, ids: list[int], limit: int = 12) -> str:
    """Decoded tokens for an error message, cut to ``limit`` tokens."""
    words = task.vocab.decode(ids[:limit])
    return " ".join(words) + (" ..." if len(ids) > limit else "")


# ----- token tasks ------------------------------------------------------------------


@dataclass(frozen=True)
class TokenTask(Task):
    """A task with layout ``<bos> x <sep> y`` or ``<bos> x <sep> y <eos>``.

    The answer is a function of the input, ``y = solve(x)``. Subclasses provide
    :meth:`sample_input` and :meth:`solve`, and override :meth:`check_input`
    (inputs the sampler never produces), :meth:`measure` (when ``L`` is not the
    input length) and the class attributes below where they differ.
    """

    kind: ClassVar[TaskKind] = "token"
    #: whether the sequence ends with ``<eos>`` (a target like any output token)
    ends_with_eos: ClassVar[bool] = True
    #: K = offset_scale * (150 - L), e.g. 2 for tasks that copy their input (docs/tasks.md)
    offset_scale: ClassVar[int] = 1

    # ----- what a task provides ---------------------------------------------------
    def sample_input(self, length: int, rng: np.random.Generator) -> list[int]:
        """The input ``x`` (content symbol ids) of a sequence with length measure ``length``."""
        raise NotImplementedError

    def solve(self, x: list[int]) -> list[int]:
        """The ground-truth output ``y`` for input ``x`` (without ``<eos>``)."""
        raise NotImplementedError

    def check_input(self, x: list[int]) -> None:
        """Raise :class:`TaskError` if ``x`` is not an input this task can have."""

    def measure(self, x: list[int], y: list[int]) -> int:
        """The length measure ``L`` of a sequence with input ``x`` and output ``y``."""
        return len(x)

    # ----- sequences ----------------------------------------------------------------
    def sample(self, length: int, rng: np.random.Generator) -> list[int]:
        self.require_valid_length(length)
        return self.assemble(self.sample_input(length, rng))

    def assemble(self, x: list[int]) -> list[int]:
        """The whole sequence for input ``x``, with the gold output."""
        v = self.vocab
        return [v.bos, *x, v.sep, *self.solve(x)] + ([v.eos] if self.ends_with_eos else [])

    def parts(self, ids: list[int]) -> tuple[list[int], list[int]]:
        """``(x, y)`` of a well-formed sequence (``y`` without ``<eos>``)."""
        ids = list(ids)
        sep = ids.index(self.vocab.sep)
        end = len(ids) - 1 if self.ends_with_eos else len(ids)
        return ids[1:sep], ids[sep + 1 : end]

    def length_of(self, ids: list[int]) -> int:
        return self.measure(*self.parts(ids))

    def offset_max(self, ids: list[int]) -> int:
        return self.offset_scale * (MAX_LENGTH - self.length_of(ids))

    def targets(self, ids: list[int]) -> list[int]:
        """The target token ids: everything after ``<sep>``."""
        ids = [int(i) for i in ids]
        return ids[ids.index(self.vocab.sep) + 1 :]

    def labels(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        length = len(ids)
        sep = int(np.flatnonzero(ids == self.vocab.sep)[0])
        mask = np.zeros(length, dtype=bool)
        mask[sep : length - 1] = True  # the logits at t predict the token at t + 1
        labels = np.full(length, -1, dtype=np.int64)
        labels[sep : length - 1] = ids[sep + 1 :]
        return mask, labels

    def check(self, ids: list[int]) -> None:
        ids = as_ids(self, ids)
        v = self.vocab
        if not ids or ids[0] != v.bos:
            raise TaskError(f"{self.name}: a sequence must start with <bos>")
        if ids.count(v.sep) != 1:
            raise TaskError(f"{self.name}: a sequence must have exactly one <sep>, found {ids.count(v.sep)}")
        if self.ends_with_eos and ids[-1] != v.eos:
            raise TaskError(f"{self.name}: a sequence must end with <eos>")
        x, y = self.parts(ids)
        if any(i >= v.n_symbols for i in x + y):
            raise TaskError(f"{self.name}: special token inside the input or output: {short_text(self, ids, 40)}")
        self.check_input(x)
        self.require_valid_length(self.measure(x, y))
        expected = self.solve(x)
        if y != expected:
            raise TaskError(f"{self.name}: wrong output {short_text(self, y)} (expected {short_text(self, expected)})")


# ----- the registry ------------------------------------------------------------

#: Task factories by task name; the ``bench.tasks`` package (folder ``tasks/``) registers the suite when it is imported.
TASKS: Registry[Callable[[], Task]] = Registry("task", TaskError, plugins=("bench.tasks",))


def register_task(factory: Callable[[], Task]) -> Callable[[], Task]:
    """Register a zero-argument factory (a ``make_task`` function or a class) under its task's name."""
    TASKS.add(factory().name, factory)
    return factory


def task_names() -> list[str]:
    return TASKS.names()


def get_task(name: str) -> Task:
    """The task registered as ``name``; an unknown name lists the known ones."""
    return TASKS.find(name)()
