"""``bench.evaluate`` refuses unusable arguments before any work, and gives every model its own program file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.evaluate as evaluate
from bench.evaluate import UsageError, check_out_dir, main
from bench.models.hub import model_ids
from bench.scoring.run import program_filename


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the run gets as far as choosing (and loading) models."""

    def refuse(*args, **kwargs):
        raise AssertionError("models were selected before the arguments were refused")

    monkeypatch.setattr(evaluate, "select_models", refuse)


def usage_error(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    return err


# ----- numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "NaN", "inf", "-inf", "1e9", "soon"])
def test_time_limit_must_be_positive_and_finite(capsys, no_work, value):
    err = usage_error(capsys, ["lookup", f"--time-limit={value}"], "--time-limit")
    assert "expected a" in err


def test_time_limit_accepts_fractions_and_the_bound():
    assert evaluate.parse_args(["lookup", "--time-limit", "0.5"]).time_limit == 0.5
    assert evaluate.parse_args(["lookup", "--time-limit", str(evaluate.MAX_TIME_LIMIT)]).time_limit == evaluate.MAX_TIME_LIMIT


@pytest.mark.parametrize("option, value", [
    ("--jobs", "0"), ("--jobs", "-2"), ("--jobs", str(evaluate.MAX_JOBS + 1)), ("--jobs", "1.5"),
    ("--limit", "0"), ("--limit", "-3"), ("--limit", "ten"),
    ("--seed", "-1"), ("--seed", "1.5"), ("--seed", str(2**64)), ("--seed", "x"),
    ("--match-threshold", "nan"), ("--match-threshold", "1.5"),
])
def test_counts_and_seed_are_checked(capsys, no_work, option, value):
    usage_error(capsys, ["lookup", f"{option}={value}"], option)


def test_good_numbers_are_kept():
    args = evaluate.parse_args(["lookup", "--jobs", "4", "--limit", "7", "--seed", "12345678901"])
    assert (args.jobs, args.limit, args.seed) == (4, 7, 12345678901)


# ----- --out -----------------------------------------------------------------------------


def refused(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and message in err and err.count("\n") == 1
    return err


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, no_work):
    path = tmp_path / "results.txt"
    path.write_text("mine")
    refused(capsys, ["lookup", "--out", str(path)], "is an existing file, not a folder")
    refused(capsys, ["lookup", "--out", str(path / "sub")], f"cannot be made: {path} is a file")
    assert path.read_text() == "mine"


def test_out_root_and_home_are_refused(tmp_path, capsys, no_work, monkeypatch):
    refused(capsys, ["lookup", "--out", "/"], "is the filesystem root")
    refused(capsys, ["lookup", "--out", "/tmp/.."], "is the filesystem root")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    refused(capsys, ["lookup", "--out", str(home)], "is the home folder")
    refused(capsys, ["lookup", "--out", str(home / "sub" / "..")], "is the home folder")


def results_json(folder: Path, method: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps({"schema_version": 1, "method": {"name": method, "spec": method, "parameters": {}},
                                "models": []}))
    return path


def test_another_methods_results_are_not_overwritten(tmp_path, capsys, no_work):
    path = results_json(tmp_path / "out", "lookup")
    before = path.read_bytes()
    err = refused(capsys, ["oracle", "--out", str(tmp_path / "out")], "holds the results of method 'lookup', not 'oracle'")
    assert "another --out" in err
    assert path.read_bytes() == before


@pytest.mark.parametrize("text, message", [
    ("{not json", "holds a results.json that cannot be read"),
    ("[" * 100_000, "holds a results.json that cannot be read"),
    ('{"method": "lookup"}', "without a method name"),
    ('{"method": {"name": 5}}', "without a method name"),
])
def test_an_unrelated_results_json_is_not_overwritten(tmp_path, capsys, no_work, text, message):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.json").write_text(text)
    refused(capsys, ["lookup", "--out", str(tmp_path / "out")], message)
    assert (tmp_path / "out" / "results.json").read_text() == text


def test_a_folder_with_other_content_is_refused(tmp_path, capsys, no_work):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("x")
    refused(capsys, ["lookup", "--out", str(tmp_path / "out")], "is not empty ('thesis.tex') and holds no results.json")


def test_folders_a_run_may_write_into(tmp_path):
    check_out_dir(tmp_path / "new" / "deeper", "lookup", resume=False)  # made when the first result is written
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty", "lookup", resume=False)
    results_json(tmp_path / "same", "lookup")
    (tmp_path / "same" / "notes.md").write_text("kept beside the results")
    check_out_dir(tmp_path / "same", "lookup", resume=False)  # a rerun of the same method
    submission = tmp_path / "submission"
    (submission / "programs").mkdir(parents=True)
    (submission / "submission.json").write_text("{}")
    (submission / ".results.json.abc.tmp").write_text("")  # left by an interrupted atomic write
    check_out_dir(submission, "lookup", resume=False)


def test_resume_leaves_the_settings_check_to_bench_resume(tmp_path):
    results_json(tmp_path / "out", "lookup")
    check_out_dir(tmp_path / "out", "oracle", resume=True)  # bench.scoring.resume refuses it, naming the setting
    with pytest.raises(UsageError, match="is not empty"):
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "data.csv").write_text("")
        check_out_dir(tmp_path / "other", "lookup", resume=True)


# ----- program file names ----------------------------------------------------------------


def test_zoo_ids_keep_their_program_file_names():
    ids = model_ids()
    assert ids
    for model_id in ids:
        assert program_filename(model_id) == f"programs/{model_id}.json"


def test_ids_that_slug_alike_get_different_files():
    ids = ["x_y", "x y", "x/y", "X_Y", "x__y", "x_y_", "_x_y", "x.y", "x_y.json", "..", "", "/", "org/name", "org/name "]
    names = [program_filename(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert len({n.lower() for n in names}) == len(ids)  # case-insensitive file systems too
    assert program_filename("x y") == program_filename("x y")  # deterministic
    for name in names:
        assert name.startswith("programs/") and name.endswith(".json")
        stem = name.removeprefix("programs/")
        assert "/" not in stem and not stem.startswith(".") and ".." not in stem


def test_long_and_odd_ids_give_short_safe_names():
    for model_id in ["a" * 10_000, "/home/me/checkpoints/" + "deep/" * 200 + "model", "naïve\0\n\u202e"]:
        name = program_filename(model_id)
        stem = name.removeprefix("programs/")
        assert len(stem.encode()) <= 100 and "/" not in stem and stem.isascii() and stem.isprintable()
