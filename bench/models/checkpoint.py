"""Checkpoint file names, :class:`ModelError`, and the checks a checkpoint passes before anything is allocated.

Importable without torch: :mod:`bench.models.model` re-exports the names;
:mod:`bench.models.hub` uses them so that listing and error paths do not pay for
importing torch.

A checkpoint may come from a stranger (a pull request, a Hub repo), so
``config.json`` and the header of ``model.safetensors`` are checked here, in
plain Python, before a single tensor exists: every field's type and range
(:func:`check_config`), the memory its parameters need, and the names, shapes
and dtypes of the stored tensors against what the config implies
(:func:`check_weights_header`). Every refusal is a one-line :class:`ModelError`
naming the file, the field and the bound.

The limits are far above every model of the zoo (the largest has
``vocab_size`` 154, ``n_positions`` 303, ``n_embd`` 64, ``n_layer`` 2,
``n_head`` 4, about 130k parameters, 0.5 MB) and above GPT-2 small (vocab 50257,
1024 positions, width 768, 12 layers, 12 heads: 124M parameters, 475 MiB in
float32), yet small enough that a model passing them loads within about 1 GiB
of memory and a second or two.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import struct
from pathlib import Path

from bench.errors import BenchError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class ModelError(BenchError):
    """A checkpoint or an input the model cannot use; the message is one line."""


# ----- limits ----------------------------------------------------------------------------

#: Inclusive upper bounds of the integer fields of ``config.json`` (the lower bound is 1).
CONFIG_INT_LIMITS = {
    "vocab_size": 65_536,
    "n_positions": 8_192,
    "n_ctx": 8_192,
    "n_embd": 4_096,
    "n_layer": 64,
    "n_head": 64,
    "n_inner": 16_384,
}
#: Inclusive upper bound of ``bos_token_id`` and ``eos_token_id``.
MAX_TOKEN_ID = 2**31 - 1
#: The most memory the parameters may take in float32 (the model as it runs): 512 MiB, 134M parameters.
MAX_PARAMETER_BYTES = 512 * 2**20
#: The most bytes of tensor data ``model.safetensors`` may declare (parameters, a tied ``lm_head``
#: copy, old causal-mask buffers).
MAX_WEIGHTS_BYTES = 2 * MAX_PARAMETER_BYTES
#: The largest ``config.json`` read (the zoo's are about 2 KB).
MAX_CONFIG_BYTES = 1 * 2**20
#: The largest JSON header of ``model.safetensors`` (the zoo's are under 4 KB).
MAX_WEIGHTS_HEADER_BYTES = 16 * 2**20
#: ``layer_norm_epsilon`` lies in (0, this].
MAX_LAYER_NORM_EPSILON = 1.0
#: Activation functions :mod:`bench.models.model` implements.
ACTIVATION_FUNCTIONS = ("gelu_new", "gelu_pytorch_tanh", "gelu", "relu")

#: safetensors dtypes: bytes per element. Parameters must be one of ``PARAMETER_DTYPES``.
SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
PARAMETER_DTYPES = ("F32", "F16", "BF16")
#: Tensors of older GPT-2 files that carry no learned values (causal-mask buffers); ignored.
IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


# ----- config.json -----------------------------------------------------------------------


def _show(value) -> str:
    """A short description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {bool: "a boolean", str: "a string", float: "a float"}.get(type(value))
    return f"{kind} {text}" if kind else text


def _integer(values: dict, key: str, source: str, *, low: int = 1, high: int | None = None) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ModelError(f"{source}: {key} must be an integer, got {_show(value)}")
    value = int(value)
    high = CONFIG_INT_LIMITS.get(key) if high is None else high
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        shown = str(value) if value.bit_length() <= 96 else f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        raise ModelError(f"{source}: {key} must be {bound}, got {shown}")
    return value


def _number(values: dict, key: str, source: str, *, low: float, high: float, low_open: bool) -> float:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"{source}: {key} must be a number, got {_show(value)}")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ModelError(f"{source}: {key} must be a finite number in {interval}, got {_show(value)}")
    return value


