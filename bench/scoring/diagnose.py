"""Where a program and a model disagree: the diagnostics that ``python -m bench.inspect`` prints.

Match rates per bin say how faithful a program is; debugging an extraction
needs the sequences, positions and tokens where it is not, and how
faithfulness falls with the exact length. :func:`diagnose` scores a program
against a model's predictions on the frozen splits exactly as
:mod:`bench.scoring.score` does (the same batches, the same agreement rule: equal
tokens, every bit equal for token sets, positions outside ``label_mask`` not
counted), and keeps per bin

- the scoring counts (:class:`bench.scoring.score.BinCounts`), so the bin's metrics
  are exactly those ``bench.evaluate`` reports;
- the sequences and matched sequences per exact length ``L`` (the task's
  length measure, as the split's ``length`` column records it), which sum
  back to the bin's counts;
- the first ``examples`` disagreeing sequences in split order, decoded, with
  the scored positions where the outputs differ and the program's, the
  model's and the gold prediction there.

A scored position ``t`` is one whose output is compared: the output at ``t``
is the prediction of what follows token ``t`` (the next token, or the set of
allowed next tokens). Printed sequences mark such a token as ``[x]``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from bench.data.task import TEST_SPLITS
from bench.scoring import schema
from bench.scoring.results import BINS, BinMetrics
from bench.scoring.schema import printable
from bench.scoring.score import (BATCH_SIZE, BinCounts, ScoringLimits, check_program_fits, gold_predictions,
                                 position_agreement)

#: Bumped whenever the JSON form of :class:`Diagnostics` changes.
DIAGNOSTICS_VERSION = 1
DEFAULT_EXAMPLES = 5
#: Tokens shown either side of a marked token when a printed sequence is long.
CONTEXT_TOKENS = 6
#: Sequences of at most this many tokens are printed whole.
SHORT_SEQUENCE = 60


# ----- the diagnostics, as plain JSON-able dataclasses ----------------------------------------


@dataclass
class Example:
    """One sequence where the program and the model differ at some scored position."""

    row: int  # the sequence's index in its frozen split (python -m bench.tasks show TASK --split BIN)
    length: int  # the task's length measure L
    sequence: str  # the whole sequence, decoded (token symbols separated by spaces)
    scored: int  # how many of its positions are scored
    positions: list[int]  # the scored positions t where the outputs differ (t's output predicts what follows token t)
    program: list[str]  # the program's prediction at each of those positions ({a,b}: a set of allowed tokens)
    model: list[str]  # the model's prediction there
    gold: list[str]  # the target there


@dataclass
class ByLength:
    """Columns over the lengths present in a bin, ascending."""

    length: list[int]  # the length measure L
    sequences: list[int]  # sequences of that length
    matched: list[int]  # of which the program matches the model at every scored position


@dataclass
class BinDiagnostics:
    counts: BinCounts  # the bin's scoring counts (bench.scoring.score), whose metrics bench.evaluate reports
    by_length: ByLength
    examples: list[Example]  # the first disagreeing sequences in split order

    @property
    def disagreeing(self) -> int:
        return self.counts.sequences - self.counts.matched_sequences


@dataclass
class Diagnostics:
    """Where a program and a model disagree on the frozen splits; :meth:`to_json` is its compact JSON form."""

    task: str
    kind: Literal["token", "token_set"]
    limit: Optional[int]  # sequences per bin, when fewer than the whole split were inspected
    bins: dict[str, BinDiagnostics]  # bin -> what was found there
    model: Optional[str] = None  # the model id, where the caller names it
    schema_version: int = DIAGNOSTICS_VERSION

    def metrics(self) -> dict[str, BinMetrics]:
        """Per bin, the metrics :func:`bench.scoring.score.score_program` gives."""
        return {name: found.counts.metrics() for name, found in self.bins.items()}

    def to_json(self) -> dict:
        return schema.dump(self)

    @classmethod
    def from_json(cls, data) -> "Diagnostics":
        """Read :meth:`to_json`'s form back; raises :class:`bench.scoring.schema.SchemaError` naming every bad field."""
        if isinstance(data, dict) and data.get("schema_version") != DIAGNOSTICS_VERSION:
            raise schema.SchemaError([f"diagnostics.schema_version: {printable(repr(data.get('schema_version')), 60)} "
                                      f"is not the supported version {DIAGNOSTICS_VERSION}"])
        return schema.load(data, cls, "diagnostics")


# ----- diagnosing: the scoring path, keeping what it finds ----------------------------------


