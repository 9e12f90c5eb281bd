"""Canonical model predictions on the frozen test splits, computed once and stored.

Faithfulness compares a program's predictions with the model's. The model's
side depends only on the weights and the frozen splits, so it is computed once
(:func:`compute`, the forward pass of :mod:`bench.models.predict`) and kept:

- for a zoo model, in ``zoo/<id>/predictions.safetensors``, whose sha256 the
  manifest records (``predictions_sha256``) and the model card shows. Every
  machine then scores against the same predictions, whatever kernels its
  torch would pick (near-ties of the logits can flip on another CPU);
- for any other checkpoint, in the benchmark's cache folder
  (``$RASP_BENCH_CACHE/predictions/``), keyed by (weights sha256, task,
  split fingerprints, :data:`SCORING_VERSION`).

A stored file is verified before use: its metadata must name the same
weights, task, kind, vocabulary, split fingerprints and scoring version, and
the sha256 of its arrays must equal the one written beside them. A file that
fails is never trusted (a zoo file is an error; a cache file is recomputed).

Encoding. Per bin, the predictions at the scored positions of every sequence,
in split order, form a flat array (token tasks: one token id per scored
position; token-set tasks: one bit per scored position and vocabulary entry).
The file stores only where that array differs from the gold labels (which the
frozen split gives): the flat indices of the differing entries (``uint32``)
and, for token tasks, the model's tokens there; or, when more than 1 in 32
entries differ, a packed bit mask of the differing entries instead of the
indices. A model that is right everywhere costs a few bytes per bin.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.task import TEST_SPLITS, Batch, Task
from bench.errors import BenchError

#: Bumped whenever what "the model's prediction" means changes (argmax, the logit > 0 rule, inputs).
SCORING_VERSION = 1
FILE_NAME = "predictions.safetensors"
NO_CACHE_ENV = "RASP_BENCH_NO_PREDICTION_CACHE"
METADATA_KEY = "rasp_bench"
BINS = tuple(TEST_SPLITS)
#: Sequences per forward pass when predictions are computed.
FORWARD_BATCH = 250


class PredictionsError(BenchError):
    """A stored predictions file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class BinPredictions:
    """One bin: sequence ``i``'s scored entries are ``values[offsets[i]:offsets[i + 1]]``."""

    offsets: np.ndarray  # (n + 1,) int64
    values: np.ndarray  # (P,) int64 for token tasks, (P, V) bool for token sets

    def for_batch(self, rows: np.ndarray, batch: Batch) -> np.ndarray:
        """The model's predictions for ``batch`` (whose rows are split sequences ``rows``), in prediction form."""
        mask = batch.label_mask
        out = np.zeros(batch.labels.shape, dtype=self.values.dtype)
        parts = [self.values[self.offsets[i] : self.offsets[i + 1]] for i in rows]
        if parts:
            out[mask] = np.concatenate(parts)
        return out


@dataclass(frozen=True)
class ModelPredictions:
    """A model's predictions on every frozen test bin of its task."""

    task: str
    kind: str
    vocab_size: int
    weights_sha256: str
    fingerprints: dict  # bin -> split fingerprint
    bins: dict  # bin -> BinPredictions

    def metadata(self) -> dict[str, str]:
        return {
            "format": "rasp-bench predictions", "scoring_version": str(SCORING_VERSION), "task": self.task,
            "kind": self.kind, "vocab_size": str(self.vocab_size), "weights_sha256": self.weights_sha256,
            "fingerprints": json.dumps(self.fingerprints, sort_keys=True),
        }


# ----- gold labels and the model's own predictions -------------------------------------


def _flat_batches(task: Task, split):
    from bench.data.splits import indexed_batches

    return indexed_batches(task, split, FORWARD_BATCH, by_length=True)


def _flatten(rows: np.ndarray, batch: Batch, values: np.ndarray, per_sequence: list) -> None:
    """Store ``values[b][mask[b]]`` as sequence ``rows[b]``'s entries."""
    for b, i in enumerate(rows):
        per_sequence[i] = values[b][batch.label_mask[b]]


