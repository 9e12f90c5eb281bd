"""Model predictions at every position, in the form programs produce them.

A token task's prediction at position ``t`` is the argmax of the logits at
``t`` (the model's guess for the token at ``t + 1``); a token-set task's is the
bit vector ``logit > 0`` over the whole vocabulary (a sigmoid reading of the
same logits). Both are computed in eval mode (dropout off) without gradients,
in chunks of ``batch_size`` sequences, and returned as numpy arrays so that the
harness can compare them with a program's output position by position.

Padding: a :class:`bench.data.task.Batch` numbers padded positions on from the last
real one, which can run past the model's ``n_positions`` when a short sequence
is padded to a long one. Those positions are never scored and, the attention
being causal, never influence a real position, so their ids are clipped into
range here (:func:`model_inputs`).
"""

from __future__ import annotations

import numpy as np

from bench.data.task import Batch, TaskKind

DEFAULT_BATCH_SIZE = 256


def model_inputs(batch: Batch, n_positions: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, position_ids)`` with padded positions' ids clipped below ``n_positions``."""
    width = batch.input_ids.shape[1]
    padding = np.arange(width)[None, :] >= np.asarray(batch.lengths)[:, None]
    positions = np.where(padding, np.minimum(batch.position_ids, n_positions - 1), batch.position_ids)
    return np.asarray(batch.input_ids, dtype=np.int64), positions.astype(np.int64)


def logits(model, batch: Batch, *, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """Float32 logits ``(B, T, V)`` for every position of ``batch``."""
    import torch  # here, so that importing this module (and the methods that do) stays fast

    input_ids, position_ids = model_inputs(batch, model.cfg.n_positions)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(input_ids), batch_size):
                ids = torch.from_numpy(input_ids[start : start + batch_size]).to(device)
                pos = torch.from_numpy(position_ids[start : start + batch_size]).to(device)
                chunks.append(model(ids, pos).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(chunks) if chunks else np.zeros((0, input_ids.shape[1], model.cfg.vocab_size), np.float32)


def predictions_from_logits(values: np.ndarray, kind: TaskKind) -> np.ndarray:
    """``(B, T)`` int64 argmax for token tasks, ``(B, T, V)`` bool ``logit > 0`` for token sets."""
    if kind == "token":
        return values.argmax(-1).astype(np.int64)
    if kind == "token_set":
        return values > 0
    raise ValueError(f"unknown task kind {kind!r}; expected 'token' or 'token_set'")


def predict(model, batch: Batch, kind: TaskKind, *, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """The model's prediction at every position of ``batch`` (see module docstring)."""
    return predictions_from_logits(logits(model, batch, device=device, batch_size=batch_size), kind)


def sequence_correct(prediction: np.ndarray, batch: Batch, kind: TaskKind) -> np.ndarray:
    """``(B,)`` bool: every scored position (every bit, for token sets) equals the gold label."""
    mask = np.asarray(batch.label_mask, dtype=bool)
    if kind == "token":
        wrong = (prediction != batch.labels) & mask
    else:
        wrong = (prediction != batch.labels.astype(bool)).any(-1) & mask
    return ~wrong.any(-1)


def accuracy(model, batches, kind: TaskKind, *, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE) -> float:
    """Sequence-level exact-match accuracy of ``model`` over an iterable of batches."""
    correct = total = 0
    for batch in batches:
        ok = sequence_correct(predict(model, batch, kind, device=device, batch_size=batch_size), batch, kind)
        correct, total = correct + int(ok.sum()), total + len(ok)
    return correct / total if total else float("nan")
