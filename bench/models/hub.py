"""Loading reference models and other GPT-2 checkpoints, verified.

The reference models are Hugging Face Hub repos listed in ``zoo/manifest.json``
(repo id, pinned revision, task, sha256 of ``model.safetensors``, recipe,
accuracies). :func:`load_reference` fetches a model through ``huggingface_hub``
(the pinned revision, the standard cache, ``HF_HUB_OFFLINE`` respected), and
when the Hub cannot be reached and the cache does not hold it, falls back to
the bundled copy ``zoo/<model-id>/`` (saying so once per process). Either way
the weights must match the manifest's sha256, so a tampered file is refused.

:func:`load_checkpoint` also takes a local folder or any Hub repo id holding a
GPT-2 checkpoint; its task comes from the caller or from the ``rasp_bench``
key of its ``config.json``, and its vocabulary and positions are checked
against the task. Only safetensors weights are read; pickle files are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from bench.cli_args import Notice
from bench.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, ModelError
from bench.registry import did_you_mean

if TYPE_CHECKING:
    from bench.models.model import GPT2

MANIFEST_NAME = "manifest.json"
#: Files of a model repo (the model card is optional).
REPO_FILES = (CONFIG_NAME, WEIGHTS_NAME, "README.md")
#: Weight files we never read: they are pickles (code runs when they are loaded).
PICKLE_WEIGHTS = ("pytorch_model.bin", "model.bin", "model.pt", "model.pth", "model.ckpt", "tf_model.h5")


class HubFallbackWarning(Notice):
    """The Hub could not be reached; bundled copies are used instead."""


def zoo_dir() -> Path:
    """The bundled zoo: ``$RASP_BENCH_ZOO`` or the repository's ``zoo/`` folder."""
    return Path(os.environ.get("RASP_BENCH_ZOO") or Path(__file__).resolve().parents[2] / "zoo")


@dataclass(frozen=True)
class ReferenceModel:
    """A loaded checkpoint and where it came from."""

    model: GPT2
    task_name: str
    entry: dict | None  # the manifest entry; None for checkpoints outside the zoo
    model_id: str  # manifest id, Hub repo id, or folder path
    source: str  # "hub" (downloaded or cached by huggingface_hub), "bundled" or "local"
    path: str  # the folder the files were read from
    revision: str | None  # the Hub revision asked for, when from the Hub
    sha256: str  # of model.safetensors


# ----- manifest -------------------------------------------------------------------


def load_manifest(zoo: Path | None = None) -> dict:
    """The manifest as a dict ``{"schema_version", "models": {id: entry}}``."""
    path = (zoo or zoo_dir()) / MANIFEST_NAME
    if not path.is_file():
        return {"schema_version": 1, "models": {}}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(manifest.get("models"), dict):
        raise ModelError(f"{path}: no 'models' mapping")
    return manifest


def model_ids(zoo: Path | None = None) -> list[str]:
    return list(load_manifest(zoo)["models"])


def manifest_entry(model_id: str, zoo: Path | None = None) -> dict:
    """The manifest entry of ``model_id``; an unknown id lists the known ones."""
    models = load_manifest(zoo)["models"]
    if model_id not in models:
        known = ", ".join(sorted(models)) or "none (the manifest is empty)"
        raise ModelError(f"unknown model id {model_id!r}.{did_you_mean(model_id, models)} Known ids: {known}")
    return models[model_id]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----- the Hub --------------------------------------------------------------------

_hub_reachable: bool | None = None  # probed once per process
_warned_fallback = False


def _hub_online() -> bool:
    """False when ``HF_HUB_OFFLINE`` is set or the endpoint cannot be connected to (probed once).

    huggingface_hub retries a failing connection for about 20 s per file; the
    probe keeps an offline machine from paying that for every model.
    """
    global _hub_reachable
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if _hub_reachable is None:
        if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
            _hub_reachable = True  # behind a proxy a direct probe says nothing; let huggingface_hub try
        else:
            url = urlparse(constants.ENDPOINT)
            try:
                socket.create_connection((url.hostname, url.port or 443), timeout=3).close()
                _hub_reachable = True
            except OSError:
                _hub_reachable = False
    return _hub_reachable


def _warn_fallback(reason: str) -> None:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            f"Hugging Face Hub and cache could not provide {reason}; using the bundled reference models "
            f"in {zoo_dir()} (said once per process)",
            HubFallbackWarning,
            stacklevel=3,
        )