def _collect(task: Task, split, value_of) -> BinPredictions:
    per_sequence: list = [None] * len(split)
    for rows, batch in _flat_batches(task, split):
        _flatten(rows, batch, value_of(batch), per_sequence)
    sizes = [len(v) for v in per_sequence]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    width = () if task.kind == "token" else (task.vocab_size,)
    dtype = np.int64 if task.kind == "token" else bool
    values = np.concatenate(per_sequence).astype(dtype) if per_sequence else np.zeros((0, *width), dtype)
    return BinPredictions(offsets, values.reshape(-1, *width))


def gold(task: Task, split) -> BinPredictions:
    """The gold labels of one split, in the flat form of :class:`BinPredictions`."""
    return _collect(task, split, lambda batch: batch.labels)


def compute(model, task: Task, splits, weights_sha256: str) -> ModelPredictions:
    """Run ``model`` on every frozen bin (the forward pass of :func:`bench.models.predict.predict`)."""
    import torch

    from bench.data.splits import split_fingerprint
    from bench.models.predict import predict

    torch.set_num_threads(1)  # small models: more threads mostly wait on each other
    bins = {b: _collect(task, splits[b], lambda batch: predict(model, batch, task.kind)) for b in BINS}
    fingerprints = {b: split_fingerprint(splits[b]) for b in BINS}
    return ModelPredictions(task.name, task.kind, task.vocab_size, weights_sha256, fingerprints, bins)


def count_differences(a: ModelPredictions, b: ModelPredictions) -> dict[str, int]:
    """Per bin, how many scored positions (any bit, for token sets) differ between two prediction sets."""
    out = {}
    for name in BINS:
        x, y = a.bins[name].values, b.bins[name].values
        if x.shape != y.shape:
            raise PredictionsError(f"{name}: prediction sets of different shapes {x.shape} and {y.shape}")
        diff = x != y
        out[name] = int((diff.any(-1) if diff.ndim == 2 else diff).sum())
    return out


# ----- the file format ------------------------------------------------------------------


def encode(predictions: ModelPredictions, golds: dict) -> dict[str, np.ndarray]:
    """The tensors of a predictions file: per bin, where the model differs from the gold labels."""
    tensors = {}
    for name in BINS:
        pred, want = predictions.bins[name].values, golds[name].values
        flat_pred, flat_gold = pred.reshape(-1), want.reshape(-1)
        wrong = flat_pred != flat_gold
        tensors[f"{name}.n_entries"] = np.array([flat_pred.size], dtype=np.int64)
        if wrong.sum() * 32 > wrong.size:
            tensors[f"{name}.wrong_mask"] = np.packbits(wrong)
        else:
            tensors[f"{name}.wrong_index"] = np.flatnonzero(wrong).astype(np.uint32)
        if predictions.kind == "token":
            tensors[f"{name}.wrong_value"] = flat_pred[wrong].astype(np.int32)
    return tensors


def decode(tensors: dict, golds: dict, kind: str) -> dict[str, BinPredictions]:
    """Rebuild every bin's predictions from the stored differences and the gold labels."""
    bins = {}
    for name in BINS:
        want = golds[name]
        flat = want.values.reshape(-1).copy()
        n = int(tensors[f"{name}.n_entries"][0])
        if n != flat.size:
            raise PredictionsError(f"{name}: {n} entries stored, the split has {flat.size}")
        if f"{name}.wrong_mask" in tensors:
            wrong = np.unpackbits(tensors[f"{name}.wrong_mask"], count=n).astype(bool)
        else:
            index = tensors[f"{name}.wrong_index"].astype(np.int64)
            if index.size and (index.min() < 0 or index.max() >= n):
                raise PredictionsError(f"{name}: a stored index is outside the split")
            wrong = np.zeros(n, dtype=bool)
            wrong[index] = True
        if kind == "token":
            flat[wrong] = tensors[f"{name}.wrong_value"]
        else:
            flat[wrong] = ~flat[wrong]
        bins[name] = BinPredictions(want.offsets, flat.reshape(want.values.shape))
    return bins


