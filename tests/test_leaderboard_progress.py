"""Progress of validate and build: bars on a terminal, one line per submission otherwise, with forked workers too.

Two tiny submissions (two zoo models, 40 sequences per bin; ``make_submission``
of ``test_leaderboard_validate``) are re-scored for real.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from test_leaderboard_validate import LENIENT, make_submission, needs_zoo

from bench.leaderboard.__main__ import main
from bench.leaderboard.harness import Harness
from bench.leaderboard.progress import Progress
from bench.leaderboard.validate import validate_all

LENIENT_ARGS = ["--allow-limit", "--allow-partial"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def own_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_VERDICTS", str(tmp_path / "verdicts"))


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> list[Path]:
    needs_zoo()
    first = make_submission(tmp_path_factory.mktemp("subs") / "first")
    second = Path(shutil.copytree(first, first.parent / "second"))
    text = (second / "submission.json").read_text().replace('"method": "toy"', '"method": "toy 2"')
    (second / "submission.json").write_text(text)
    return [first, second]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_without_a_terminal_one_line_per_submission(two, capsys, jobs):
    assert main(["validate", *map(str, two), *LENIENT_ARGS, "--jobs", jobs]) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2 and "\r" not in err, err
    for folder, line in zip(two, lines):
        assert re.fullmatch(rf"checked {re.escape(folder.as_posix())}: 2 programs re-scored in [0-9]+ s", line), line


def test_static_only_and_unscorable_submissions_get_their_line_too(two, tmp_path, capsys):
    broken = Path(shutil.copytree(two[0], tmp_path / "broken"))
    (broken / "results.json").write_text("{")
    assert main(["validate", str(two[0]), *LENIENT_ARGS, "--no-rescore"]) == 0
    assert capsys.readouterr().err == f"checked {two[0].as_posix()}: static checks only (--no-rescore)\n"
    assert main(["validate", str(broken), *LENIENT_ARGS]) == 1
    assert capsys.readouterr().err == f"checked {broken.as_posix()}: nothing to re-score (1 problem)\n"


@pytest.mark.parametrize("jobs", [1, 2])
def test_on_a_terminal_bars_count_programs_with_an_estimate(two, jobs):
    terminal = Terminal()
    verdicts = validate_all(two, Harness(), LENIENT, Progress(terminal), jobs=jobs)
    assert all(v.ok for v in verdicts)
    shown = terminal.getvalue()
    frames = [f for f in re.split(r"[\r\n]", shown) if f.strip()]
    assert any(f.startswith("static checks:") for f in frames), frames
    bars = [f for f in frames if f.startswith("re-scoring:")]
    assert re.search(r"\b4/4 \[[0-9:]+<[0-9:]+", bars[-1]), bars  # count and time left
    counts = [int(re.search(r"([0-9])/4", f).group(1)) for f in bars]
    assert counts == sorted(counts) and counts[-1] == 4
    assert sum(f.startswith("checked ") for f in frames) == 2


def test_quiet_progress_prints_nothing(two, capsys):
    validate_all(two[:1], Harness(), LENIENT)
    assert capsys.readouterr() == ("", "")
