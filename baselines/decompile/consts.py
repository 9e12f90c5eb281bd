"""The learned constants of the decompiled graph (docs/decompile.md §1, §2.4, §3.1, §3.2).

- ``log_var[target]``: log sigma^2 of the linearised LayerNorm of each consumer;
- ``o[target]``: the pre-LayerNorm constant of each target (d,);
- ``a[source]``: the optimal-ablation constant of each source (d,), shared by its targets;
- ``c[(l, h, key var)]``: the query-side constant of a query-bias term (d_h,), stage 3.

Keys: stage 1 targets are ``("q"|"k"|"v", l, h)``, ``("mlp", l)``, ``("lm",)``
and sources are the stage-1 source tuples; in the path graph ``log_var`` has
``("q"|"k", l, h)``, ``("v", var)``, ``("mlp", l)``, ``("lm",)``, ``o`` has
``("q", l, h)``, ``("mlp", l)``, ``("lm",)`` and ``a`` is keyed by variable index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Consts:
    log_var: dict = field(default_factory=dict)
    o: dict = field(default_factory=dict)
    a: dict = field(default_factory=dict)
    c: dict = field(default_factory=dict)

    def groups(self) -> dict[str, list[torch.Tensor]]:
        return {name: list(getattr(self, name).values()) for name in ("log_var", "o", "a", "c")}

    def detached(self) -> "Consts":
        """A copy with plain (no-grad) tensors."""
        copy = lambda d: {k: v.detach().clone() for k, v in d.items()}  # noqa: E731
        return Consts(copy(self.log_var), copy(self.o), copy(self.a), copy(self.c))

    def to(self, dtype: torch.dtype) -> "Consts":
        """A detached copy in ``dtype``."""
        conv = lambda d: {k: v.detach().to(dtype).clone() for k, v in d.items()}  # noqa: E731
        return Consts(conv(self.log_var), conv(self.o), conv(self.a), conv(self.c))

    def trainable(self, names=("log_var", "o", "a", "c")) -> "Consts":
        """A copy whose tensors in ``names`` require gradients."""
        out = self.detached()
        for name in names:
            for v in getattr(out, name).values():
                v.requires_grad_(True)
        return out
