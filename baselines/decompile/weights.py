"""The reference GPT-2's weights as plain tensors, split per head (docs/decompile.md §0).

Every map is a right-multiplication (rows are vectors). Heads are split so that
the decompiler can build one query, key, value and output map per head:
``WQ[h]`` is ``d x d_h`` and ``WO[h]`` is ``d_h x d``. The tensors are copies
(detached), in the requested dtype, so that nothing the decompiler does can
touch the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from bench.errors import BenchError


class DecompileError(BenchError):
    """A model or input the decompiler cannot handle; the message is one line."""


@dataclass(frozen=True)
class LayerWeights:
    """One transformer block: LayerNorms, per-head attention maps, and the MLP."""

    ln1_g: torch.Tensor  # (d,)
    ln1_b: torch.Tensor
    WQ: torch.Tensor  # (H, d, dh)
    WK: torch.Tensor
    WV: torch.Tensor
    bQ: torch.Tensor  # (H, dh)
    bK: torch.Tensor
    bV: torch.Tensor
    WO: torch.Tensor  # (H, dh, d)
    bO: torch.Tensor  # (d,)
    ln2_g: torch.Tensor
    ln2_b: torch.Tensor
    W_fc: torch.Tensor  # (d, d_mlp)
    b_fc: torch.Tensor
    W_proj: torch.Tensor  # (d_mlp, d)
    b_proj: torch.Tensor


@dataclass(frozen=True)
class Weights:
    """All weights of a GPT-2 with tied embeddings, plus the few config numbers the decompiler needs."""

    wte: torch.Tensor  # (V, d)
    wpe: torch.Tensor  # (P, d)
    layers: tuple[LayerWeights, ...]
    lnf_g: torch.Tensor
    lnf_b: torch.Tensor
    eps: float
    activation: str
    #: (BOS id, the model's logits at position 0): set for token-set models, whose position-0 output
    #: is scored; the executors and the rendered program then output these logits there (a constant,
    #: since position 0 always holds BOS). None: position 0 is computed like any other.
    pos0: tuple[int, torch.Tensor] | None = None

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_heads(self) -> int:
        return int(self.layers[0].WQ.shape[0]) if self.layers else 0

    @property
    def d(self) -> int:
        return int(self.wte.shape[1])

    @property
    def d_head(self) -> int:
        return int(self.layers[0].WQ.shape[2])

    @property
    def vocab_size(self) -> int:
        return int(self.wte.shape[0])

    @property
    def n_positions(self) -> int:
        return int(self.wpe.shape[0])


def extract_weights(model, dtype: torch.dtype = torch.float64) -> Weights:
    """Copy the weights of a :class:`bench.models.model.GPT2` into a :class:`Weights` (per-head split)."""
    cfg = getattr(model, "cfg", None)
    if cfg is None or not hasattr(model, "transformer"):
        raise DecompileError(f"expected a bench.models.model.GPT2, got {type(model).__name__}")
    if cfg.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise DecompileError(f"activation {cfg.activation_function!r} is not supported (only gelu_new)")
    H, d = cfg.n_head, cfg.n_embd
    dh = d // H

    def t(x: torch.Tensor) -> torch.Tensor:
        return x.detach().to(dtype).clone()

    layers = []
    for block in model.transformer.h:
        W, b = t(block.attn.c_attn.weight), t(block.attn.c_attn.bias)  # (d, 3d), (3d,)
        per_head = [W[:, i * d:(i + 1) * d].reshape(d, H, dh).permute(1, 0, 2) for i in range(3)]
        biases = [b[i * d:(i + 1) * d].reshape(H, dh) for i in range(3)]
        layers.append(LayerWeights(
            ln1_g=t(block.ln_1.weight), ln1_b=t(block.ln_1.bias),
            WQ=per_head[0].contiguous(), WK=per_head[1].contiguous(), WV=per_head[2].contiguous(),
            bQ=biases[0], bK=biases[1], bV=biases[2],
            WO=t(block.attn.c_proj.weight).reshape(H, dh, d), bO=t(block.attn.c_proj.bias),
            ln2_g=t(block.ln_2.weight), ln2_b=t(block.ln_2.bias),
            W_fc=t(block.mlp.c_fc.weight), b_fc=t(block.mlp.c_fc.bias),
            W_proj=t(block.mlp.c_proj.weight), b_proj=t(block.mlp.c_proj.bias),
        ))
    return Weights(
        wte=t(model.transformer.wte.weight), wpe=t(model.transformer.wpe.weight), layers=tuple(layers),
        lnf_g=t(model.transformer.ln_f.weight), lnf_b=t(model.transformer.ln_f.bias),
        eps=float(cfg.layer_norm_epsilon), activation=cfg.activation_function,
    )


def with_pos0_readout(W: Weights, model, bos: int) -> Weights:
    """``W`` with the model's own logits at position 0 (input: BOS alone) as its ``pos0`` readout."""
    with torch.no_grad():
        logits = model(torch.tensor([[bos]]), torch.tensor([[0]]))[0, 0]
    return replace(W, pos0=(bos, logits.to(W.wte.dtype).clone()))


def apply_pos0(W: Weights, logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """The logits with position-0 rows replaced by ``W.pos0`` (unchanged when it is None)."""
    if W.pos0 is None:
        return logits
    return torch.where((pos == 0)[..., None], W.pos0[1].to(logits.dtype), logits)


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh approximation of GELU."""
    return torch.nn.functional.gelu(x, approximate="tanh")


def mlp(layer: LayerWeights, x: torch.Tensor) -> torch.Tensor:
    """The block's MLP on an already normalised input (c_fc, gelu_new, c_proj)."""
    return gelu_new(x @ layer.W_fc + layer.b_fc) @ layer.W_proj + layer.b_proj
