"""A small, readable, hookable PyTorch GPT-2 in the Hugging Face GPT-2 format.

The reference models of the benchmark are GPT-2 checkpoints (``config.json`` +
``model.safetensors``) that ``transformers.GPT2LMHeadModel`` loads unchanged.
This module re-implements the same network in about 300 lines so that the
harness can read every intermediate value without depending on
``transformers``: pre-LayerNorm blocks, learned absolute positions read from
explicit ``position_ids``, ``gelu_new``, input and output embeddings tied, and
dropout that is active only in training mode.

Parameter names are exactly those of ``GPT2LMHeadModel.state_dict()``
(``transformer.wte.weight``, ``transformer.h.0.attn.c_attn.weight``, ...) and
the linear layers keep GPT-2's ``Conv1D`` layout (``y = x @ W + b`` with ``W``
of shape ``(in, out)``). ``lm_head.weight`` is tied to ``transformer.wte.weight``
and, as ``transformers`` does, it is left out of the saved file.

Hook points follow TransformerLens' names (``blocks.{l}.attn.hook_pattern``,
``blocks.{l}.hook_resid_post``, ...; see :attr:`GPT2.hook_names`). Each one can
be read (:meth:`GPT2.run_with_cache`) or replaced (:meth:`GPT2.run_with_hooks`,
for patching and ablation). Attention heads are computed one by one up to the
output projection, so ``blocks.{l}.attn.hook_result`` (one ``d``-vector per
head) sums over heads, plus the ``c_proj`` bias, to ``blocks.{l}.hook_attn_out``.
A layer none of whose attention hooks is in use takes a fused path
(``scaled_dot_product_attention``) instead: the same function, faster, equal
to the explicit path up to float rounding (about 1e-6).
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, ModelError  # noqa: F401  (re-exported)
from bench.models.checkpoint import check_weights_header, read_json_bounded
from bench.models.config import ACTIVATIONS, GPT2Config

#: A hook function: gets the activation and the hook's name; returns a
#: replacement tensor of the same shape, or None to leave it as it is.
HookFn = Callable[[torch.Tensor, str], "torch.Tensor | None"]


# ----- hook points ------------------------------------------------------------------


class HookPoint(nn.Module):
    """An identity layer with a stable dotted name where hook functions can read or replace a value."""

    def __init__(self):
        super().__init__()
        self.name = ""
        self.fns: list[HookFn] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fn in self.fns:
            out = fn(x, self.name)
            if out is not None:
                if out.shape != x.shape:
                    raise ModelError(f"hook on {self.name} returned shape {tuple(out.shape)}, expected {tuple(x.shape)}")
                x = out
        return x


class LayerNorm(nn.Module):
    """LayerNorm with GPT-2's parameter names; ``hook_scale`` is the per-token std (B, T, 1)."""

    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))
        self.eps = eps
        self.hook_scale = HookPoint()
        self.hook_normalized = HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())  # (B, T, 1)
        return self.hook_normalized(x / scale) * self.weight + self.bias


class Conv1D(nn.Module):
    """GPT-2's linear layer: ``x @ weight + bias`` with ``weight`` of shape (in, out)."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_in, d_out).normal_(std=0.02))
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)  # as transformers' Conv1D
        return out.view(*x.shape[:-1], out.shape[-1])


# ----- the network -----------------------------------------------------------------


class Attention(nn.Module):
    """Causal multi-head self-attention, computed head by head up to the output projection."""

    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.n_head, self.d_head = cfg.n_head, cfg.d_head
        self.c_attn = Conv1D(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)
        self.attn_dropout = nn.Dropout(cfg.attn_pdrop)
        self.resid_dropout = nn.Dropout(cfg.resid_pdrop)
        for name in ("q", "k", "v", "attn_scores", "pattern", "z", "result"):
            setattr(self, f"hook_{name}", HookPoint())

    def _hooked(self) -> bool:
        return any(getattr(self, f"hook_{name}").fns for name in ("q", "k", "v", "attn_scores", "pattern", "z", "result"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._hooked() and not (self.training and self.attn_dropout.p > 0):
            return self._fused(x)
        B, T, d = x.shape
        q, k, v = (t.view(B, T, self.n_head, self.d_head) for t in self.c_attn(x).split(d, dim=-1))
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)  # (B, T, H, dh)
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(self.d_head)  # (B, H, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        scores = self.hook_attn_scores(scores.masked_fill(~causal, float("-inf")))
        pattern = self.hook_pattern(self.attn_dropout(scores.softmax(dim=-1)))  # (B, H, T, T)
        z = self.hook_z(torch.einsum("bhqk,bkhe->bqhe", pattern, v))  # (B, T, H, dh)
        w_o = self.c_proj.weight.view(self.n_head, self.d_head, d)  # (H, dh, d)
        result = self.hook_result(torch.einsum("bqhe,hed->bqhd", z, w_o))  # (B, T, H, d)
        return self.resid_dropout(result.sum(dim=2) + self.c_proj.bias)

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        """The same computation without materializing the pattern: when nothing hooks this layer."""
        B, T, d = x.shape
        q, k, v = (t.view(B, T, self.n_head, self.d_head).transpose(1, 2) for t in self.c_attn(x).split(d, dim=-1))
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, dh)
        return self.resid_dropout(self.c_proj(z.transpose(1, 2).reshape(B, T, d)))


class MLP(nn.Module):
    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(cfg.n_embd, cfg.d_mlp)
        self.c_proj = Conv1D(cfg.d_mlp, cfg.n_embd)
        self.act = ACTIVATIONS[cfg.activation_function]
        self.dropout = nn.Dropout(cfg.resid_pdrop)
        self.hook_pre, self.hook_post = HookPoint(), HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.hook_post(self.act(self.hook_pre(self.c_fc(x))))  # (B, T, d_mlp)
        return self.dropout(self.c_proj(hidden))


class Block(nn.Module):
    """One pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(.))``."""

    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.ln_1 = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)
        for name in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln_1(x))))
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln_2(x))))


class Transformer(nn.Module):
    """Holds the parameters under GPT-2's names (``transformer.*``)."""

    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.drop = nn.Dropout(cfg.embd_pdrop)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)