def parameter_count(vocab_size: int, n_positions: int, n_embd: int, n_layer: int, n_inner: int | None = None) -> int:
    """The number of parameters of the GPT-2 :mod:`bench.models.model` builds (embeddings tied)."""
    d, m = n_embd, n_inner or 4 * n_embd
    per_layer = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d)
    return (vocab_size + n_positions) * d + n_layer * per_layer + 2 * d


def check_config(values, source: str = CONFIG_NAME) -> dict:
    """The fields of a GPT-2 config, type- and range-checked, ints and floats normalized.

    ``values`` maps field names to values (those of ``GPT2Config``; ``n_ctx``
    too if present); fields absent from it are not checked. Raises a one-line
    :class:`ModelError` naming the field and the bound.
    """
    if not isinstance(values, dict):
        raise ModelError(f"{source}: must be a JSON object, got {_show(values)}")
    out = dict(values)
    for key in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
        if key in out:
            out[key] = _integer(out, key, source)
    for key in ("n_ctx", "n_inner"):
        if out.get(key) is not None:
            out[key] = _integer(out, key, source)
    if "n_embd" in out and "n_head" in out and out["n_embd"] % out["n_head"]:
        raise ModelError(f"{source}: n_embd={out['n_embd']} is not a multiple of n_head={out['n_head']}")
    if "activation_function" in out:
        act = out["activation_function"]
        if not isinstance(act, str) or act not in ACTIVATION_FUNCTIONS:
            raise ModelError(
                f"{source}: activation_function {_show(act)} is not supported (supported: {', '.join(ACTIVATION_FUNCTIONS)})"
            )
    if "layer_norm_epsilon" in out:
        out["layer_norm_epsilon"] = _number(out, "layer_norm_epsilon", source, low=0.0, high=MAX_LAYER_NORM_EPSILON,
                                            low_open=True)
    for key in ("attn_pdrop", "resid_pdrop", "embd_pdrop"):
        if key in out:
            out[key] = _number(out, key, source, low=0.0, high=1.0, low_open=False)
    for key in ("bos_token_id", "eos_token_id"):
        # Not used by the model; Hugging Face's defaults (50256) often outlive a smaller vocabulary,
        # so only the type and a loose range are checked.
        if out.get(key) is not None:
            out[key] = _integer(out, key, source, low=0, high=MAX_TOKEN_ID)
    if "rasp_bench" in out:
        if not isinstance(out["rasp_bench"], dict):
            raise ModelError(f"{source}: rasp_bench must be a JSON object, got {_show(out['rasp_bench'])}")
        task = out["rasp_bench"].get("task")
        if task is not None and not (isinstance(task, str) and len(task) <= 100 and task.isprintable()):
            raise ModelError(f"{source}: rasp_bench.task must be a task name, got {_show(task)}")
    if all(k in out for k in ("vocab_size", "n_positions", "n_embd", "n_layer")):
        n = parameter_count(out["vocab_size"], out["n_positions"], out["n_embd"], out["n_layer"], out.get("n_inner"))
        if 4 * n > MAX_PARAMETER_BYTES:
            raise ModelError(
                f"{source}: the model would have {n:,} parameters ({4 * n / 2**20:,.0f} MiB in float32), "
                f"over the limit of {MAX_PARAMETER_BYTES // 2**20} MiB"
            )
    return out


