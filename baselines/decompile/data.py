"""Training/evaluation data for the decompiler: sampled batches with the model's cached logits.

Batches come from the method's :class:`bench.scoring.methods.TaskView` sampler (its
seeded rng), with positions starting at 0 as at test time unless ``offsets``
is asked for. The original model's logits are computed once per batch and
cached in the :class:`DataBatch` (docs/decompile.md §7). Scored positions
are the task's ``label_mask`` positions, the positions the harness scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.models.predict import model_inputs


@dataclass(frozen=True)
class DataBatch:
    ids: torch.Tensor  # (B, T) int64
    pos: torch.Tensor  # (B, T) int64
    mask: torch.Tensor  # (B, T) bool: scored positions
    orig: torch.Tensor  # (B, T, V) the model's logits (float64)
    kind: str  # "token" or "token_set"
    lengths: torch.Tensor  # (B,) real tokens per sequence

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def repeat(self, times: int) -> "DataBatch":
        """Each sequence repeated ``times`` times in a row (for independent per-row masks)."""
        r = lambda x: x.repeat_interleave(times, dim=0)  # noqa: E731
        return DataBatch(r(self.ids), r(self.pos), r(self.mask), r(self.orig), self.kind, r(self.lengths))

    def select(self, index: torch.Tensor) -> "DataBatch":
        """The rows ``index``, trimmed to their longest real length (attention costs T^2)."""
        width = max(1, int(self.lengths[index].max())) if len(index) else 1
        return DataBatch(self.ids[index, :width], self.pos[index, :width], self.mask[index, :width],
                         self.orig[index, :width], self.kind, self.lengths[index])

    def chunks(self, size: int = 128):
        """Length-sorted, trimmed chunks covering every row once (for fast evaluation)."""
        order = torch.argsort(self.lengths)
        for start in range(0, len(order), size):
            yield self.select(order[start:start + size])


def model_logits(model, ids: torch.Tensor, pos: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(ids[s:s + chunk], pos[s:s + chunk]).double() for s in range(0, len(ids), chunk)])


def sample(task, model, n: int, lo: int, hi: int, *, offsets: bool = False) -> DataBatch:
    """``n`` fresh sequences (lengths in [lo, hi]) with the model's logits."""
    batch = task.sample_batch(n, lo, hi, offsets=offsets)
    ids, pos = model_inputs(batch, model.cfg.n_positions)
    ids_t, pos_t = torch.from_numpy(ids), torch.from_numpy(pos)
    return DataBatch(ids_t, pos_t, torch.from_numpy(np.asarray(batch.label_mask, dtype=bool)),
                     model_logits(model, ids_t, pos_t), task.kind, torch.as_tensor(np.asarray(batch.lengths)))


def distill_loss(pred: torch.Tensor, batch: DataBatch) -> torch.Tensor:
    """KL(orig || pred) (token tasks) or BCE(pred, sigmoid(orig)) (token sets) at scored positions.

    As the published code, the mean runs over positions x vocabulary entries
    (PyTorch's default ``mean`` reduction), so λ is relative to that scale.
    """
    m = batch.mask
    if not bool(m.any()):
        return pred.sum() * 0.0
    p, q = pred[m], batch.orig[m].to(pred.dtype)  # (N, V)
    if batch.kind == "token":
        logp_orig = torch.log_softmax(q, -1)
        return (logp_orig.exp() * (logp_orig - torch.log_softmax(p, -1))).mean()
    return torch.nn.functional.binary_cross_entropy_with_logits(p, torch.sigmoid(q))


def sequence_match(pred: torch.Tensor, batch: DataBatch) -> torch.Tensor:
    """(B,) bool: the prediction agrees with the model at every scored position (as the harness scores)."""
    if batch.kind == "token":
        agree = pred.argmax(-1) == batch.orig.argmax(-1)
    else:
        agree = ((pred > 0) == (batch.orig > 0)).all(-1)
    return (agree | ~batch.mask).all(-1)


def match_accuracy(pred: torch.Tensor, batch: DataBatch) -> float:
    return float(sequence_match(pred, batch).double().mean()) if len(batch) else float("nan")


def chunked_match_accuracy(forward, data: DataBatch, size: int = 128) -> float:
    """Match accuracy of ``forward(batch) -> logits`` over length-sorted trimmed chunks of ``data``."""
    hits = 0
    with torch.no_grad():
        for chunk in data.chunks(size):
            hits += int(sequence_match(forward(chunk), chunk).sum())
    return hits / max(len(data), 1)
