"""The zoo: adding a run (files, manifest, card), the CLI, push --dry-run, and the shipped manifest."""

from __future__ import annotations

import json
import shutil

import pytest

import bench.models.hub as hub
from bench.data.task import TEST_SPLITS, task_names
from bench.models.hub import load_manifest, load_reference, sha256_file
from bench.models.manifest import add_run
from bench.models.train import Recipe, train
from bench.zoo import main


@pytest.fixture(scope="module")
def built_zoo(tmp_path_factory, split_cache):
    """A zoo with one tiny bin_majority model added through ``add_run`` (built once per module)."""
    root = tmp_path_factory.mktemp("zoo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RASP_BENCH_CACHE", str(split_cache))
        mp.setenv("RASP_BENCH_ZOO", str(root / "zoo"))
        recipe = Recipe(task="bin_majority", n_layer=1, n_head=1, n_embd=8, batch_size=8, max_steps=4, eval_every=2, eval_size=16)
        train(recipe, root / "run", progress=False, confirm_split=False)
        entry = add_run(root / "run", log=lambda msg: None)
    return root / "zoo", entry


@pytest.fixture
def tiny_zoo(built_zoo, tmp_path, monkeypatch, split_cache):
    """A private copy of the built zoo, selected through ``RASP_BENCH_ZOO``; the Hub offline."""
    zoo = tmp_path / "zoo"
    shutil.copytree(built_zoo[0], zoo)
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))
    monkeypatch.setenv("RASP_BENCH_ZOO", str(zoo))
    monkeypatch.setattr(hub, "_hub_reachable", False)
    return zoo, built_zoo[1]


def test_add_run_writes_files_manifest_and_card(tiny_zoo):
    from huggingface_hub import ModelCard

    zoo, entry = tiny_zoo
    assert entry["id"] == "bin_majority" and entry["role"] == "main" and entry["hub_repo"] == "rasp-bench/bin_majority"
    assert entry["sha256"] == sha256_file(zoo / "bin_majority" / "model.safetensors")
    assert entry["arch"] == {"n_layer": 1, "n_head": 1, "n_embd": 8} and entry["steps"] == 4
    assert set(entry["accuracy"]) == set(TEST_SPLITS) and all(0 <= v <= 1 for v in entry["accuracy"].values())
    assert load_manifest(zoo)["models"]["bin_majority"] == entry
    card = ModelCard.load(zoo / "bin_majority" / "README.md")
    assert card.data.license == "apache-2.0" and "rasp-bench" in card.data.tags
    results = card.data.eval_results
    assert {r.dataset_split: r.metric_value for r in results} == {k: round(v, 4) for k, v in entry["accuracy"].items()}
    ref = load_reference("bin_majority", prefer_bundled=True)
    assert ref.source == "bundled" and ref.model.cfg.n_embd == 8


def test_entry_records_the_whole_recipe_and_a_controls_reason(tiny_zoo, built_zoo):
    zoo, entry = tiny_zoo
    recipe = entry["recipe"]
    assert recipe["max_grad_norm"] == 1.0 and recipe["length_buckets"] == 1 and recipe["published"] is False  # 4 steps
    card = (zoo / "bin_majority" / "README.md").read_text()
    assert "gradient norm clipped at 1.0" in card and "deviates from the published recipe" in card
    assert "It is a control" not in card
    run = built_zoo[0].parent / "run"
    control = add_run(run, "bin_majority-control", "control", control_reason="it forgets long inputs", log=lambda msg: None)
    assert control["role"] == "control" and control["control_reason"] == "it forgets long inputs"
    assert "It is a control: it forgets long inputs." in (zoo / "bin_majority-control" / "README.md").read_text()


def test_cli_list_table_show_and_errors(tiny_zoo, capsys):
    assert main(["list"]) == 0
    assert "bin_majority" in capsys.readouterr().out
    assert main(["table", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| model id") and "| bin_majority" in out
    assert main(["show", "bin_majority"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "bin_majority"
    assert main(["show", "bin_majorty"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Did you mean 'bin_majority'" in err


def test_cli_eval_reproduces_the_manifest(tiny_zoo, capsys):
    assert main(["eval", "bin_majority", "--bundled"]) == 0
    assert capsys.readouterr().out.count(" ok") == 3


def test_push_dry_run_writes_exactly_the_repo(tiny_zoo, tmp_path):
    zoo, entry = tiny_zoo
    assert main(["push", "--dry-run", str(tmp_path / "out")]) == 0
    repo = tmp_path / "out" / "rasp-bench" / "bin_majority"
    assert sorted(p.name for p in repo.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert sha256_file(repo / "model.safetensors") == entry["sha256"]
    plan = json.loads((tmp_path / "out" / "push_plan.json").read_text())
    assert plan == {"bin_majority": {"hub_repo": "rasp-bench/bin_majority", "files": ["config.json", "model.safetensors", "README.md"]}}
    assert load_manifest(zoo)["models"]["bin_majority"]["revision_pinned"] is False  # nothing was pushed


def test_push_refuses_modified_weights(tiny_zoo, tmp_path, capsys):
    zoo, _ = tiny_zoo
    weights = zoo / "bin_majority" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    assert main(["push", "--dry-run", str(tmp_path / "out")]) == 2
    assert "sha256" in capsys.readouterr().err


def test_shipped_manifest_is_consistent():
    """Every bundled model: files present, sha256 right, a known task, accuracies for the three bins."""
    zoo = hub.zoo_dir()
    models = load_manifest(zoo)["models"]
    known = set(task_names())
    for model_id, entry in models.items():
        assert entry["id"] == model_id and entry["task"] in known
        assert entry["role"] in ("main", "control") and entry["hub_repo"] == f"rasp-bench/{model_id}"
        assert sha256_file(zoo / model_id / "model.safetensors") == entry["sha256"], model_id
        assert set(entry["accuracy"]) == set(TEST_SPLITS)
        config = json.loads((zoo / model_id / "config.json").read_text())
        assert config["rasp_bench"]["task"] == entry["task"] and config["model_type"] == "gpt2"
