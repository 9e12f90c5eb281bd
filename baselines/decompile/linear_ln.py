"""The linear-LayerNorm assumption (docs/decompile.md §1).

Mean-centring is linear and kept; the per-token standard deviation is frozen
to a learned constant sigma per consumer ("target") of a LayerNorm:
``LN_t(x) = (x - mean(x)) * gamma / sqrt(sigma_t^2 + eps) + beta``, i.e.
``x @ Lambda_t + beta`` with ``Lambda_t = (I - 11^T/d) diag(gamma) / sqrt(sigma_t^2 + eps)``.
The parameter is ``log sigma^2``, initialised at the log of the mean per-token
variance of that LayerNorm's input in the original model (non-PAD, non-EOS
positions of training-distribution samples).
"""

from __future__ import annotations

import torch


def ln_matrix(gamma: torch.Tensor, log_var: torch.Tensor, eps: float) -> torch.Tensor:
    """``Lambda = (I - 11^T/d) diag(gamma) / sqrt(exp(log_var) + eps)`` (d x d), differentiable in log_var."""
    d = gamma.shape[0]
    centre = torch.eye(d, dtype=gamma.dtype) - torch.full((d, d), 1.0 / d, dtype=gamma.dtype)
    return centre * gamma[None, :] / torch.sqrt(torch.exp(log_var) + eps)


def real_ln(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> torch.Tensor:
    """The model's own LayerNorm (biased variance, eps inside the square root)."""
    x = x - x.mean(-1, keepdim=True)
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gamma + beta


def linear_ln(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, log_var: torch.Tensor, eps: float,
              add_beta: bool = True) -> torch.Tensor:
    """The frozen-sigma LayerNorm ``x @ Lambda (+ beta)``."""
    out = x @ ln_matrix(gamma, log_var, eps)
    return out + beta if add_beta else out


def ln_names(n_layers: int) -> list[str]:
    """The LayerNorms of a GPT-2, by the hook prefix of their input statistics."""
    return [f"blocks.{l}.ln{i}" for l in range(n_layers) for i in (1, 2)] + ["ln_final"]


def estimate_ln_var(model, batches, pad: int, eos: int) -> dict[str, float]:
    """Mean per-token variance of each LayerNorm's input, over non-PAD, non-EOS positions.

    Read from the model's ``hook_scale`` (the per-token std with eps inside): var = scale^2 - eps.
    ``batches`` yields ``(input_ids, position_ids)`` int64 arrays.
    """
    names = ln_names(model.cfg.n_layer)
    sums = {n: 0.0 for n in names}
    count = 0
    eps = model.cfg.layer_norm_epsilon
    with torch.no_grad():
        for ids, pos in batches:
            ids_t, pos_t = torch.as_tensor(ids), torch.as_tensor(pos)
            _, cache = model.run_with_cache(ids_t, pos_t, names=[f"{n}.hook_scale" for n in names])
            keep = torch.as_tensor((ids != pad) & (ids != eos))
            count += int(keep.sum())
            for n in names:
                var = cache[f"{n}.hook_scale"][..., 0].double().pow(2) - eps
                sums[n] += float(var[keep].sum())
    return {n: max(sums[n] / max(count, 1), 1e-8) for n in names}

