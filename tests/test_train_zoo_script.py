"""scripts/train_zoo.py: which runs its searches and controls train, and which run a control lands from.

Training itself is stubbed (``run_point`` returns a made-up entry): these tests pin the bookkeeping.
"""

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tz():
    spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "scripts" / "train_zoo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry(label: str, accs: tuple, run_dir: str | None = None) -> dict:
    a, b, c = accs
    return {"label": label, "run_dir": run_dir or label, "arch": label.split("-")[0], "lr": 1e-3, "dropout": 0.0,
            "steps": 3000, "stopped_early": True, "wall_time_s": 1.0, "cpu_s": 1.0,
            "accuracy": {"test_0_50": a, "test_51_100": b, "test_101_150": c}}


def write(runs: Path, model_id: str, entries: list, finished: bool = True) -> None:
    (runs / model_id).mkdir(parents=True, exist_ok=True)
    (runs / model_id / "search.json").write_text(json.dumps({"task": model_id, "entries": entries, "finished": finished}))


def args(**kw):
    return argparse.Namespace(**{"seed": 0, "length_buckets": 4, "runs_per_task": 1, **kw})


def stub_runs(tz, monkeypatch, results: dict) -> list:
    """``run_point`` gives the accuracies ``results[label]``; returns the labels trained, in order."""
    trained = []

    def run_point(point, base, runs, model_id):
        trained.append((model_id, point.label, base.offsets))
        return entry(point.label, results[point.label])

    monkeypatch.setattr(tz, "run_point", run_point)
    return trained


def test_other_control_trains_the_grid_after_the_choice_until_one_is_a_control(tz, tmp_path, monkeypatch):
    write(tmp_path, "tomita1", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])
    write(tmp_path, "tomita1-noofs", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])  # generalizes: no control
    trained = stub_runs(tz, monkeypatch, {
        "1x1x16-lr0.001-do0.1": (1, 1, 0.9), "1x1x16-lr0.0001-do0": (0.5, 0, 0), "1x1x16-lr0.0001-do0.1": (1, 0.3, 0.1),
    })
    for _ in range(4):  # one grid point per pass; the search stops at the first control
        tz.train_other_control("tomita1", tmp_path, args())
    assert [label for _, label, _ in trained] == ["1x1x16-lr0.001-do0.1", "1x1x16-lr0.0001-do0", "1x1x16-lr0.0001-do0.1"]
    assert all(offsets for _, _, offsets in trained)  # the published recipe, offsets on
    record = tz.load_search(tmp_path, "tomita1-control")
    assert record["finished"] and len(record["entries"]) == 3


def test_no_other_control_where_a_run_already_is_one(tz, tmp_path, monkeypatch):
    write(tmp_path, "d2", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])
    write(tmp_path, "d2-noofs", [entry("1x1x16-lr0.001-do0", (1, 0.02, 0))])
    trained = stub_runs(tz, monkeypatch, {})
    tz.train_other_control("d2", tmp_path, args())
    assert trained == [] and tz.control_candidates(tmp_path, "d2")[0][0] == "d2-noofs"


def test_land_control_prefers_no_offsets_then_the_search_then_the_extra_runs(tz, tmp_path, monkeypatch):
    landed = []
    monkeypatch.setattr(tz, "add_run", lambda run_dir, model_id, role, **kw: landed.append((run_dir, model_id, role, kw)))
    write(tmp_path, "abcde", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])
    write(tmp_path, "abcde-noofs", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])
    write(tmp_path, "abcde-control", [entry("1x1x16-lr0.001-do0.1", (1, 1, 0.8)), entry("1x1x16-lr0.0001-do0", (1, 0.4, 0.2))])
    tz.cmd_land(argparse.Namespace(runs=str(tmp_path), ids=["abcde-control"]))
    (run_dir, model_id, role, kw), = landed
    assert (run_dir, model_id, role) == (tmp_path / "abcde-control" / "1x1x16-lr0.0001-do0", "abcde-control", "control")
    assert "1x1x16-lr0.0001-do0" in kw["control_reason"]
    assert len(kw["search"]) == 3  # the main search and the extra runs

    landed.clear()
    write(tmp_path, "abcde-noofs", [entry("1x1x16-lr0.001-do0", (1, 0.1, 0))])
    tz.cmd_land(argparse.Namespace(runs=str(tmp_path), ids=["abcde-noofs"]))
    assert landed[0][:3] == (tmp_path / "abcde-noofs" / "1x1x16-lr0.001-do0", "abcde-noofs", "control")


def test_land_without_a_control_says_so(tz, tmp_path):
    write(tmp_path, "tomita2", [entry("1x1x16-lr0.001-do0", (1, 1, 1))])
    with pytest.raises(SystemExit, match="no run of tomita2 meets the control criterion"):
        tz.cmd_land(argparse.Namespace(runs=str(tmp_path), ids=["tomita2-control"]))


def test_a_256_wide_task_tries_width_64_first_then_the_published_point_on(tz):
    points = [p.label for p in tz.search_points("sort")]  # published: 1x1x256, lr 1e-3, dropout 0.1
    assert points[:3] == ["1x1x64-lr0.001-do0.1", "1x1x256-lr0.001-do0.1", "1x1x256-lr0.0001-do0"]
    assert len(points) == len(set(points))
    assert [p.label for p in tz.search_points("tomita1")][0] == "1x1x16-lr0.001-do0"  # 16 wide: as published


def test_a_run_perfect_at_length_only_does_not_end_the_search(tz, tmp_path, monkeypatch):
    # sort's width-64 run: perfect on 101-150 but 0.70 on 0-50; a record finished under the older rule resumes
    write(tmp_path, "sort", [entry("1x1x64-lr0.001-do0.1", (0.70, 0.999, 1.0))], finished=True)
    trained = stub_runs(tz, monkeypatch, {"1x1x256-lr0.001-do0.1": (0.98, 1.0, 1.0)})
    tz.train_task("sort", tmp_path, args())
    assert [label for _, label, _ in trained] == ["1x1x256-lr0.001-do0.1"]
    record = tz.load_search(tmp_path, "sort")
    assert record["finished"] and tz.best_entry(record)["label"] == "1x1x256-lr0.001-do0.1"
    tz.train_task("sort", tmp_path, args())
    assert len(trained) == 1  # finished: nothing more


def test_the_main_models_run_is_never_its_control(tz, tmp_path):
    write(tmp_path, "ababstar", [entry("1x1x64-lr0.001-do0", (1, 0.07, 0))], finished=False)
    assert tz.control_candidates(tmp_path, "ababstar") == []  # the search's choice so far, not a control
    write(tmp_path, "ababstar", [entry("1x1x64-lr0.001-do0", (1, 0.07, 0)), entry("1x1x64-lr0.001-do0.1", (1, 1, 0.6))])
    assert [e["label"] for _, e in tz.control_candidates(tmp_path, "ababstar")] == ["1x1x64-lr0.001-do0"]
