"""Stored model predictions: the encoding is exact, files are verified, and the zoo's match a forward pass."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench.data.splits import indexed_batches, load_splits
from bench.data.task import get_task
from bench.models import hub, predictions
from bench.models.predict import predict

TINY = ("bin_majority", "tomita1")  # one token task, one token-set task


def random_predictions(task, splits, rng, error_rate):
    """The gold labels with a fraction of entries changed."""
    golds = {b: predictions.gold(task, splits[b]) for b in predictions.BINS}
    bins = {}
    for name, want in golds.items():
        values = want.values.copy()
        flip = rng.random(values.shape) < error_rate
        if task.kind == "token":
            values[flip] = rng.integers(0, task.vocab_size, int(flip.sum()))
        else:
            values[flip] = ~values[flip]
        bins[name] = predictions.BinPredictions(want.offsets, values)
    fps = {b: "x" for b in predictions.BINS}
    return golds, predictions.ModelPredictions(task.name, task.kind, task.vocab_size, "0" * 64, fps, bins)


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("error_rate", [0.0, 0.001, 0.3])
def test_encoding_round_trip_is_exact(name, error_rate):
    """Few differences are stored as indices, many as a bit mask; either way decoding gives back every entry."""
    task = get_task(name)
    splits = load_splits(task)
    golds, made = random_predictions(task, splits, np.random.default_rng(1), error_rate)
    tensors = predictions.encode(made, golds)
    mode = {k.split(".")[1] for k in tensors} - {"n_entries", "wrong_value"}
    assert mode == ({"wrong_mask"} if error_rate > 0.1 else {"wrong_index"})
    decoded = predictions.decode(tensors, golds, task.kind)
    for b in predictions.BINS:
        np.testing.assert_array_equal(decoded[b].values, made.bins[b].values)


@pytest.mark.parametrize("model_id", TINY)
def test_zoo_predictions_are_the_models_forward_pass(model_id):
    """The stored file, assembled into scored batches, equals the model's own predictions at every scored position."""
    entry = hub.load_manifest()["models"][model_id]
    ref = hub.load_reference(model_id, prefer_bundled=True)
    task = get_task(ref.task_name)
    splits = load_splits(task)
    stored = predictions.for_model(model_id, ref.sha256, task, splits, lambda: pytest.fail("must not run the model"),
                                   entry=entry)
    for b in predictions.BINS:
        for rows, batch in indexed_batches(task, splits[b], 250, limit=500, by_length=True):
            mask = batch.label_mask
            np.testing.assert_array_equal(stored.bins[b].for_batch(rows, batch)[mask],
                                          predict(ref.model, batch, task.kind)[mask])


def test_a_modified_zoo_file_is_refused(tmp_path):
    zoo = tmp_path / "zoo"
    shutil.copytree(hub.zoo_dir() / "tomita1", zoo / "tomita1")
    entry = hub.load_manifest()["models"]["tomita1"]
    task = get_task("tomita1")
    splits = load_splits(task)
    golds = {b: predictions.gold(task, splits[b]) for b in predictions.BINS}
    path = zoo / "tomita1" / predictions.FILE_NAME
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(predictions.PredictionsError, match="sha256"):
        predictions.load_bundled("tomita1", entry, task, splits, golds, zoo)
    path.unlink()
    with pytest.raises(predictions.PredictionsError, match="missing"):
        predictions.load_bundled("tomita1", entry, task, splits, golds, zoo)


def test_checkpoints_outside_the_zoo_are_cached_and_verified(tmp_path, monkeypatch):
    """Computed once, then read back; a corrupt or stale cache file is recomputed; the cache can be turned off."""
    monkeypatch.setenv("RASP_BENCH_CACHE", str(tmp_path / "cache"))
    ref = hub.load_reference("tomita1", prefer_bundled=True)
    task = get_task("tomita1")
    splits = load_splits(task)
    calls = []

    def model():
        calls.append(1)
        return ref.model

    first = predictions.for_model("local", ref.sha256, task, splits, model)
    path = predictions.cache_path(task, ref.sha256)
    assert path.is_file() and len(calls) == 1
    again = predictions.for_model("local", ref.sha256, task, splits, model)
    assert len(calls) == 1 and predictions.count_differences(first, again) == {b: 0 for b in predictions.BINS}
    path.write_bytes(path.read_bytes()[:-3])
    predictions.for_model("local", ref.sha256, task, splits, model)
    assert len(calls) == 2
    with pytest.raises(predictions.PredictionsError, match="weights_sha256"):
        predictions.load(path, task, splits, "f" * 64)
    monkeypatch.setenv(predictions.NO_CACHE_ENV, "1")
    path.unlink()
    predictions.for_model("local", ref.sha256, task, splits, model)
    assert len(calls) == 3 and not path.exists()