def diagnose(program, task, splits, predictions, limit: int | None = None, examples: int = DEFAULT_EXAMPLES, *,
             bins=BINS, limits: ScoringLimits = ScoringLimits()) -> Diagnostics:
    """Run ``program`` on the frozen splits and find where it disagrees with ``predictions`` (the model's).

    ``limit`` inspects the first N sequences of each bin (as ``bench.evaluate
    --limit`` scores them); ``examples`` is how many disagreeing sequences per
    bin are kept; ``bins`` which bins are inspected. Raises
    :class:`bench.data.task.TaskError` for a program of another vocabulary or kind, and
    :class:`bench.program.cost.CostError` for one over the scoring ``limits`` (as scoring does).
    """
    from bench.data.splits import indexed_batches

    check_program_fits(program, task)
    # The same batches as scoring.model_batches, with the split rows it drops (they name the examples).
    batches = {name: list(indexed_batches(task, splits[name], BATCH_SIZE, limit, by_length=True)) for name in bins}
    budget = limits.budget(program, [batch.input_ids.shape[1] for pairs in batches.values() for _, batch in pairs])
    found = {name: _diagnose_bin(program, task, splits[name], batches[name], predictions.bins[name], examples, budget)
             for name in bins}
    return Diagnostics(task=task.name, kind=task.kind, limit=limit, bins=found)


@dataclass(order=True)
class _Candidate:
    """A disagreeing sequence, kept by split row until the bin's first ``examples`` are known."""

    row: int
    batch: object = field(compare=False)
    index: int = field(compare=False)  # its row in the batch
    differs: np.ndarray = field(compare=False)  # (T,) bool: scored positions where the outputs differ
    program_prediction: np.ndarray = field(compare=False)
    model_prediction: np.ndarray = field(compare=False)


def _diagnose_bin(program, task, split, batches, stored, examples: int, budget) -> BinDiagnostics:
    """One bin: the batches of :func:`bench.scoring.score.model_batches`, each run once and counted twice."""
    from bench.program import run_program

    lengths = split_lengths(split)
    counts = BinCounts()
    sequences = np.zeros(lengths.max(initial=0) + 1, dtype=np.int64)
    matched = np.zeros_like(sequences)
    candidates: list[_Candidate] = []
    for rows, batch in batches:
        model_prediction = stored.for_batch(rows, batch)
        program_prediction = run_program(program, batch, budget=budget)
        counts.add(batch, model_prediction, program_prediction)
        differs = ~position_agreement(program_prediction, model_prediction) & batch.label_mask
        ok = ~differs.any(axis=1)
        np.add.at(sequences, lengths[rows], 1)
        np.add.at(matched, lengths[rows], ok.astype(np.int64))
        candidates += [_Candidate(int(rows[b]), batch, int(b), differs[b], program_prediction[b], model_prediction[b])
                       for b in np.flatnonzero(~ok)]
        candidates = heapq.nsmallest(examples, candidates)
    present = np.flatnonzero(sequences)
    by_length = ByLength(present.tolist(), sequences[present].tolist(), matched[present].tolist())
    return BinDiagnostics(counts, by_length, [_example(task, c, int(lengths[c.row])) for c in candidates])


def split_lengths(split) -> np.ndarray:
    """The length measure ``L`` of every sequence of a split, in split order (its ``length`` column)."""
    column = split.select_columns(["length"]).with_format("arrow")[:]["length"]
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _example(task, candidate: _Candidate, length: int) -> Example:
    batch, b = candidate.batch, candidate.index
    positions = np.flatnonzero(candidate.differs)
    gold = gold_predictions(batch)[b]
    return Example(
        row=candidate.row,
        length=length,
        sequence=task.describe(batch.input_ids[b, : batch.lengths[b]]),
        scored=int(batch.label_mask[b].sum()),
        positions=positions.tolist(),
        program=[decode_prediction(task, candidate.program_prediction[t]) for t in positions],
        model=[decode_prediction(task, candidate.model_prediction[t]) for t in positions],
        gold=[decode_prediction(task, gold[t]) for t in positions],
    )


def decode_prediction(task, prediction) -> str:
    """A prediction at one position as symbols: the token, or ``{a,b}`` for a set of allowed tokens."""
    if np.ndim(prediction) == 0:
        return task.vocab.decode([prediction])[0]
    return "{" + ",".join(tok for tok, bit in zip(task.vocab.tokens, prediction) if bit) + "}"


# ----- what a person reads ----------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> str:
    return f"{numerator / max(denominator, 1):.3f}"


