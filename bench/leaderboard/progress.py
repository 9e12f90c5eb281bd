"""What ``validate`` and ``build`` show while they work: progress bars, and one line per submission.

Re-scoring is the slow part, so it has a bar of the **programs** re-scored
(every submission's, model by model), naming the model in hand; tqdm gives the
rate and the time left. With ``--jobs N`` the programs are scored in forked
worker processes, which add to a shared counter that the parent reads a few
times a second (:func:`bench.leaderboard.rescore._score_ahead`), so the bar
moves inside a model's group of programs there too. The static checks have a
bar of their own (submissions).

Bars are drawn on stderr only when it is a terminal. Whatever stderr is, each
submission gets exactly one line when its checks are done::

    checked submissions/oracle: 34 programs re-scored in 3 min 12 s
    checked submissions/lookup: static checks only (--no-rescore)

so a CI log says what was done without a line per model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

from tqdm import tqdm

from bench.scoring.schema import printable


class Progress:
    """Bars (on a terminal) and the per-submission lines of one ``validate`` or ``build`` run."""

    def __init__(self, stream=None, bars: bool | None = None, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.bars = not quiet and (bool(isatty and isatty()) if bars is None else bars)
        self.quiet = quiet  # no bar and no line (validation used as a library)
        self._bar: tqdm | None = None
        self._left: dict[str, int] = {}  # folder -> programs still to re-score
        self._programs: dict[str, int] = {}  # folder -> programs to re-score
        self._start = 0.0

    def checking(self, folders: list) -> Iterator:
        """``folders`` one by one, under a bar of the static checks."""
        bar = tqdm(folders, desc="static checks", unit="submission", file=self.stream, disable=not self.bars,
                   leave=False, dynamic_ncols=True)
        for folder in bar:
            bar.set_postfix_str(printable(str(folder), 60), refresh=False)
            yield folder

    def rescoring(self, programs: dict[str, int]) -> None:
        """Start the re-scoring bar: ``programs`` is, per folder, how many programs it will re-score."""
        self._programs = {folder: n for folder, n in programs.items() if n}
        self._left = dict(self._programs)
        self._start = time.monotonic()
        if self._programs:
            self._bar = tqdm(total=sum(self._programs.values()), desc="re-scoring", unit="program",
                             file=self.stream, disable=not self.bars, dynamic_ncols=True, smoothing=0.1, leave=False)

    def model(self, text: str) -> None:
        """Name what is being scored (a model id, ``3/34 models done``) beside the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(printable(text, 60))

    def scored(self, programs: int = 1) -> None:
        """``programs`` more programs scored."""
        if self._bar is not None:
            self._bar.update(programs)

    def scored_until(self, total: int) -> None:
        """The programs scored so far add up to ``total`` (a shared counter's value)."""
        if self._bar is not None and total > self._bar.n:
            self._bar.update(total - self._bar.n)

    def program_done(self, folder: str) -> None:
        """One program of ``folder`` is checked; the folder's line once it was the last."""
        if folder not in self._left:
            return
        self._left[folder] -= 1
        if self._left[folder] == 0:
            n = self._programs[folder]
            self.line(f"checked {folder}: {n} program{'s' * (n != 1)} re-scored in "
                      f"{_duration(time.monotonic() - self._start)}")

    def line(self, text: str) -> None:
        """One line of text, above the bar when there is one."""
        if self.quiet:
            return
        tqdm.write(printable(text, 600), file=self.stream)
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _duration(seconds: float) -> str:
    """``"48 s"``, ``"3 min 12 s"``, ``"1 h 05 min"``.

    >>> _duration(48.4), _duration(192), _duration(3900)
    ('48 s', '3 min 12 s', '1 h 05 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"

