"""Hostile checkpoints: config.json and the weights' header are checked before any tensor is allocated.

Every refusal is a one-line ModelError naming the field (or tensor) and the bound;
``bench.evaluate`` prints it as ``error: ...`` and exits 2, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import struct
import time

import pytest
import torch
from safetensors.torch import save_file

import bench.models.checkpoint as checkpoint
from bench.data.task import get_task
from bench.models.checkpoint import MAX_PARAMETER_BYTES, ModelError, expected_shapes, parameter_count
from bench.models.config import ACTIVATIONS as _ACTIVATIONS
from bench.models.hub import load_checkpoint
from bench.models.model import GPT2, GPT2Config

TASK = "bin_majority"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A tiny valid checkpoint folder (2 layers, 2 heads, width 8) for the task ``bin_majority``."""
    task = get_task(TASK)
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=task.vocab_size, n_positions=task.n_positions, n_layer=2, n_head=2, n_embd=8,
                     rasp_bench={"task": TASK})
    folder = tmp_path_factory.mktemp("good") / "m"
    GPT2(cfg).save_pretrained(folder)
    return folder


@pytest.fixture
def copy(good, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(good, folder)
    return folder


def config_of(folder):
    return json.loads((folder / "config.json").read_text())


def set_config(folder, **changes):
    (folder / "config.json").write_text(json.dumps({**config_of(folder), **changes}))


@pytest.fixture
def no_allocation(monkeypatch):
    """Fail the test if a model is built (the refusal must come first)."""

    def refuse(self, cfg):
        raise AssertionError("a model was built before the checkpoint was refused")

    monkeypatch.setattr(GPT2, "__init__", refuse)


BAD_FIELDS = [
    ({"n_head": 0}, "n_head must be between 1 and 64, got 0"),
    ({"n_head": 3}, "n_embd=8 is not a multiple of n_head=3"),
    ({"n_embd": 16.0}, "n_embd must be an integer, got a float 16.0"),
    ({"n_embd": "16"}, "n_embd must be an integer, got a string '16'"),
    ({"n_embd": True}, "n_embd must be an integer, got a boolean True"),
    ({"n_embd": None}, "n_embd must be an integer, got null"),
    ({"n_layer": [2]}, "n_layer must be an integer, got a list"),
    ({"vocab_size": -1}, "vocab_size must be between 1 and 65536, got -1"),
    ({"n_positions": 10**12}, "n_positions must be between 1 and 8192, got 1000000000000"),
    ({"n_ctx": "303"}, "n_ctx must be an integer"),
    ({"n_inner": 0}, "n_inner must be between 1 and 16384"),
    ({"layer_norm_epsilon": "x"}, "layer_norm_epsilon must be a number, got a string 'x'"),
    ({"layer_norm_epsilon": 0}, r"layer_norm_epsilon must be a finite number in \(0, 1\]"),
    ({"layer_norm_epsilon": -1e-5}, "layer_norm_epsilon must be a finite number"),
    ({"attn_pdrop": 2}, r"attn_pdrop must be a finite number in \[0, 1\]"),
    ({"activation_function": ["gelu"]}, "activation_function a list is not supported"),
    ({"activation_function": "swish"}, "activation_function a string 'swish' is not supported"),
    ({"bos_token_id": -1}, "bos_token_id must be between 0 and"),
    ({"rasp_bench": "bin_majority"}, "rasp_bench must be a JSON object"),
    ({"rasp_bench": {"task": 5}}, "rasp_bench.task must be a task name, got 5"),
    ({"rasp_bench": {"task": "x\n" * 200}}, "rasp_bench.task must be a task name"),
    ({"n_embd": 20000, "n_layer": 10**6}, "n_embd must be between 1 and 4096, got 20000"),
    ({"n_layer": 10**6}, "n_layer must be between 1 and 64, got 1000000"),
    ({"vocab_size": 65536, "n_embd": 4096, "n_layer": 1},  # each field within its bound, the total is not
     r"over the limit of 512 MiB"),
    ({"vocab_size": 65536, "n_positions": 8192, "n_embd": 4096, "n_layer": 64, "n_head": 64},
     r"13,190,307,840 parameters \(50,317 MiB in float32\), over the limit of 512 MiB"),
]


@pytest.mark.parametrize("changes, message", BAD_FIELDS, ids=[str(c)[:40] for c, _ in BAD_FIELDS])
def test_bad_config_fields_are_refused_before_allocation(copy, no_allocation, changes, message):
    set_config(copy, **changes)
    started = time.perf_counter()
    with pytest.raises(ModelError, match=message) as info:
        load_checkpoint(str(copy))
    assert time.perf_counter() - started < 1.0
    assert "\n" not in str(info.value) and str(copy / "config.json") in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "must be a JSON object, got a list"),
    ("7", "must be a JSON object, got 7"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ('{"n_embd": ' + "9" * 5000 + "}", "not valid JSON"),
    ("{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (" " * (checkpoint.MAX_CONFIG_BYTES + 1), "over the limit of 1,048,576 bytes"),
])
def test_malformed_config_files_are_one_line_errors(copy, no_allocation, text, message):
    path = copy / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ModelError, match=message) as info:
        load_checkpoint(str(copy))
    assert "\n" not in str(info.value)