def hub_download(repo_id: str, revision: str, *, cache_dir: str | None = None) -> Path:
    """Fetch config and weights of a Hub repo at ``revision``; return the snapshot folder.

    Offline (``HF_HUB_OFFLINE`` or no connection), only the local cache is read.
    Raises ``huggingface_hub``'s errors (``LocalEntryNotFoundError`` when neither
    the Hub nor the cache has the files).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    local_only = not _hub_online()
    path = None
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            path = hf_hub_download(repo_id, name, revision=revision, cache_dir=cache_dir, local_files_only=local_only)
        except EntryNotFoundError as err:
            if isinstance(err, LocalEntryNotFoundError):  # a subclass: not in the cache, or no connection
                raise
            hint = " (pickle weights such as pytorch_model.bin are refused)" if name == WEIGHTS_NAME else ""
            raise ModelError(f"Hub repo {repo_id}@{revision} has no {name}{hint}") from None
    return Path(path).parent


# ----- loading --------------------------------------------------------------------


def _read_folder(folder: Path) -> tuple[GPT2, str]:
    """The model in ``folder`` and the sha256 of its weights; refuses pickle-only folders."""
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        pickles = [p for p in PICKLE_WEIGHTS if (folder / p).exists()]
        if pickles:
            raise ModelError(f"{folder}: only {', '.join(pickles)} found; pickle weights are refused, convert to {WEIGHTS_NAME}")
        if (folder / (WEIGHTS_NAME + ".index.json")).exists():
            raise ModelError(f"{folder}: sharded safetensors are not supported; save the model as one {WEIGHTS_NAME}")
    from bench.models.model import GPT2  # torch: imported only when a model is read

    # config.json and the weights' header are checked (types, ranges, size, shapes) before the
    # model is built; the weights are hashed after, so a huge file is refused without being read.
    model = GPT2.from_pretrained(folder)
    try:
        digest = sha256_file(weights)
    except OSError as err:
        raise ModelError(f"{weights}: cannot be read ({err.strerror or err})") from None
    return model, digest


def _check_task(model: GPT2, task_name: str | None, where: str):
    """The task of ``model`` (given or from config.json), checked against its vocabulary and positions."""
    from bench.data.task import TaskError, get_task

    task_name = task_name or model.cfg.rasp_bench.get("task")
    if not task_name:
        raise ModelError(f"{where}: no task given and config.json has no rasp_bench.task; pass the task name")
    if not isinstance(task_name, str) or len(task_name) > 100 or not task_name.isprintable():
        shown = repr(task_name) if len(repr(task_name)) <= 60 else repr(task_name)[:57] + "..."
        raise ModelError(f"{where}: rasp_bench.task must be a task name, got {shown}")
    try:
        task = get_task(task_name)
    except TaskError as err:
        raise ModelError(f"{where}: {err}") from None
    if model.cfg.vocab_size != task.vocab_size:
        raise ModelError(f"{where}: vocab_size {model.cfg.vocab_size} does not match task {task.name} ({task.vocab_size})")
    if model.cfg.n_positions < task.n_positions:
        raise ModelError(f"{where}: n_positions {model.cfg.n_positions} is below task {task.name}'s {task.n_positions}")
    return task


def load_reference(model_id: str, *, zoo: Path | None = None, cache_dir: str | None = None, prefer_bundled: bool = False) -> ReferenceModel:
    """Load a reference model of the zoo by id: the Hub (pinned revision) first, else the bundled copy.

    The weights' sha256 must equal the manifest's. ``prefer_bundled`` skips the Hub.
    """
    zoo = zoo or zoo_dir()
    entry = manifest_entry(model_id, zoo)
    repo, revision = entry["hub_repo"], entry["revision"]
    folder, source = None, "hub"
    if not prefer_bundled:
        try:
            folder = hub_download(repo, revision, cache_dir=cache_dir)
        except ModelError:
            raise
        except Exception as err:  # noqa: BLE001 -- any network or cache failure means: use the bundled copy
            _warn_fallback(f"{repo}@{revision}: {type(err).__name__}")
    if folder is None:
        folder, source = zoo / model_id, "bundled"
        if not (folder / WEIGHTS_NAME).is_file():
            raise ModelError(
                f"model {model_id!r} not found: not in the Hugging Face cache for {repo}@{revision} "
                f"and no bundled copy at {folder / WEIGHTS_NAME}"
            )
    model, digest = _read_folder(folder)
    if digest != entry["sha256"]:
        raise ModelError(
            f"{folder / WEIGHTS_NAME}: sha256 {digest[:12]}... does not match the manifest's {entry['sha256'][:12]}... "
            "(modified or corrupt weights are refused)"
        )
    task = _check_task(model, entry["task"], str(folder))
    return ReferenceModel(model, task.name, entry, model_id, source, str(folder), revision if source == "hub" else None, digest)


def load_checkpoint(spec: str, *, task: str | None = None, revision: str | None = None, zoo: Path | None = None) -> ReferenceModel:
    """Load a zoo id, a local checkpoint folder, or a Hub repo id (``org/name``, at ``revision``)."""
    if spec in load_manifest(zoo)["models"] and revision is None:
        ref = load_reference(spec, zoo=zoo)
        if task and task != ref.task_name:
            raise ModelError(f"model {spec!r} is for task {ref.task_name!r}, not {task!r}")
        return ref
    path = Path(spec)
    if path.is_dir():
        model, digest = _read_folder(path)
        found = _check_task(model, task, str(path))
        return ReferenceModel(model, found.name, None, str(path), "local", str(path), None, digest)
    if spec.count("/") == 1 and not path.exists() and not spec.startswith((".", "/", "~")):
        revision = revision or "main"
        try:
            folder = hub_download(spec, revision)
        except ModelError:
            raise
        except Exception as err:  # noqa: BLE001
            first = str(err).splitlines()[0] if str(err) else ""
            raise ModelError(f"{spec!r} is not a local folder (no such path), and Hub repo {spec}@{revision} cannot be "
                             f"fetched: {type(err).__name__}: {first}") from None
        model, digest = _read_folder(folder)
        found = _check_task(model, task, f"{spec}@{revision}")
        return ReferenceModel(model, found.name, None, spec, "hub", str(folder), revision, digest)
    raise ModelError(_unknown_model(spec, path, model_ids(zoo)))


def _unknown_model(spec: str, path: Path, known: list[str]) -> str:
    """Why ``spec`` names no model: a file, a missing folder, or an unknown zoo id (with the closest ids)."""
    if path.exists():
        return f"{spec!r} is a file, not a checkpoint folder (a folder with config.json and model.safetensors)"
    if os.sep in spec or "/" in spec or spec.startswith((".", "~")):
        return f"{spec!r} does not exist (no such folder), and it is not a Hub repo id 'org/name'"
    hint = did_you_mean(spec, known, n=3)
    listing = f" Zoo ids: {', '.join(sorted(known))}." if known else " The zoo is empty."
    return (f"{spec!r} is not a zoo model id, a checkpoint folder (no such path) or a Hub repo id 'org/name'."
            f"{hint}{listing}")
