"""Loading reference models: Hugging Face cache offline, bundled fallback, verification, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import bench.models.hub as hub
from bench.data.task import get_task
from bench.models.hub import HubFallbackWarning, load_checkpoint, load_reference, sha256_file
from bench.models.model import GPT2, GPT2Config, ModelError

REVISION = "0123456789abcdef0123456789abcdef01234567"  # a commit id, as push would pin


def tiny_model(task_name="bin_majority", seed=0) -> GPT2:
    task = get_task(task_name)
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=task.vocab_size, n_positions=task.n_positions, n_layer=1, n_head=1, n_embd=8,
                     rasp_bench={"task": task.name})
    return GPT2(cfg).eval()


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A zoo with one bundled model ``tiny`` (repo ``rasp-bench-test/tiny``), the Hub offline."""
    zoo = tmp_path / "zoo"
    tiny_model().save_pretrained(zoo / "tiny")
    entry = {"id": "tiny", "hub_repo": "rasp-bench-test/tiny", "revision": REVISION, "task": "bin_majority",
             "sha256": sha256_file(zoo / "tiny" / "model.safetensors"), "role": "main"}
    (zoo / "manifest.json").write_text(json.dumps({"schema_version": 1, "models": {"tiny": entry}}))
    monkeypatch.setenv("RASP_BENCH_ZOO", str(zoo))
    monkeypatch.setattr(hub, "_hub_reachable", False)  # never touch the network in tests
    monkeypatch.setattr(hub, "_warned_fallback", False)
    return zoo


def lay_out_hf_cache(cache: Path, repo_id: str, revision: str, files: Path) -> Path:
    """Write a Hugging Face hub cache the way huggingface_hub does (blobs, snapshots/<rev>, refs/main)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        blob = repo / "blobs" / sha256_file(files / name)
        shutil.copyfile(files / name, blob)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def test_bundled_fallback_warns_once(zoo):
    with pytest.warns(HubFallbackWarning, match="bundled"):
        ref = load_reference("tiny")
    assert ref.source == "bundled" and ref.task_name == "bin_majority" and ref.revision is None
    assert ref.sha256 == ref.entry["sha256"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise
        load_reference("tiny")


def test_hf_cache_is_used_offline_in_process(zoo, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache = tmp_path / "hf" / "hub"
    snapshot = lay_out_hf_cache(cache, "rasp-bench-test/tiny", REVISION, zoo / "tiny")
    shutil.rmtree(zoo / "tiny")  # only the cache can provide it now
    ref = load_reference("tiny", cache_dir=str(cache))
    assert ref.source == "hub" and ref.revision == REVISION and Path(ref.path) == snapshot


def test_hf_cache_offline_through_the_environment(zoo, tmp_path):
    """HF_HOME + HF_HUB_OFFLINE=1 in a fresh process: huggingface_hub itself resolves the cache."""
    lay_out_hf_cache(tmp_path / "hf" / "hub", "rasp-bench-test/tiny", REVISION, zoo / "tiny")
    shutil.rmtree(zoo / "tiny")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "RASP_BENCH_ZOO": str(zoo)}
    code = "from bench.models.hub import load_reference; r = load_reference('tiny'); print(r.source, r.revision, r.path)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    source, revision, path = out.stdout.split()
    assert (source, revision) == ("hub", REVISION) and path.startswith(str(tmp_path / "hf" / "hub"))


def test_tampered_weights_are_refused(zoo):
    weights = zoo / "tiny" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_reference("tiny", prefer_bundled=True)


def test_missing_model_names_where_it_looked(zoo):
    shutil.rmtree(zoo / "tiny")
    with pytest.raises(ModelError, match=f"rasp-bench-test/tiny@{REVISION}.*{zoo / 'tiny'}"), pytest.warns(HubFallbackWarning):
        load_reference("tiny")


def test_unknown_id_lists_the_known_ones(zoo):
    with pytest.raises(ModelError, match="Did you mean 'tiny'.*Known ids: tiny"):
        load_reference("tinny")


def test_local_folder_with_task_from_config(tmp_path):
    tiny_model().save_pretrained(tmp_path / "m")
    ref = load_checkpoint(str(tmp_path / "m"))
    assert ref.source == "local" and ref.task_name == "bin_majority" and ref.entry is None


def test_local_folder_task_mismatch_and_missing_task(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "m")
    with pytest.raises(ModelError, match="vocab_size"):
        load_checkpoint(str(tmp_path / "m"), task="majority")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["rasp_bench"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="no task given"):
        load_checkpoint(str(tmp_path / "m"))
    assert load_checkpoint(str(tmp_path / "m"), task="bin_majority").task_name == "bin_majority"


def test_pickle_weights_are_refused(tmp_path):
    folder = tmp_path / "m"
    tiny_model().save_pretrained(folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="pickle weights are refused"):
        load_checkpoint(str(folder))


def test_config_that_is_not_gpt2_is_refused(tmp_path):
    folder = tmp_path / "m"
    tiny_model().save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(ModelError, match="model_type is 'bert'"):
        load_checkpoint(str(folder))


def test_unusable_spec_is_one_clear_error(zoo, tmp_path):
    with pytest.raises(ModelError, match="does not exist \\(no such folder\\)"):
        load_checkpoint(str(tmp_path / "nowhere" / "deeper"))


def test_a_file_is_not_a_checkpoint_folder(zoo, tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file, not a checkpoint folder"):
        load_checkpoint(str(tmp_path / "weights.bin"))


def test_misspelled_zoo_id_gets_a_suggestion(zoo):
    with pytest.raises(ModelError, match="Did you mean 'tiny'") as caught:
        load_checkpoint("tinyy")
    assert "is not a zoo model id" in str(caught.value)
