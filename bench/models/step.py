"""One optimizer step of the training recipe: the masked loss, micro-batches by length, AdamW.

:class:`Stepper` computes the gradient of a batch's loss (at the scored
positions only: cross-entropy on the next token for token tasks, binary
cross-entropy on the allowed-next sets for token-set tasks), optionally as
micro-batches sorted by length whose gradients add up to the whole batch's,
clips it and takes the AdamW step (:mod:`bench.models.train` has the recipe).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from bench.data.task import Batch, Task
from bench.models.model import GPT2
from bench.models.predict import model_inputs

if TYPE_CHECKING:
    from bench.models.recipe import Recipe

def loss_fn(logits: torch.Tensor, batch: Batch, kind: str, normalizer: int | None = None) -> torch.Tensor:
    """Cross-entropy (token tasks) or BCE on the allowed-next sets, at scored positions only.

    The mean over scored positions (over scored position x vocabulary entry for BCE), or,
    with ``normalizer``, the sum divided by it (a micro-batch's share of a whole batch's mean).
    """
    mask = torch.from_numpy(np.asarray(batch.label_mask, dtype=bool))
    scored = logits[mask]  # (N, V)
    reduction = "mean" if normalizer is None else "sum"
    if kind == "token":
        loss = nn.functional.cross_entropy(scored, torch.from_numpy(batch.labels)[mask], reduction=reduction)
    else:
        loss = nn.functional.binary_cross_entropy_with_logits(scored, torch.from_numpy(batch.labels)[mask].float(), reduction=reduction)
    return loss if normalizer is None else loss / normalizer


def loss_terms(batch: Batch, kind: str, vocab_size: int) -> int:
    """How many terms :func:`loss_fn`'s mean averages over for ``batch``."""
    n = int(np.asarray(batch.label_mask, dtype=bool).sum())
    return n if kind == "token" else n * vocab_size


def length_buckets(batch: Batch, k: int) -> list[Batch]:
    """``batch`` sorted by length (stable) and cut into ``k`` near-equal parts, each cut to
    its longest sequence: the same sequences with less padding."""
    if k <= 1:
        return [batch]
    order = np.argsort(batch.lengths, kind="stable")
    parts = []
    for rows in np.array_split(order, min(k, len(order))):
        width = max(1, int(batch.lengths[rows].max()))
        parts.append(Batch(batch.input_ids[rows, :width], batch.position_ids[rows, :width], batch.lengths[rows],
                           batch.label_mask[rows, :width], batch.labels[rows, :width]))
    return parts


def make_optimizer(model: GPT2, recipe: Recipe) -> torch.optim.AdamW:
    # foreach: the same numbers as the for-loop implementation, fewer kernel launches
    # (fused=True is faster still but rounds differently)
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(recipe.beta1, recipe.beta2), eps=recipe.eps,
                             weight_decay=recipe.weight_decay, foreach=True)


def core_logits(model: GPT2, input_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
    """``model(input_ids, position_ids)`` without the input checks (which need host syncs and
    would break a compiled graph); the same operations in the same order."""
    t = model.transformer
    x = t.drop(model.hook_embed(t.wte(input_ids)) + model.hook_pos_embed(t.wpe(position_ids)))
    for block in t.h:
        x = block(x)
    return t.ln_f(x) @ model.lm_head_weight.T


class Stepper:
    """One optimizer step of a recipe on a batch: gradient (micro-batches by length when
    ``length_buckets > 1``), clipping, AdamW. Returns the batch's loss."""

    def __init__(self, model: GPT2, optimizer, task: Task, recipe: Recipe):
        self.model, self.optimizer, self.task, self.recipe = model, optimizer, task, recipe
        self.params = [p for p in model.parameters() if p.requires_grad]
        if recipe.compile:
            import torch._dynamo

            torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
            self.forward = torch.compile(core_logits, dynamic=True)
        else:
            self.forward = model  # the plain path: exactly the model's forward

    def _logits(self, batch: Batch) -> torch.Tensor:
        ids, pos = (torch.from_numpy(a) for a in model_inputs(batch, self.task.n_positions))
        return self.forward(self.model, ids, pos) if self.recipe.compile else self.model(ids, pos)

    def compute_gradient(self, batch: Batch) -> float:
        kind = self.task.kind
        self.optimizer.zero_grad(set_to_none=True)
        if self.recipe.length_buckets <= 1:
            loss = loss_fn(self._logits(batch), batch, kind)
            loss.backward()
            return loss.item()
        total = loss_terms(batch, kind, self.task.vocab_size)
        value = 0.0
        for part in length_buckets(batch, self.recipe.length_buckets):
            if not part.label_mask.any():
                continue  # nothing scored: no gradient (and no dropout draws)
            loss = loss_fn(self._logits(part), part, kind, normalizer=total)
            loss.backward()
            value += loss.item()
        return value

    def __call__(self, batch: Batch, lr: float) -> float:
        loss = self.compute_gradient(batch)
        if self.recipe.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.recipe.max_grad_norm, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        return loss
