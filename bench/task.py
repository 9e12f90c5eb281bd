"""What a task is: vocabulary, length rules, sampling, ground truth, batches.

Every task of the suite (``tasks/``) is a subclass of :class:`TokenTask` or
:class:`LanguageTask`, registered by name with :func:`register_task`. The
formats are fixed by ``TASKS.md``; this module holds what all tasks share:

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

import difflib
from dataclasses import dataclass
from typing import Callable, ClassVar, Literal

import numpy as np

TaskKind = Literal["token", "token_set"]

SPECIALS = ("<bos>", "<sep>", "<eos>", "<pad>")

#: The frozen test bins, by split name: inclusive ranges of the length measure.
TEST_SPLITS: dict[str, tuple[int, int]] = {
    "test_0_50": (0, 50),
    "test_51_100": (51, 100),
    "test_101_150": (101, 150),
}
TRAIN_RANGE = (0, 50)
#: Largest length a task must produce (the top of the last test bin).
MAX_LENGTH = 150


class TaskError(ValueError):
    """A bad task name, length range or sequence; the message is one line."""


@dataclass(frozen=True)
class Vocab:
    """Content symbols first, then the four specials (TASKS.md)."""

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
        """The task's validity rule (even, multiple of 4, ...); minimum included."""
        return length >= self.min_length

    def valid_lengths(self, lo: int, hi: int) -> list[int]:
        """Every producible length in ``[lo, hi]`` after raising ``lo`` to the minimum."""
        if lo > hi:
            raise TaskError(f"{self.name}: empty length range {lo}-{hi} (lower bound above upper)")
        if lo < 0:
            raise TaskError(f"{self.name}: negative length in range {lo}-{hi}")
        lengths = [n for n in range(max(lo, self.min_length), hi + 1) if self.is_valid_length(n)]
        if not lengths:
            raise TaskError(
                f"{self.name}: no valid length in {lo}-{hi} (minimum {self.min_length}, rule: {self.length_rule})"
            )
        return lengths

    @property
    def length_rule(self) -> str:
        return f"L >= {self.min_length}"

    def draw_length(self, lo: int, hi: int, rng: np.random.Generator) -> int:
        """Raise ``lo`` to the minimum, draw uniformly, redraw until valid (TASKS.md)."""
        self.valid_lengths(lo, hi)  # raises a clear error when nothing can be drawn
        lo = max(lo, self.min_length)
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


# ----- the registry ------------------------------------------------------------

_REGISTRY: dict[str, Callable[[], Task]] = {}


def register_task(factory: Callable[[], Task]) -> Callable[[], Task]:
    """Register a zero-argument factory (a ``make_task`` function or a class)."""
    task = factory()
    if task.name in _REGISTRY:
        raise ValueError(f"task {task.name!r} is registered twice")
    _REGISTRY[task.name] = factory
    return factory


def _load_suite() -> None:
    import tasks  # noqa: F401  (importing the package registers every task)


def task_names() -> list[str]:
    _load_suite()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """The task registered as ``name``; an unknown name lists the known ones."""
    _load_suite()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TaskError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()
