"""A model to score: which weights, for which task, and where they come from.

:class:`ModelRef` is the one description of "a model to score" that
``bench.evaluate`` and the leaderboard's validation share. It names the
weights by their sha256 and is cheap to make: a zoo model's ref comes from its
manifest entry alone, and the network is loaded (by :mod:`bench.models.hub`, which
verifies it) only when something must run it. What loading returns is a
:class:`bench.models.hub.ReferenceModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.models import hub


@dataclass(frozen=True)
class ModelRef:
    """A model to score, loaded only when its turn comes."""

    id: str  # the zoo id, Hub repo id or local folder
    task: str
    source: str  # "zoo", "hub" or "local"
    hub_repo: str | None
    revision: str | None
    role: str | None
    weights_sha256: str  # of the model.safetensors it will load
    entry: dict | None = field(default=None, compare=False)  # the manifest entry of a zoo model
    preloaded: object = field(default=None, compare=False)  # a hub.ReferenceModel already loaded to learn its task

    def load(self) -> hub.ReferenceModel:
        return self.preloaded or hub.load_reference(self.id)


def zoo_ref(model_id: str, entry: dict) -> ModelRef:
    """The ref of a zoo model, from its manifest entry."""
    return ModelRef(model_id, entry.get("task"), "zoo", entry.get("hub_repo"), entry.get("revision"),
                    entry.get("role"), entry.get("sha256"), entry)


def zoo_refs() -> dict[str, ModelRef]:
    """Every model of the zoo's manifest, by id, in manifest order."""
    return {model_id: zoo_ref(model_id, entry) for model_id, entry in hub.load_manifest()["models"].items()}


def checkpoint_ref(spec: str, task: str | None) -> ModelRef:
    """The ref of a zoo id, a Hub repo id or a local folder (the last two are loaded to learn their task).

    Raises :class:`bench.models.model.ModelError` when a zoo model is named with another task than its own.
    """
    models = hub.load_manifest()["models"]
    if spec in models:
        ref = zoo_ref(spec, models[spec])
        if task and task != ref.task:
            raise hub.ModelError(f"model {spec!r} is for task {ref.task!r}, not {task!r}")
        return ref
    loaded = hub.load_checkpoint(spec, task=task)
    source = "local" if loaded.source == "local" else "hub"
    return ModelRef(loaded.model_id, loaded.task_name, source, spec if source == "hub" else None,
                    loaded.revision, None, loaded.sha256, preloaded=loaded)