class GPT2(nn.Module):
    """GPT-2 language model with tied embeddings and TransformerLens-style hook points."""

    def __init__(self, cfg: GPT2Config):
        super().__init__()
        self.cfg = cfg
        self.transformer = Transformer(cfg)
        self.hook_embed, self.hook_pos_embed = HookPoint(), HookPoint()
        # GPT-2's residual projections start smaller, scaled by depth (as in GPT-2 and nanoGPT).
        for block in self.transformer.h:
            for proj in (block.attn.c_proj, block.mlp.c_proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))
        points = {}
        for module_name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = _hook_name(module_name)
                points[module.name] = module
        self.hook_points: dict[str, HookPoint] = {name: points[name] for name in self._forward_order(points)}

    def _forward_order(self, points: dict[str, HookPoint]) -> list[str]:
        """Hook names in the order a forward pass reaches them (found by running one token)."""
        order: list[str] = []
        for point in points.values():
            point.fns.append(lambda x, name: order.append(name))
        with torch.no_grad():
            self(torch.zeros(1, 1, dtype=torch.long))
        for point in points.values():
            point.fns.clear()
        return order

    @property
    def hook_names(self) -> list[str]:
        """Every hook point, in the order the forward pass reaches them."""
        return list(self.hook_points)

    @property
    def lm_head_weight(self) -> torch.Tensor:
        return self.transformer.wte.weight  # tied: lm_head.weight is the token embedding

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, T, vocab_size) for token ids (B, T); positions default to 0..T-1."""
        input_ids, position_ids = self._check_inputs(input_ids, position_ids)
        t = self.transformer
        x = t.drop(self.hook_embed(t.wte(input_ids)) + self.hook_pos_embed(t.wpe(position_ids)))  # (B, T, d)
        for block in t.h:
            x = block(x)
        return t.ln_f(x) @ self.lm_head_weight.T  # (B, T, V)

    def _check_inputs(self, input_ids, position_ids):
        input_ids = torch.as_tensor(input_ids, dtype=torch.long, device=self.lm_head_weight.device)
        if input_ids.dim() != 2:
            raise ModelError(f"input_ids must be (batch, time), got shape {tuple(input_ids.shape)}")
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
        position_ids = torch.as_tensor(position_ids, dtype=torch.long, device=input_ids.device)
        if position_ids.shape != input_ids.shape:
            raise ModelError(f"position_ids shape {tuple(position_ids.shape)} != input_ids shape {tuple(input_ids.shape)}")
        for what, ids, limit in [("token", input_ids, self.cfg.vocab_size), ("position", position_ids, self.cfg.n_positions)]:
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= limit):
                raise ModelError(f"{what} ids must lie in [0, {limit - 1}], got {int(ids.min())}..{int(ids.max())}")
        return input_ids, position_ids

    # ----- hooks --------------------------------------------------------------

    def _resolve(self, names) -> list[str]:
        if names is None:
            return self.hook_names
        if callable(names):
            return [n for n in self.hook_names if names(n)]
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self.hook_points]
        if unknown:
            raise ModelError(f"unknown hook point(s) {unknown}; see GPT2.hook_names (e.g. {self.hook_names[:3]})")
        return names

    @contextmanager
    def hooks(self, fwd_hooks: Iterable[tuple[str, HookFn]]):
        """Attach ``(name, fn)`` hooks for the duration of a ``with`` block."""
        attached = []
        try:
            for name, fn in fwd_hooks:
                for resolved in self._resolve(name):
                    self.hook_points[resolved].fns.append(fn)
                    attached.append((resolved, fn))
            yield self
        finally:
            for resolved, fn in attached:
                self.hook_points[resolved].fns.remove(fn)

    def run_with_hooks(self, input_ids, position_ids=None, fwd_hooks: Iterable[tuple[str, HookFn]] = ()):
        """Forward pass with hooks that may replace activations (patching, ablation).

        ``name`` may be a hook name, a list of names, or a predicate over names.
        """
        with self.hooks(fwd_hooks):
            return self(input_ids, position_ids)

    def run_with_cache(self, input_ids, position_ids=None, names=None):
        """``(logits, cache)`` where ``cache[name]`` is the activation at each requested hook point."""
        cache: dict[str, torch.Tensor] = {}

        def store(x: torch.Tensor, name: str) -> None:
            cache[name] = x.detach()

        logits = self.run_with_hooks(input_ids, position_ids, [(n, store) for n in self._resolve(names)])
        return logits, cache

    # ----- files --------------------------------------------------------------

    def save_pretrained(self, folder) -> None:
        """Write ``config.json`` and ``model.safetensors`` (``lm_head.weight`` omitted: it is tied)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_NAME).write_text(json.dumps(self.cfg.to_hf_dict(), indent=2) + "\n")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})

    @classmethod
    def from_pretrained(cls, folder, *, weights_file: str | Path | None = None) -> "GPT2":
        """Load a GPT-2 checkpoint folder (``config.json`` + ``model.safetensors``)."""
        folder = Path(folder)
        config_path = folder / CONFIG_NAME
        weights_path = Path(weights_file) if weights_file else folder / WEIGHTS_NAME
        for path in (config_path, weights_path):
            if not path.is_file():
                raise ModelError(f"missing {path.name}: looked for {path}")
        # Everything is checked before a tensor is allocated: the config's fields and size, then
        # the names, shapes and dtypes in the weights' header.
        cfg = GPT2Config.from_hf_dict(read_json_bounded(config_path), source=str(config_path))
        check_weights_header(weights_path, cfg.parameter_shapes)
        model = cls(cfg)
        model.load_weights(weights_path)
        return model.eval()

    def load_weights(self, path) -> None:
        """Load a safetensors file with GPT-2 names; refuse missing, extra or mis-shaped tensors."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        own_shapes = {k: tuple(v.shape) for k, v in self.state_dict().items()}
        check_weights_header(path, own_shapes)  # names, shapes, dtypes and size, before reading any tensor
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise ModelError(f"{path}: not a readable safetensors file ({err})") from None
        tensors = {k.removeprefix("model."): v for k, v in tensors.items()}  # some exporters prefix names
        lm_head = tensors.pop("lm_head.weight", None)
        wte = tensors.get("transformer.wte.weight")
        if lm_head is not None and wte is not None and not torch.equal(lm_head, wte):
            raise ModelError(f"{path}: lm_head.weight differs from transformer.wte.weight (untied heads are not supported)")
        # Older transformers versions stored the causal-mask buffers; they carry no learned values.
        tensors = {k: v for k, v in tensors.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
        own = self.state_dict()
        missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
        if missing or extra:
            raise ModelError(f"{path}: weights do not match the config (missing {missing[:4]}, unexpected {extra[:4]})")
        for name, value in tensors.items():
            if value.shape != own[name].shape:
                raise ModelError(f"{path}: {name} has shape {tuple(value.shape)}, config needs {tuple(own[name].shape)}")
            if value.dtype not in (torch.float32, torch.float16, torch.bfloat16):
                raise ModelError(f"{path}: {name} has dtype {value.dtype}; supported: float32, float16, bfloat16")
        self.load_state_dict({k: v.float() for k, v in tensors.items()})


def _hook_name(module_name: str) -> str:
    """``transformer.h.0.ln_1.hook_scale`` -> ``blocks.0.ln1.hook_scale`` (TransformerLens names)."""
    name = module_name.replace("transformer.h.", "blocks.").replace("transformer.ln_f.", "ln_final.")
    return name.replace(".ln_1.", ".ln1.").replace(".ln_2.", ".ln2.")