def bins_table(diagnostics: Diagnostics) -> str:
    """Per bin: sequences, disagreeing sequences, match_acc and match_token_acc."""
    from tabulate import tabulate

    rows = [[name, found.counts.sequences, found.disagreeing,
             _rate(found.counts.matched_sequences, found.counts.sequences),
             _rate(found.counts.matched_positions, found.counts.positions)]
            for name, found in diagnostics.bins.items()]
    return tabulate(rows, headers=["bin", "sequences", "disagreeing", "match_acc", "match_token_acc"],
                    colalign=("left", "right", "right", "right", "right"), disable_numparse=True)


def length_table(diagnostics: Diagnostics) -> str:
    """One row per exact length: its bin, sequences, matched sequences and match_acc."""
    from tabulate import tabulate

    rows = [[length, name, n, m, _rate(m, n)]
            for name, found in diagnostics.bins.items()
            for length, n, m in zip(found.by_length.length, found.by_length.sequences, found.by_length.matched)]
    return tabulate(rows, headers=["L", "bin", "sequences", "matched", "match_acc"],
                    colalign=("right", "left", "right", "right", "right"), disable_numparse=True)


def marked_sequence(example: Example) -> str:
    """The sequence with every token after which the outputs differ as ``[x]``; long ones cut to the marks."""
    tokens = example.sequence.split(" ")
    marked = set(example.positions)
    shown = [f"[{tok}]" if i in marked else tok for i, tok in enumerate(tokens)]
    if len(tokens) <= SHORT_SEQUENCE:
        return " ".join(shown)
    keep = np.zeros(len(tokens), dtype=bool)
    for t in marked:
        keep[max(0, t - CONTEXT_TOKENS) : t + CONTEXT_TOKENS + 1] = True
    keep[0] = keep[-1] = True
    parts, previous = [], -1
    for i in np.flatnonzero(keep):
        if i > previous + 1:
            parts.append("...")
        parts.append(shown[i])
        previous = i
    return " ".join(parts)


def example_text(bin_name: str, example: Example) -> str:
    """An example: where it is, the marked sequence, and one row per differing position."""
    from tabulate import tabulate

    tokens = example.sequence.split(" ")
    rows = [[t, tokens[t], p, m, g]
            for t, p, m, g in zip(example.positions, example.program, example.model, example.gold)]
    table = tabulate(rows, headers=["position", "after", "program", "model", "gold"], disable_numparse=True)
    head = (f"{bin_name} row {example.row} (L={example.length}): "
            f"{len(example.positions)} of {example.scored} scored positions differ")
    return "\n".join([head, "  " + marked_sequence(example), *("  " + line for line in table.splitlines())])


def report(diagnostics: Diagnostics, program_name: str) -> str:
    """The whole printout: the per-bin table, the examples, the by-length table."""
    who = f"{printable(program_name, 100)} vs model {printable(diagnostics.model or '?', 200)} ({diagnostics.task})"
    parts = [who, "", bins_table(diagnostics)]
    examples = [(name, ex) for name, found in diagnostics.bins.items() for ex in found.examples]
    if examples:
        parts += ["", "First disagreeing sequences per bin ([x]: the outputs after x differ):"]
        parts += [f"\n{example_text(name, ex)}" for name, ex in examples]
    parts += ["", "match_acc by exact length L:", length_table(diagnostics)]
    return "\n".join(parts)


def plot_by_length(diagnostics: Diagnostics, path: Path, title: str, length_measure: str,
                   threshold: float = 0.9) -> None:
    """match_acc against the exact length: one line over all lengths, each bin shaded, the threshold dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    for i, (name, found) in enumerate(diagnostics.bins.items()):
        lo, hi = TEST_SPLITS[name]
        ax.axvspan(lo - 0.5, hi + 0.5, color="0.93" if i % 2 == 0 else "0.86", lw=0)
        ax.text((lo + hi) / 2, 1.02, name, ha="center", va="bottom", fontsize=8, color="0.3",
                transform=ax.get_xaxis_transform())
    lengths = [n for found in diagnostics.bins.values() for n in found.by_length.length]
    rates = [m / max(n, 1) for found in diagnostics.bins.values()
             for n, m in zip(found.by_length.sequences, found.by_length.matched)]
    order = np.argsort(lengths, kind="stable")
    ax.plot(np.asarray(lengths)[order], np.asarray(rates)[order], marker=".", ms=4, lw=1, color="C0", label="match_acc")
    ax.axhline(threshold, color="C3", lw=0.8, ls="--", label=f"threshold {threshold:g}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(f"L ({length_measure})")
    ax.set_ylabel("match_acc")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # outside: never on the data
    ax.set_title(title, fontsize=10, pad=18, parse_math=False)  # pad: above the bin names; "$" in a name is text
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