def _content_sha256(tensors: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(tensors):
        array = np.ascontiguousarray(tensors[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save(predictions: ModelPredictions, golds: dict, path: Path) -> str:
    """Write ``path`` atomically; returns the file's sha256."""
    from safetensors.numpy import save

    tensors = encode(predictions, golds)
    meta = predictions.metadata() | {"content_sha256": _content_sha256(tensors)}
    # One metadata key: safetensors writes several in no fixed order, and the file's sha256 must be reproducible.
    data = save(tensors, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def load(path: Path, task: Task, splits, weights_sha256: str, golds: dict | None = None) -> ModelPredictions:
    """Read and verify a stored file against the weights and the current frozen splits."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as load_bytes

    from bench.data.splits import split_fingerprint

    try:
        data = path.read_bytes()
        tensors = load_bytes(data)
        meta = _read_metadata(data)
    except (OSError, SafetensorError, ValueError) as exc:
        raise PredictionsError(f"{path.name}: unreadable ({type(exc).__name__})") from None
    fingerprints = {b: split_fingerprint(splits[b]) for b in BINS}
    expected = ModelPredictions(task.name, task.kind, task.vocab_size, weights_sha256, fingerprints, {}).metadata()
    for key, value in expected.items():
        if meta.get(key) != value:
            raise PredictionsError(f"{path.name}: made for another {key} ({str(meta.get(key))[:40]!r})")
    if meta.get("content_sha256") != _content_sha256(tensors):
        raise PredictionsError(f"{path.name}: the arrays do not match their recorded sha256")
    golds = golds or {b: gold(task, splits[b]) for b in BINS}
    try:
        bins = decode(tensors, golds, task.kind)
    except (KeyError, ValueError, IndexError) as exc:
        raise PredictionsError(f"{path.name}: inconsistent arrays ({exc})") from None
    return ModelPredictions(task.name, task.kind, task.vocab_size, weights_sha256, fingerprints, bins)


def _read_metadata(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8 or size > 1 << 20:
        raise ValueError("header size")
    header = json.loads(data[8 : 8 + size])
    meta = json.loads(header.get("__metadata__", {}).get(METADATA_KEY, "{}"))
    if not isinstance(meta, dict):
        raise ValueError("metadata")
    return meta


# ----- where a model's predictions come from ----------------------------------------------


def cache_enabled() -> bool:
    return not os.environ.get(NO_CACHE_ENV)


def cache_path(task: Task, weights_sha256: str) -> Path:
    """The cache file of a checkpoint's predictions on a task's current frozen splits."""
    from bench.data.splits import cache_root

    return cache_root() / "predictions" / f"v{SCORING_VERSION}" / weights_sha256 / f"{task.name}-{task.version}.safetensors"


def bundled_path(model_id: str, zoo: Path | None = None) -> Path:
    from bench.models.hub import zoo_dir

    return (zoo or zoo_dir()) / model_id / FILE_NAME


def for_model(model_id: str, weights_sha256: str, task: Task, splits, load_model, *, entry: dict | None = None,
              use_cache: bool | None = None, zoo: Path | None = None) -> ModelPredictions:
    """A model's predictions: the zoo's stored file, else the cache, else computed (and cached).

    ``entry`` is the model's manifest entry (zoo models); ``load_model()``
    returns the model, called only when the predictions must be computed.
    """
    golds = {b: gold(task, splits[b]) for b in BINS}
    if entry is not None and entry.get("predictions_sha256"):
        return load_bundled(model_id, entry, task, splits, golds, zoo)
    use_cache = cache_enabled() if use_cache is None else use_cache
    path = cache_path(task, weights_sha256)
    if use_cache and path.is_file():
        try:
            return load(path, task, splits, weights_sha256, golds)
        except PredictionsError:
            pass  # a stale or corrupt cache file is recomputed, never trusted
    predictions = compute(load_model(), task, splits, weights_sha256)
    if use_cache:
        save(predictions, golds, path)
    return predictions


def load_bundled(model_id: str, entry: dict, task: Task, splits, golds: dict, zoo: Path | None = None) -> ModelPredictions:
    """The zoo's stored predictions of ``model_id``, checked against the manifest's sha256."""
    from bench.models.hub import sha256_file

    path = bundled_path(model_id, zoo)
    if not path.is_file():
        raise PredictionsError(f"zoo model {model_id}: {FILE_NAME} is missing (python -m bench.zoo predictions --write)")
    digest = sha256_file(path)
    if digest != entry["predictions_sha256"]:
        raise PredictionsError(f"zoo model {model_id}: {FILE_NAME} has sha256 {digest[:12]}..., the manifest "
                               f"says {entry['predictions_sha256'][:12]}... (modified files are refused)")
    try:
        return load(path, task, splits, entry["sha256"], golds)
    except PredictionsError as exc:
        raise PredictionsError(f"zoo model {model_id}: {exc}") from None
