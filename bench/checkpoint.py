"""Checkpoint file names and :class:`ModelError`, importable without torch.

:mod:`bench.model` re-exports them; :mod:`bench.hub` uses them so that listing
and error paths do not pay for importing torch.
"""

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelError(ValueError):
    """A checkpoint or an input the model cannot use; the message is one line."""
