"""The training recipe: every field that determines a run, its published defaults, and their checks.

:class:`Recipe` is what a run folder's ``state.json`` and the zoo's manifest
record; :mod:`bench.models.train` trains one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from bench.data.task import Task
from bench.errors import BenchError
from bench.models.model import GPT2Config


class TrainError(BenchError):
    """A bad recipe or an unusable run folder; the message is one line."""


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a training run; the defaults are the published recipe."""

    task: str
    n_layer: int = 2
    n_head: int = 1
    n_embd: int = 64
    lr: float = 1e-3
    max_steps: int = 30_000  # the step budget; the learning rate decays linearly over it
    batch_size: int = 64
    dropout: float = 0.0  # attention, residual and embedding dropout alike
    weight_decay: float = 0.01
    offsets: bool = True  # random position offsets (False for the controls)
    seed: int = 0
    eval_every: int = 3_000  # steps between checks on the held-out sample (and checkpoints)
    eval_size: int = 512  # held-out sequences of lengths 0-50 for the early-stop check
    max_grad_norm: float | None = 1.0  # gradient-norm clipping (None: off, as in the zoo's first version)
    beta1: float = 0.9  # AdamW
    beta2: float = 0.999
    eps: float = 1e-8
    # execution: the same loss and gradient, different float rounding and dropout draws
    length_buckets: int = 1  # micro-batches by length; 1: the whole batch padded to its longest sequence
    compile: bool = False  # torch.compile the forward pass (inductor, dynamic shapes)

    def __post_init__(self):
        if min(self.n_layer, self.n_head, self.n_embd, self.max_steps, self.batch_size, self.eval_every, self.length_buckets) < 1:
            raise TrainError(f"recipe sizes and counts must be positive: {self}")
        if self.n_embd % self.n_head:
            raise TrainError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise TrainError(f"max_grad_norm must be positive or None, got {self.max_grad_norm}")

    @classmethod
    def from_dict(cls, saved: dict) -> "Recipe":
        """The recipe of a saved run (``state.json``, a manifest); fields it predates take
        the values runs had before they existed (:data:`LEGACY_FIELDS`: no clipping)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(saved) - known)
        if unknown:
            raise TrainError(f"unknown recipe field(s) {unknown}")
        return cls(**{**LEGACY_FIELDS, **saved})

    @property
    def published(self) -> bool:
        """True when the optimization is the published one (any size, lr, dropout, seed, offsets)."""
        return all(getattr(self, k) == getattr(Recipe, k) for k in PUBLISHED_FIELDS)

    @property
    def arch(self) -> str:
        return f"{self.n_layer}x{self.n_head}x{self.n_embd}"

    def with_arch(self, arch: str) -> "Recipe":
        """A copy with the architecture ``LxHxD`` (layers x heads x width)."""
        return replace(self, **parse_arch(arch))

    def model_config(self, task: Task) -> GPT2Config:
        return GPT2Config(
            vocab_size=task.vocab_size,
            n_positions=task.n_positions,
            n_embd=self.n_embd,
            n_layer=self.n_layer,
            n_head=self.n_head,
            attn_pdrop=self.dropout,
            resid_pdrop=self.dropout,
            embd_pdrop=self.dropout,
            bos_token_id=task.vocab.bos,
            eos_token_id=task.vocab.eos,
            rasp_bench={"task": task.name, "task_version": task.version, "kind": task.kind, "recipe": asdict(self)},
        )


#: Values of the fields a run's saved recipe predates (runs of the zoo's first version).
LEGACY_FIELDS = {"max_grad_norm": None, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "length_buckets": 1, "compile": False}
#: Fields the published recipe fixes for every model (execution options and sizes excluded).
PUBLISHED_FIELDS = ("max_steps", "batch_size", "weight_decay", "eval_every", "max_grad_norm", "beta1", "beta2", "eps")


def parse_arch(arch: str) -> dict:
    """``"2x1x64"`` -> ``{"n_layer": 2, "n_head": 1, "n_embd": 64}``."""
    try:
        n_layer, n_head, n_embd = (int(part) for part in arch.lower().split("x"))
    except ValueError:
        raise TrainError(f"bad architecture {arch!r}: expected LAYERSxHEADSxWIDTH, e.g. 2x1x64") from None
    return {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}
