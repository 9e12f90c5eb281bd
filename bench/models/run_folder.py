"""A training run's folder: checkpoints written as one unit, and resumed.

The folder holds the model (``model/``, the Hugging Face format), the
optimizer moments and the torch RNG state (``optimizer.safetensors``), and the
step, data-RNG state and history (``state.json``); nothing is pickled. A
checkpoint's files are written beside their places first and renamed into
place once all are complete (:func:`save_checkpoint`, :func:`settle`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from bench.models.model import CONFIG_NAME, WEIGHTS_NAME, GPT2

STATE_NAME = "state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
MODEL_DIR = "model"


def save_checkpoint(run_dir: Path, model: GPT2, optimizer, state: dict) -> None:
    """Write model, optimizer and state as one unit: every file goes to ``*.tmp`` first;
    ``state.json.new`` marks the set complete, then each is renamed into place. A run
    killed half-way is completed (or the incomplete set dropped) by :func:`settle`."""
    from safetensors.torch import save_file

    names = {id(p): n for n, p in model.named_parameters()}
    tensors = {"torch_rng": torch.get_rng_state()}
    for param, moments in optimizer.state.items():
        for key, value in moments.items():
            tensors[f"{names[id(param)]}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    (run_dir / MODEL_DIR).mkdir(parents=True, exist_ok=True)
    config = run_dir / MODEL_DIR / CONFIG_NAME
    config.with_name(CONFIG_NAME + ".tmp").write_text(json.dumps(model.cfg.to_hf_dict(), indent=2) + "\n")
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(run_dir / MODEL_DIR / (WEIGHTS_NAME + ".tmp")), metadata={"format": "pt"})
    save_file(tensors, str(run_dir / (OPTIMIZER_NAME + ".tmp")))
    (run_dir / (STATE_NAME + ".tmp")).write_text(json.dumps(state, indent=1) + "\n")
    os.replace(run_dir / (STATE_NAME + ".tmp"), run_dir / (STATE_NAME + ".new"))  # the set is complete
    settle(run_dir)


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The files of a checkpoint, ``state.json`` last."""
    return [run_dir / MODEL_DIR / CONFIG_NAME, run_dir / MODEL_DIR / WEIGHTS_NAME, run_dir / OPTIMIZER_NAME, run_dir / STATE_NAME]


def settle(run_dir: Path) -> None:
    """Finish an interrupted checkpoint (``state.json.new`` present) or drop an incomplete one."""
    complete = (run_dir / (STATE_NAME + ".new")).is_file()
    for path in checkpoint_files(run_dir):
        pending = path.with_name(path.name + (".new" if path.name == STATE_NAME else ".tmp"))
        if pending.is_file():
            if complete:
                os.replace(pending, path)
            else:
                pending.unlink()
    stray = run_dir / (STATE_NAME + ".tmp")
    if stray.is_file():
        stray.unlink()


def load_checkpoint(run_dir: Path, model: GPT2, optimizer) -> dict:
    """Load a checkpoint into ``model`` and ``optimizer`` (and torch's RNG); returns its ``state.json``."""
    from safetensors.torch import load_file

    state = json.loads((run_dir / STATE_NAME).read_text())
    model.load_weights(run_dir / MODEL_DIR / WEIGHTS_NAME)
    tensors = load_file(str(run_dir / OPTIMIZER_NAME))
    torch.set_rng_state(tensors.pop("torch_rng"))
    params = dict(model.named_parameters())
    for key, value in tensors.items():
        name, moment = key.rsplit(".", 1)
        optimizer.state[params[name]][moment] = value
    return state