def test_config_constructed_in_python_is_checked_too():
    with pytest.raises(ModelError, match="GPT2Config: n_embd must be an integer, got a float 16.0"):
        GPT2Config(vocab_size=10, n_positions=10, n_embd=16.0)
    with pytest.raises(ModelError, match="n_head must be between 1 and 64, got 0"):
        GPT2Config(vocab_size=10, n_positions=10, n_head=0)
    cfg = GPT2Config(vocab_size=10, n_positions=10, layer_norm_epsilon=1)  # an int epsilon is a number
    assert cfg.layer_norm_epsilon == 1.0 and isinstance(cfg.layer_norm_epsilon, float)


def test_limits_fit_the_code_and_the_zoo_with_a_wide_margin():
    assert set(_ACTIVATIONS) == set(checkpoint.ACTIVATION_FUNCTIONS)
    # GPT-2 small (124M parameters) still fits; the largest zoo model is about 4000 times smaller.
    assert 4 * parameter_count(50257, 1024, 768, 12) <= MAX_PARAMETER_BYTES
    assert 4 * parameter_count(154, 303, 64, 2) * 1000 <= MAX_PARAMETER_BYTES


def test_expected_shapes_and_parameter_count_match_the_model():
    cfg = GPT2Config(vocab_size=11, n_positions=7, n_embd=12, n_layer=3, n_head=3, n_inner=20)
    state = GPT2(cfg).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes(11, 7, 12, 3, 20) == cfg.parameter_shapes
    assert sum(v.numel() for v in state.values()) == parameter_count(11, 7, 12, 3, 20)


# ----- the weights -----------------------------------------------------------------------


