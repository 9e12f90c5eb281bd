"""The shipped baselines behave as bounds should, on the bundled reference models."""

from __future__ import annotations

import json

import pytest

from bench.evaluate import main
from bench.models.hub import load_manifest
from bench.scoring.methods import method_names, resolve_method
from bench.scoring.results import BINS, load_results

ZOO = load_manifest()["models"]


def evaluate(tmp_path, method, models, limit=300):
    out = tmp_path / method
    assert main([method, "--models", *models, "--limit", str(limit), "--out", str(out)]) == 0
    return {m.model.id: m for m in load_results(out / "results.json").models}


def generalizing(model_id):
    return all(ZOO[model_id]["accuracy"][b] == 1.0 for b in BINS)


def failing_out_of_distribution(model_id):
    acc = ZOO[model_id]["accuracy"]
    return acc["test_0_50"] >= 0.9 and acc["test_101_150"] < 0.5


@pytest.mark.parametrize("name", method_names())
def test_every_registered_method_has_its_name_and_json_parameters(name):
    method = resolve_method(name)
    assert method.name == name  # the name results.json and the leaderboard record
    parameters = getattr(method, "parameters", {})
    assert isinstance(parameters, dict)
    assert json.loads(json.dumps(parameters)) == parameters  # recorded verbatim in results.json
    assert callable(method.extract)


def test_oracle_is_faithful_exactly_where_the_model_is_right(tmp_path):
    good = [i for i in ZOO if generalizing(i)][:2]
    bad = [i for i in ZOO if failing_out_of_distribution(i)][:2]
    assert good and bad, "the zoo needs models that generalize and models that do not"
    results = evaluate(tmp_path, "oracle", good + bad)
    for model_id in good:
        assert results[model_id].success
    for model_id in bad:
        r = results[model_id]
        assert not r.success
        for b in BINS:  # the oracle is always right, so it matches the model exactly when the model is right
            assert r.metrics[b].program_acc == 1.0
            assert r.metrics[b].match_acc == r.metrics[b].model_acc


@pytest.mark.parametrize("task", ["sort", "unique_copy", "unique_reverse"])
def test_lookup_fails_on_copy_and_sort(tmp_path, task):
    models = [i for i, e in ZOO.items() if e["task"] == task and e["role"] == "main"]
    if not models:
        pytest.skip(f"the zoo has no {task} model yet")
    result = evaluate(tmp_path, "lookup", models, limit=200)[models[0]]
    assert result.status == "ok" and not result.success
    assert result.metrics["test_0_50"].match_acc < 0.5
