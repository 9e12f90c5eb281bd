"""The model's configuration: GPT-2's ``config.json`` fields, checked, and the activation functions it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from bench.models.checkpoint import ModelError, check_config, expected_shapes

#: The activation functions a config may name (``activation_function``).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "gelu": nn.functional.gelu,
    "relu": nn.functional.relu,
}


@dataclass(frozen=True)
class GPT2Config:
    """The subset of Hugging Face's ``GPT2Config`` this model implements.

    ``rasp_bench`` is our own extra key of ``config.json`` (task name, task
    version, training recipe); ``transformers`` keeps unknown keys and ignores them.
    """

    vocab_size: int
    n_positions: int
    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 1
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    layer_norm_epsilon: float = 1e-5
    attn_pdrop: float = 0.0
    resid_pdrop: float = 0.0
    embd_pdrop: float = 0.0
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    rasp_bench: dict = field(default_factory=dict)

    def __post_init__(self):
        # Types, ranges and the parameter memory, checked before anything is allocated
        # (see bench.models.checkpoint for the limits); ints and floats are normalized.
        checked = check_config({f: getattr(self, f) for f in self.__dataclass_fields__}, source="GPT2Config")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def d_head(self) -> int:
        return self.n_embd // self.n_head

    @property
    def d_mlp(self) -> int:
        return self.n_inner or 4 * self.n_embd

    @property
    def arch(self) -> str:
        """Short architecture label ``{layers}x{heads}x{width}``, e.g. ``2x1x64``."""
        return f"{self.n_layer}x{self.n_head}x{self.n_embd}"

    def to_hf_dict(self) -> dict:
        """The ``config.json`` contents, in the format ``transformers`` reads."""
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_ctx": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": self.n_inner,
            "activation_function": self.activation_function,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "attn_pdrop": self.attn_pdrop,
            "resid_pdrop": self.resid_pdrop,
            "embd_pdrop": self.embd_pdrop,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "scale_attn_weights": True,
            "scale_attn_by_inverse_layer_idx": False,
            "reorder_and_upcast_attn": False,
            "tie_word_embeddings": True,
            "use_cache": False,
            "torch_dtype": "float32",
            "rasp_bench": dict(self.rasp_bench),
        }

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{name: shape}`` of every tensor of ``GPT2(self).state_dict()``, computed without building it."""
        return expected_shapes(self.vocab_size, self.n_positions, self.n_embd, self.n_layer, self.n_inner)

    @classmethod
    def from_hf_dict(cls, raw: dict, source: str = "config.json") -> "GPT2Config":
        """Read a Hugging Face GPT-2 ``config.json``; refuse what this model cannot run.

        Every field is type- and range-checked (:func:`bench.models.checkpoint.check_config`)
        before anything is allocated; errors are one-line :class:`ModelError`.
        """
        if not isinstance(raw, dict):
            check_config(raw, source)  # raises: not a JSON object
        if raw.get("model_type") != "gpt2":
            raise ModelError(f"{source}: model_type is {raw.get('model_type')!r}, expected 'gpt2'")
        for key, expected in [
            ("scale_attn_weights", True),
            ("scale_attn_by_inverse_layer_idx", False),
            ("tie_word_embeddings", True),
        ]:
            if raw.get(key, expected) != expected:
                raise ModelError(f"{source}: {key}={raw[key]!r} is not supported (expected {expected!r})")
        required = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")
        missing = [k for k in required if k not in raw]
        if missing:
            raise ModelError(f"{source}: missing key(s) {', '.join(missing)}")
        known = {f for f in cls.__dataclass_fields__}
        # null stands for "the default" except in the required fields, where it is refused as not an integer.
        values = {k: v for k, v in raw.items() if k in known and (v is not None or k in required)}
        checked = check_config({**values, **({"n_ctx": raw["n_ctx"]} if "n_ctx" in raw else {})}, source)
        checked.pop("n_ctx", None)
        try:
            return cls(**checked)
        except TypeError as err:
            raise ModelError(f"{source}: {err}") from None