def read_json_bounded(path: Path, limit: int = MAX_CONFIG_BYTES):
    """The JSON value in ``path``, refusing files over ``limit`` bytes before reading them."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise ModelError(f"{path}: {size:,} bytes, over the limit of {limit:,} bytes for this file")
            data = handle.read(limit + 1)
    except OSError as err:
        raise ModelError(f"{path}: cannot be read ({err.strerror or err})") from None
    if len(data) > limit:
        raise ModelError(f"{path}: over the limit of {limit:,} bytes for this file")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ModelError(f"{path}: not valid JSON (not UTF-8: {err.reason})") from None
    except RecursionError:
        raise ModelError(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, and integers too long to convert
        raise ModelError(f"{path}: not valid JSON ({str(err).splitlines()[0][:200]})") from None


# ----- model.safetensors ---------------------------------------------------------------


def expected_shapes(vocab_size: int, n_positions: int, n_embd: int, n_layer: int, n_inner: int | None = None) -> dict:
    """``{name: shape}`` of every parameter of ``GPT2.state_dict()`` for these sizes."""
    d, m = n_embd, n_inner or 4 * n_embd
    shapes = {"transformer.wte.weight": (vocab_size, d), "transformer.wpe.weight": (n_positions, d)}
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        shapes.update({
            p + "ln_1.weight": (d,), p + "ln_1.bias": (d,),
            p + "attn.c_attn.weight": (d, 3 * d), p + "attn.c_attn.bias": (3 * d,),
            p + "attn.c_proj.weight": (d, d), p + "attn.c_proj.bias": (d,),
            p + "ln_2.weight": (d,), p + "ln_2.bias": (d,),
            p + "mlp.c_fc.weight": (d, m), p + "mlp.c_fc.bias": (m,),
            p + "mlp.c_proj.weight": (m, d), p + "mlp.c_proj.bias": (d,),
        })
    shapes.update({"transformer.ln_f.weight": (d,), "transformer.ln_f.bias": (d,)})
    return shapes


def read_weights_header(path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from the header of a safetensors file, without reading its tensors.

    Refuses a header or a declared data size over the limits, unknown dtypes,
    malformed shapes and offsets that point past the end of the file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelError(f"{path}: not a safetensors file (shorter than 8 bytes)")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_WEIGHTS_HEADER_BYTES or n > size - 8:
                raise ModelError(
                    f"{path}: not a readable safetensors file (header of {n:,} bytes, "
                    f"file of {size:,}, limit {MAX_WEIGHTS_HEADER_BYTES:,})"
                )
            raw = handle.read(n)
    except OSError as err:
        raise ModelError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{path}: not a readable safetensors file (its header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: not a readable safetensors file (its header is not a JSON object)")
    data_size, total, out = size - 8 - n, 0, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shown = name if len(name) <= 80 else name[:77] + "..."
        if not isinstance(info, dict):
            raise ModelError(f"{path}: tensor {shown!r} has no dtype/shape/data_offsets")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
            raise ModelError(f"{path}: tensor {shown!r} has dtype {_show(dtype)}; supported: {', '.join(PARAMETER_DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_WEIGHTS_BYTES for s in shape)):
            raise ModelError(f"{path}: tensor {shown!r} has a malformed shape {_show(shape)}")
        nbytes = math.prod(shape) * SAFETENSORS_DTYPES[dtype]
        total += nbytes
        if total > MAX_WEIGHTS_BYTES:
            raise ModelError(f"{path}: the tensors declared take over {MAX_WEIGHTS_BYTES // 2**20} MiB, the limit")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size or offsets[1] - offsets[0] != nbytes):
            raise ModelError(f"{path}: tensor {shown!r} has data_offsets {_show(offsets)} that do not fit its shape or the file")
        out[name] = (dtype, tuple(shape))
    return out


def check_weights_header(path, shapes: dict) -> None:
    """Refuse a safetensors file whose parameters do not have exactly ``shapes`` (names as in
    ``GPT2.state_dict()``) in a float dtype; reads only the header."""
    tensors = {k.removeprefix("model."): v for k, v in read_weights_header(path).items()}  # some exporters prefix names
    lm_head = tensors.pop("lm_head.weight", None)
    wte_shape = shapes.get("transformer.wte.weight")
    if lm_head is not None and lm_head[1] != wte_shape:
        raise ModelError(f"{path}: lm_head.weight has shape {lm_head[1]}, config needs {wte_shape} (tied to transformer.wte.weight)")
    tensors = {k: v for k, v in tensors.items() if not k.endswith(IGNORED_SUFFIXES)}
    missing, extra = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
    if missing or extra:
        raise ModelError(f"{path}: weights do not match the config (missing {missing[:4]}, unexpected {[e[:80] for e in extra[:4]]})")
    for name, (dtype, shape) in tensors.items():
        if dtype not in PARAMETER_DTYPES:
            raise ModelError(f"{path}: {name} has dtype {dtype}; supported: {', '.join(PARAMETER_DTYPES)}")
        if shape != tuple(shapes[name]):
            raise ModelError(f"{path}: {name} has shape {shape}, config needs {tuple(shapes[name])}")
    if lm_head is not None and lm_head[0] not in PARAMETER_DTYPES:
        raise ModelError(f"{path}: lm_head.weight has dtype {lm_head[0]}; supported: {', '.join(PARAMETER_DTYPES)}")