def tensors_of(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_weights_of_another_shape_are_refused_before_allocation(copy, no_allocation):
    set_config(copy, n_embd=16)  # the weights are 8 wide
    with pytest.raises(ModelError, match=r"transformer\.\S+ has shape \((\d+, )?24,?\), config needs \((\d+, )?48,?\)"):
        load_checkpoint(str(copy))


def test_weights_with_missing_or_extra_tensors_are_refused(copy, no_allocation):
    set_config(copy, n_layer=3)
    with pytest.raises(ModelError, match=r"missing \['transformer\.h\.2\."):
        load_checkpoint(str(copy))
    set_config(copy, n_layer=1)
    with pytest.raises(ModelError, match=r"unexpected \['transformer\.h\.1\."):
        load_checkpoint(str(copy))


@pytest.mark.parametrize("dtype, name", [(torch.int32, "I32"), (torch.float64, "F64"), (torch.bool, "BOOL")])
def test_weights_of_a_non_float_dtype_are_refused(copy, no_allocation, dtype, name):
    tensors = tensors_of(copy)
    tensors["transformer.wpe.weight"] = tensors["transformer.wpe.weight"].to(dtype)
    save_file(tensors, str(copy / "model.safetensors"))
    with pytest.raises(ModelError, match=f"transformer.wpe.weight has dtype {name}; supported: F32, F16, BF16"):
        load_checkpoint(str(copy))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_load(copy, dtype):
    save_file({k: v.to(dtype) for k, v in tensors_of(copy).items()}, str(copy / "model.safetensors"))
    ref = load_checkpoint(str(copy))
    assert ref.model.transformer.wte.weight.dtype == torch.float32


def test_old_exporter_layouts_still_load(copy):
    tensors = {"model." + k: v for k, v in tensors_of(copy).items()}
    n = config_of(copy)["n_positions"]
    tensors["model.transformer.h.0.attn.bias"] = torch.ones(1, 1, n, n, dtype=torch.uint8).tril()
    tensors["model.lm_head.weight"] = tensors["model.transformer.wte.weight"].clone()
    save_file(tensors, str(copy / "model.safetensors"))
    assert load_checkpoint(str(copy)).task_name == TASK


def write_raw_safetensors(path, header: dict | bytes, data: bytes = b"", declared: int | None = None):
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(body) if declared is None else declared) + body + data)


@pytest.mark.parametrize("header, declared, message", [
    (b"{}", 2**62, "header of 4,611,686,018,427,387,904 bytes"),
    (b"[1]", None, "header is not a JSON object"),
    (b"\xff{", None, "header is not valid JSON"),
    ({"transformer.wte.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4]}}, None,
     "the tensors declared take over 1024 MiB"),
    ({"transformer.wte.weight": {"dtype": "F32", "shape": [2, "2"], "data_offsets": [0, 16]}}, None, "malformed shape"),
    ({"transformer.wte.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, None,
     "data_offsets .* do not fit"),
    ({"transformer.wte.weight": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, None,
     "has dtype a string 'F8_E4M3'"),
    ({"transformer.wte.weight": "F32"}, None, "has no dtype/shape/data_offsets"),
])
def test_malformed_weight_headers_are_refused_without_reading_tensors(copy, no_allocation, header, declared, message):
    write_raw_safetensors(copy / "model.safetensors", header, declared=declared)
    with pytest.raises(ModelError, match=message) as info:
        load_checkpoint(str(copy))
    assert "\n" not in str(info.value)


def test_a_truncated_weights_file_is_refused(copy):
    path = copy / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelError, match="do not fit its shape or the file"):
        load_checkpoint(str(copy))
    path.write_bytes(b"abc")
    with pytest.raises(ModelError, match="shorter than 8 bytes"):
        load_checkpoint(str(copy))


def test_train_path_load_weights_checks_the_header_too(good, copy):
    model = GPT2.from_pretrained(good)
    tensors = tensors_of(copy)
    tensors["transformer.wpe.weight"] = tensors["transformer.wpe.weight"][:, :4].contiguous()
    save_file(tensors, str(copy / "model.safetensors"))
    with pytest.raises(ModelError, match=r"transformer.wpe.weight has shape \(\d+, 4\), config needs \(\d+, 8\)"):
        model.load_weights(copy / "model.safetensors")


# ----- through the command line -----------------------------------------------------------


def test_evaluate_prints_one_line_error_and_exits_2(copy, capsys):
    from bench.evaluate import main

    set_config(copy, n_head=0)
    assert main(["oracle", "--models", str(copy), "--task", TASK, "--out", str(copy.parent / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "n_head must be between 1 and 64, got 0" in err
    assert not (copy.parent / "out").exists()
