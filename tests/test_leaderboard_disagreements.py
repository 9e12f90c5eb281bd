"""The published site's program pages show where each program disagrees with its model (build --disagreements)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bench.program as rasp
from bench.leaderboard.__main__ import main
from bench.leaderboard.build import build
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, validate_submission
from bench.models import predictions
from bench.scoring.diagnose import diagnose
from bench.scoring.results import BINS, BinMetrics
from toy_submission import write_submission

LIMIT = 40
STATIC = Options(rescore=False, allow_limit=True, allow_partial=True)


@pytest.fixture(scope="module")
def harness():
    harness = Harness()
    if not {"bin_majority", "tomita1"} <= set(harness.zoo):
        pytest.skip("the zoo models bin_majority and tomita1 are not in zoo/manifest.json")
    return harness


def toy(folder, harness):
    """A submission whose bin_majority program answers with the current token (often not the model's answer)."""
    majority = harness.task("bin_majority")
    tomita = harness.task("tomita1")
    programs = {
        "bin_majority": rasp.Program.for_task(majority, rasp.map(rasp.tokens, "x", basis="tokens"), name="echo"),
        "tomita1": rasp.Program.for_task(tomita, rasp.readout(bias=np.array([-1, 1, -1, -1, 1, -1.0])), name="c"),
    }
    scored = {m: (p, {b: BinMetrics(LIMIT, 0.5, 0.5, 0.5, 0.5) for b in BINS}) for m, p in programs.items()}
    return write_submission(folder, harness, scored, LIMIT), programs


def test_pages_show_the_disagreements_the_program_really_has(tmp_path, harness):
    folder, programs = toy(tmp_path / "toy", harness)
    verdict = validate_submission(folder, harness, STATIC)
    assert verdict.ok, verdict.problems
    written = build([verdict.entry()], tmp_path / "site", disagreements=True)
    page = (tmp_path / "site" / "programs" / "toy" / "bin_majority.html").read_text()
    assert page.index('<pre class="program">') < page.index("Where it disagrees with the model")

    ref = harness.zoo["bin_majority"]
    task = harness.task(ref.task)
    stored = predictions.for_model(ref.id, ref.weights_sha256, task, harness.splits(task), None, entry=ref.entry)
    found = diagnose(programs["bin_majority"], task, harness.splits(task), stored, LIMIT, examples=3)
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>', page)
    assert [(n, int(d)) for _, n, d in rows] == [(str(LIMIT), b.disagreeing) for b in found.bins.values()]
    assert sum(b.disagreeing for b in found.bins.values()) > 0  # an echo is not a majority vote
    first = next(ex for b in found.bins.values() for ex in b.examples)
    assert f"L={first.length}: " in page and f"model {first.model[0]}" in page

    image = tmp_path / "site" / "programs" / "toy" / "bin_majority-by-length.png"
    assert image.read_bytes()[:4] == b"\x89PNG" and image in written
    assert 'src="bin_majority-by-length.png"' in page


def test_off_by_default_and_asked_for_on_the_command_line(tmp_path, harness, monkeypatch):
    folder, _ = toy(tmp_path / "submissions" / "toy", harness)
    verdict = validate_submission(folder, harness, STATIC)
    build([verdict.entry()], tmp_path / "plain")
    assert "Where it disagrees" not in (tmp_path / "plain" / "programs" / "toy" / "tomita1.html").read_text()
    asked = {}
    monkeypatch.setattr("bench.leaderboard.build.build", lambda entries, out, **options: asked.update(options) or [])
    assert main(["build", "--submissions", str(tmp_path / "submissions"), "--out", str(tmp_path / "site"),
                 "--no-rescore", "--disagreements"]) == 0
    assert asked == {"heatmaps": False, "disagreements": True}
