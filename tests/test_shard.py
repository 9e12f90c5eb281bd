"""``--shard K/N`` and ``merge`` give a single run's results; ``--launcher`` runs the shards with submitit."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import textwrap

import pytest

import bench.scoring.launch as launch
from bench.evaluate import main
from bench.scoring.results import load_results, save_results
from bench.scoring.shard import parse_shard, shard_ids

# Three tiny bundled models; sorted (bin_majority, parity, tomita1), shard 1/2 is bin_majority and
# tomita1, shard 2/2 is parity.
MODELS = ["bin_majority", "tomita1", "parity"]
SETTINGS = ["--models", *MODELS, "--limit", "20"]

try:
    import submitit  # noqa: F401
except ImportError:
    submitit = None
needs_submitit = pytest.mark.skipif(submitit is None, reason="submitit is not installed (pip install 'rasp-bench[cluster]')")


def without_measurements(path) -> dict:
    """results.json without what a run measures: the date and every model's cost."""
    data = json.loads(path.read_text())
    data.pop("date")
    for model in data["models"]:
        model.pop("cost")
    return data


def program_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "programs").iterdir())}


def assert_same_run(single, merged):
    assert without_measurements(merged / "results.json") == without_measurements(single / "results.json")
    assert program_files(merged) == program_files(single)
    assert (merged / "match_acc_by_length.png").read_bytes() == (single / "match_acc_by_length.png").read_bytes()
    assert not (merged / "shard.json").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A single run and its two shards (oracle, three models, 20 sequences per bin)."""
    root = tmp_path_factory.mktemp("shards")
    assert main(["oracle", *SETTINGS, "--out", str(root / "single")]) == 0
    # the shards list the models in another order: the partition and the merged order do not depend on it
    assert main(["oracle", *SETTINGS, "--shard", "1/2", "--out", str(root / "a")]) == 0
    assert main(["oracle", "--models", *reversed(MODELS), "--limit", "20", "--shard", "2/2", "--out", str(root / "b")]) == 0
    return root


def merge(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["merge", *map(str, args)])
    return code, capsys.readouterr().err


# ----- the partition -----------------------------------------------------------------------


def test_partition_is_round_robin_over_sorted_ids_whatever_the_order():
    ids = [f"m{i:02d}" for i in range(10)]
    shards = [shard_ids(ids, k, 3) for k in (1, 2, 3)]
    assert sorted(sum(shards, [])) == ids and [len(s) for s in shards] == [4, 3, 3]
    assert shards[0] == ["m00", "m03", "m06", "m09"]
    assert shard_ids(list(reversed(ids)), 1, 3) == list(reversed(shards[0]))  # same models, selection order
    assert shard_ids(["b", "a", "b"], 1, 2) == ["a"] and shard_ids(["b", "a", "b"], 2, 2) == ["b"]
    assert shard_ids(["a"], 2, 2) == []


@pytest.mark.parametrize("text", ["3/2", "0/2", "1/0", "x", "1/2/3", "-1/2", ""])
def test_bad_shard_arguments_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard(text)
    assert parse_shard(" 2/8 ") == (2, 8)


@pytest.mark.parametrize("argv, message", [
    (["--shard", "1/2", "--launcher", "local", "--shards", "2"], "give one of the two"),
    (["--shards", "2"], "--shards N is for --launcher"),
    (["--launcher", "local"], "needs --shards N"),
    (["--slurm-mem", "8G"], "--slurm-mem is for --launcher"),
    (["--shard", "3/2"], "--shard"),
])
def test_bad_combinations_are_refused(capsys, tmp_path, argv, message):
    try:
        code = main(["oracle", "--models", "tomita1", "--out", str(tmp_path / "o"), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ----- shards and merge ------------------------------------------------------------------


def test_shards_merge_into_the_single_run(runs, capsys):
    assert json.loads((runs / "a" / "shard.json").read_text())["models"] == ["bin_majority", "tomita1"]
    assert [m.model.id for m in load_results(runs / "b" / "results.json").models] == ["parity"]
    code, err = merge(capsys, runs / "b", runs / "a", "--out", runs / "merged")  # any order of folders
    assert code == 0, err
    assert_same_run(runs / "single", runs / "merged")
    merged = load_results(runs / "merged" / "results.json")
    shard_dates = [load_results(runs / s / "results.json").date for s in "ab"]
    assert merged.date == max(shard_dates)
    by_id = {m.model.id: m for m in merged.models}
    for shard in "ab":  # each model's cost is its shard's measurement
        for m in load_results(runs / shard / "results.json").models:
            assert by_id[m.model.id].cost == m.cost


def test_missing_and_overlapping_shards_are_refused_by_name(runs, capsys):
    code, err = merge(capsys, runs / "a", "--out", runs / "m1")
    assert code == 2 and "missing shard 2/2 (models parity)" in err
    code, err = merge(capsys, runs / "a", runs / "a", runs / "b", "--out", runs / "m1")
    assert code == 2 and "shard 1/2 given 2 times" in err
    assert "model bin_majority is in 2 shards" in err and "model tomita1 is in 2 shards" in err
    code, err = merge(capsys, runs / "single", runs / "b", "--out", runs / "m1")
    assert code == 2 and "holds no shard.json" in err
    assert not (runs / "m1").exists()


def test_unfinished_or_tampered_shards_are_refused(runs, capsys, tmp_path):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs / "a", unfinished)
    results = load_results(unfinished / "results.json")
    results.models = results.models[:1]
    save_results(unfinished / "results.json", results)
    code, err = merge(capsys, unfinished, runs / "b", "--out", tmp_path / "m")
    assert code == 2 and "is unfinished: no results for tomita1" in err

    tampered = tmp_path / "tampered"
    shutil.copytree(runs / "a", tampered)
    program = tampered / "programs" / "tomita1.json"
    program.write_text(program.read_text().replace("\n", "\n ", 1))
    code, err = merge(capsys, tampered, runs / "b", "--out", tmp_path / "m")
    assert code == 2 and "programs/tomita1.json does not have the sha256" in err
    assert not (tmp_path / "m").exists()


def test_a_shard_of_other_settings_is_refused(runs, capsys, tmp_path):
    other = tmp_path / "other"
    assert main(["oracle", "--models", *MODELS, "--limit", "10", "--shard", "2/2", "--out", str(other)]) == 0
    code, err = merge(capsys, runs / "a", other, "--out", tmp_path / "m")
    assert code == 2 and "other settings" in err and "limit 10 vs 20" in err and str(other) in err

    slower = tmp_path / "slower"  # a setting that only shard.json records
    shutil.copytree(runs / "b", slower)
    manifest = json.loads((slower / "shard.json").read_text())
    manifest["time_limit"] = 5.0
    (slower / "shard.json").write_text(json.dumps(manifest))
    code, err = merge(capsys, runs / "a", slower, "--out", tmp_path / "m")
    assert code == 2 and "time_limit 5.0 vs 600.0" in err

    fewer = tmp_path / "fewer"  # another selection of models
    assert main(["oracle", "--models", "parity", "tomita1", "--limit", "20", "--shard", "2/2", "--out", str(fewer)]) == 0
    code, err = merge(capsys, runs / "a", fewer, "--out", tmp_path / "m")
    assert code == 2 and "selected models differ" in err
    assert not (tmp_path / "m").exists()


def test_an_empty_shard_still_writes_its_results(runs, tmp_path):
    assert main(["oracle", *SETTINGS, "--shard", "4/4", "--out", str(tmp_path / "empty")]) == 0
    assert load_results(tmp_path / "empty" / "results.json").models == []
    assert json.loads((tmp_path / "empty" / "shard.json").read_text())["models"] == []


# ----- the launcher ------------------------------------------------------------------------


def test_launcher_without_submitit_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit raises ImportError
    assert main(["oracle", "--models", "tomita1", "--launcher", "slurm", "--shards", "2",
                 "--out", str(tmp_path / "o")]) == 2
    assert "pip install 'rasp-bench[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@needs_submitit
def test_slurm_resources_reach_the_sbatch_script(monkeypatch, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{__import__('os').environ['PATH']}")
    args = argparse.Namespace(launcher="slurm", slurm_time=90, slurm_cpus=4, slurm_mem="16G",
                              slurm_partition="cpu", jobs=1, shards=3)
    script = launch.make_executor(args, tmp_path / "logs", "rasp-bench-oracle")._executor._make_submission_file_text("x", "u")
    for line in ["--cpus-per-task=4", "--mem=16G", "--time=90", "--partition=cpu", "--job-name=rasp-bench-oracle"]:
        assert f"#SBATCH {line}\n" in script


class FailingJob:
    def __init__(self, job_id):
        self.job_id = job_id

    def done(self):
        return True

    def exception(self):
        return RuntimeError("python -m bench.evaluate ... exited with status 2")

    def stderr(self):
        return "error: something broke\n"


class FailingExecutor:
    def __init__(self):
        self.submitted = []

    def map_array(self, fn, argvs):
        self.submitted += argvs
        return [FailingJob(str(i)) for i in range(len(argvs))]

    def submit(self, fn, argv):
        self.submitted.append(argv)
        return FailingJob("retry")


def test_a_shard_failing_twice_is_reported_by_name(monkeypatch, capsys, tmp_path):
    executor = FailingExecutor()
    monkeypatch.setitem(sys.modules, "submitit", type(sys)("submitit"))
    monkeypatch.setattr(launch, "make_executor", lambda *args: executor)
    monkeypatch.setitem(launch.POLL_SECONDS, "local", 0.0)
    assert main(["oracle", "--models", "tomita1", "parity", "--launcher", "local", "--shards", "2",
                 "--out", str(tmp_path / "o")]) == 1
    captured = capsys.readouterr()
    assert "resubmitting once: shard 1/2, shard 2/2" in captured.out
    assert "shard 1/2 failed twice (error: something broke; " in captured.err
    assert "shard 2/2 failed twice" in captured.err and "python -m bench.evaluate merge" in captured.err
    assert len(executor.submitted) == 4 and all("--resume" in argv for argv in executor.submitted[2:])
    assert not (tmp_path / "o").exists()


FLAKY_METHOD = """
    import os
    from pathlib import Path

    from bench.baselines.oracle import Oracle

    if os.environ.get("SUBMITIT_EXECUTOR"):  # in a shard job: the first one to get here fails
        try:
            os.close(os.open(Path(__file__).with_name("failed-once"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            raise RuntimeError("this shard fails once")


    class FlakyOracle(Oracle):
        name = "flaky_oracle"
"""


@needs_submitit
def test_local_launcher_runs_the_shards_resubmits_a_failure_and_merges(capsys, tmp_path):
    method = tmp_path / "flaky.py"
    method.write_text(textwrap.dedent(FLAKY_METHOD))
    settings = [str(method), "--models", "bin_majority", "tomita1", "tomita2", "--limit", "20"]
    assert main([*settings, "--out", str(tmp_path / "single")]) == 0
    capsys.readouterr()
    assert main([*settings, "--launcher", "local", "--shards", "3", "--out", str(tmp_path / "launched")]) == 0
    captured = capsys.readouterr()
    failed = re.search(r"resubmitting once: shard (\d)/3", captured.out)
    assert failed, captured.out + captured.err
    assert f"shard {failed[1]}/3 (job " in captured.err and "this shard fails once" in captured.err
    assert_same_run(tmp_path / "single", tmp_path / "launched")
    assert sorted(p.name for p in (tmp_path / "launched.shards").iterdir()) == ["1-of-3", "2-of-3", "3-of-3", "logs"]
