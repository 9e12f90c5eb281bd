"""Uniform-gradient mask sampling (Li & Janson 2024, Algorithm 1; docs/decompile.md §3.5).

Each edge has a logit θ (initialised to 8) and keep probability p = sigmoid(θ).
Per sample, u ~ U(0, 1), w = p(1 - p) (a constant) and
m = clip((p - u) / w + 1/2, 0, 1): binary except in a band of width w around
u = p. The forward value of p is unchanged but its gradient is scaled by w,
so dm/dθ = p(1 - p) inside the band; the loss gradient of each edge is then
multiplied by bz / n, n being the samples of the batch inside the band (0 if
none). The penalty λ Σ sigmoid(θ) is added unscaled. The final mask is θ > 0.
"""

from __future__ import annotations

import torch


class UGSMaskSampler:
    def __init__(self, n_edges: int, init: float = 8.0, dtype: torch.dtype = torch.float64):
        self.theta = torch.full((n_edges,), float(init), dtype=dtype, requires_grad=True)

    @property
    def n_edges(self) -> int:
        return int(self.theta.shape[0])

    def sample(self, bz: int, generator: torch.Generator) -> torch.Tensor:
        """(bz, n_edges) masks, one independent sample per row."""
        p = torch.sigmoid(self.theta)
        u = torch.rand(bz, self.n_edges, generator=generator, dtype=self.theta.dtype)
        w = (p * (1 - p)).detach().clamp_min(1e-12)
        with torch.no_grad():
            m0 = ((p - u) / w + 0.5).clamp(0, 1)
            inside = ((m0 > 1e-3) & (m0 < 1 - 1e-3)).sum(0)
            scale = torch.where(inside > 0, bz / inside.clamp_min(1).to(p.dtype), torch.zeros_like(p))
        g = w * scale
        p_eff = p * g + (p - p * g).detach()  # forward value p; gradient scaled by w * bz / n
        return ((p_eff - u) / w + 0.5).clamp(0, 1)

    def hard(self) -> torch.Tensor:
        return self.theta.detach() > 0

    def penalty(self) -> torch.Tensor:
        return torch.sigmoid(self.theta).sum()
