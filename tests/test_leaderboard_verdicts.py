"""Verdict records: validate keeps its accepted re-scorings, build re-scores only what changed since.

The build tests use copies of two shipped submissions with scoring replaced by
a stand-in that returns the reported figures and counts its calls: what is
tested is which submissions get re-scored, not the scores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.leaderboard import verdicts
from bench.leaderboard.__main__ import main
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, validate_all
from bench.leaderboard.verdicts import Record, VerdictCache, submission_key
from bench.models.hub import load_manifest

N_MODELS = len(load_manifest()["models"])  # every shipped submission scores the whole zoo

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("lookup", "oracle")


@pytest.fixture(autouse=True)
def own_verdicts(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RASP_BENCH_VERDICTS", str(tmp_path / "verdicts"))
    return tmp_path / "verdicts"


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


@pytest.fixture
def submissions(tmp_path) -> Path:
    root = tmp_path / "submissions"
    for name in SHIPPED:
        if not (ROOT / "submissions" / name / "results.json").is_file():
            pytest.skip(f"submissions/{name} is not shipped")
        shutil.copytree(ROOT / "submissions" / name, root / name)
    return root


@pytest.fixture
def scored(monkeypatch) -> list[str]:
    """Scoring replaced: every program 'scores' exactly what it reports; the list names each one scored."""
    calls = []

    def reported(check):
        calls.append(check.verdict.folder.name)
        return dict(check.result.metrics)

    monkeypatch.setattr("bench.leaderboard.model_check.ModelCheck.score", reported)
    return calls


def test_the_key_covers_every_file_and_not_the_folder_name(tmp_path, harness):
    folder = tmp_path / "a"
    (folder / "programs").mkdir(parents=True)
    (folder / "results.json").write_text("{}")
    (folder / "programs" / "x.json").write_text("{}")
    key = submission_key(folder, harness.zoo)
    assert key == submission_key(Path(shutil.copytree(folder, tmp_path / "b")), harness.zoo)
    (folder / "programs" / "x.json").write_text("{ }")
    changed = submission_key(folder, harness.zoo)
    (folder / "match_acc_by_length.png").write_bytes(b"")
    added = submission_key(folder, harness.zoo)
    assert len({key, changed, added}) == 3
    other_zoo = {**harness.zoo}
    other_zoo.pop(next(iter(other_zoo)))
    assert submission_key(folder, other_zoo) != added  # a zoo change is another key


def test_a_folder_too_big_to_hash_has_no_key(tmp_path, harness, monkeypatch):
    monkeypatch.setattr(verdicts, "MAX_FILES", 3)
    for i in range(4):
        (tmp_path / f"f{i}").write_text("")
    assert submission_key(tmp_path, harness.zoo) is None
    assert VerdictCache(tmp_path / "records").find(None) is None


def test_records_round_trip_and_damaged_ones_are_ignored(tmp_path):
    cache = VerdictCache(tmp_path)
    record = cache.record("ab" * 32, "submissions/x", "x", 34)
    assert isinstance(record, Record) and cache.find("ab" * 32) == record
    (tmp_path / f"{'cd' * 32}.json").write_text("{not json")
    (tmp_path / f"{'ef' * 32}.json").write_text(json.dumps({**record.__dict__, "key": "ef" * 31}))
    assert cache.find("cd" * 32) is None and cache.find("ef" * 32) is None and cache.find("01" * 32) is None
    assert VerdictCache(tmp_path / "file" / "below").record("ab" * 32, "x", "x", 1) is not None
    (tmp_path / "blocked").write_text("")
    assert VerdictCache(tmp_path / "blocked").record("ab" * 32, "x", "x", 1) is None  # not writable: no record


def test_only_accepted_rescorings_are_recorded(submissions, scored, harness, own_verdicts):
    lookup, oracle = submissions / "lookup", submissions / "oracle"
    manifest = json.loads((oracle / "submission.json").read_text())
    (oracle / "submission.json").write_text(json.dumps({**manifest, "date": "2025-02-30"}))  # re-scored, rejected
    kept = VerdictCache()
    validate_all([lookup, oracle], harness, Options(rescore=False), verdicts_kept=kept)
    assert not own_verdicts.exists()  # static checks prove nothing about the figures
    found = validate_all([lookup, oracle], harness, Options(), verdicts_kept=kept)
    assert [v.ok for v in found] == [True, False] and all(v.rescored for v in found)
    assert [p.name for p in own_verdicts.iterdir()] == [f"{found[0].key}.json"]
    assert kept.find(found[0].key).method == "lookup" and kept.find(found[0].key).programs == N_MODELS


def test_build_reuses_what_validate_accepted_and_rescores_the_rest(submissions, scored, tmp_path, capsys):
    lookup = submissions / "lookup"
    out = tmp_path / "leaderboard"
    assert main(["validate", str(lookup)]) == 0
    assert scored.count("lookup") == N_MODELS
    capsys.readouterr()

    scored.clear()
    assert main(["build", "--submissions", str(submissions), "--out", str(out)]) == 0
    assert scored == ["oracle"] * N_MODELS
    captured = capsys.readouterr()
    assert f"  reused the re-scoring of an earlier validate (same files): {lookup.as_posix()}\n" in captured.out
    assert f"  re-scored now: {(submissions / 'oracle').as_posix()}\n" in captured.out
    assert f"checked {lookup.as_posix()}: re-scoring reused ({N_MODELS} programs re-scored and accepted " in captured.err

    scored.clear()  # a changed file: that submission only is re-scored (build recorded oracle's re-scoring)
    data = json.loads((lookup / "submission.json").read_text())
    (lookup / "submission.json").write_text(json.dumps({**data, "description": data["description"] + " Edited."}))
    assert main(["build", "--submissions", str(submissions), "--out", str(out)]) == 0
    assert scored == ["lookup"] * N_MODELS
    assert "Edited." in (out / "index.html").read_text()

    scored.clear()
    assert main(["build", "--submissions", str(submissions), "--out", str(out), "--rescore"]) == 0
    assert sorted(set(scored)) == ["lookup", "oracle"] and len(scored) == 2 * N_MODELS
    assert main(["build", "--submissions", str(submissions), "--out", str(out), "--no-rescore"]) == 0
    assert len(scored) == 2 * N_MODELS
    assert "  static checks only (--no-rescore): " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["build", "--rescore", "--no-rescore"])
