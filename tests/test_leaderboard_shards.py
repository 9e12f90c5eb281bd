"""Validation split over a job array (validate --shard K/N, merge-verdicts) gives validate's verdicts."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.leaderboard.__main__ import main
from bench.leaderboard.shards import shard_models
from test_leaderboard_validate import MODELS, make_submission, needs_zoo


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """Two valid submissions of the two toy models and one whose tomita1 figure is forged."""
    needs_zoo()
    root = tmp_path_factory.mktemp("shards")
    good = make_submission(root / "good")
    for name in ("other", "forged"):
        shutil.copytree(good, root / name)
        data = json.loads((root / name / "submission.json").read_text())
        (root / name / "submission.json").write_text(json.dumps({**data, "method": name}))
    results = json.loads((root / "forged" / "results.json").read_text())
    tomita = next(m for m in results["models"] if m["model"]["id"] == "tomita1")
    tomita["metrics"]["test_51_100"]["match_acc"] = 0.5
    (root / "forged" / "results.json").write_text(json.dumps(results))
    return root


def test_models_are_split_round_robin_over_sorted_ids():
    ids = ["c", "a", "b", "a"]
    assert [shard_models(ids, k, 2) for k in (1, 2)] == [{"a", "c"}, {"b"}]
    assert set().union(*(shard_models(ids, k, 3) for k in (1, 2, 3))) == {"a", "b", "c"}


def test_two_shards_merged_give_the_verdicts_of_one_validate(submissions, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RASP_BENCH_VERDICTS", str(tmp_path / "records"))
    folders = [str(submissions / n) for n in ("good", "other", "forged")]
    flags = ["--allow-limit", "--allow-partial"]
    assert main(["validate", *folders, *flags]) == 1
    whole = capsys.readouterr().out
    for k in (1, 2):
        assert main(["validate", *folders, *flags, "--shard", f"{k}/2", "--verdicts", str(tmp_path / f"{k}.json")]) == 0
    shard_models_seen = [json.loads((tmp_path / f"{k}.json").read_text())["models"] for k in (1, 2)]
    assert sorted(shard_models_seen[0] + shard_models_seen[1]) == sorted(MODELS)
    capsys.readouterr()
    assert main(["merge-verdicts", str(tmp_path / "2.json"), str(tmp_path / "1.json")]) == 1
    merged = capsys.readouterr().out

    def verdict_lines(text):
        return sorted(line for line in text.splitlines() if line.startswith(("ok ", "REJECTED", "  ")))

    assert verdict_lines(merged) == verdict_lines(whole)
    assert "models[1].metrics.test_51_100.match_acc: reported 0.5" in merged
    assert len(list((tmp_path / "records").glob("*"))) == 2  # the two accepted ones recorded for build


@pytest.mark.parametrize("files, message", [
    (["1.json"], "merge needs each of 1/2 .. 2/2 once"),
    (["1.json", "1.json"], "merge needs each of 1/2 .. 2/2 once"),
    (["1.json", "other.json"], "checked other submissions or other files"),
    (["1.json", "junk.json"], "not a verdict file of validate --shard"),
])
def test_verdict_files_that_do_not_fit_together_are_refused(submissions, tmp_path, capsys, files, message):
    folders = [str(submissions / "good")]
    for k in (1, 2):
        main(["validate", *folders, "--allow-limit", "--allow-partial", "--no-rescore", "--shard", f"{k}/2",
              "--verdicts", str(tmp_path / f"{k}.json")])
    other = json.loads((tmp_path / "2.json").read_text())
    other["submissions"][0]["key"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    (tmp_path / "junk.json").write_text(json.dumps({"format": 1, "shard": [2, 2]}))
    capsys.readouterr()
    assert main(["merge-verdicts", *(str(tmp_path / f) for f in files)]) == 2
    assert message in capsys.readouterr().err


def test_shard_needs_its_verdict_file(capsys):
    with pytest.raises(SystemExit):
        main(["validate", "--shard", "1/2"])
    assert "--shard K/N and --verdicts FILE go together" in capsys.readouterr().err
