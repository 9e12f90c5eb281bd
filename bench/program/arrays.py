"""Program files with their big arrays in a ``safetensors`` sidecar.

:func:`save` writes a program as JSON (structure and small literals) plus,
when it has arrays of more than :data:`INLINE_MAX` entries (score tables, MLP
weights, readout tables, long vec constants), a sidecar file beside it: same
stem, ``.safetensors``. Each such array is replaced in the JSON by a reference
``{"array": "<node id>.<path>", "shape": [...], "dtype": "float32"}``, and the
top level names the sidecar and its sha256::

    "sidecar": {"file": "addition.safetensors", "sha256": "9f2c..."}

so the sha256 of the JSON text covers both files. An array is stored as
float32 when that round trip is exact (or always, with ``round_float32``,
which changes the values), else as float64. Nothing is pickled.

:func:`load` (and :func:`from_bytes`) treat both files as hostile: the sidecar
name is a plain file name resolving into the JSON's own folder, its size is
bounded, its header (read first, bounded) must list exactly the referenced
tensors with the declared shapes and dtypes, and its sha256 must be the
recorded one; only then are the tensors decoded. Every problem is a one-line
:class:`ProgramError` naming the file and the array. JSON files with inline
arrays (no ``sidecar``) load as before.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np
import safetensors.numpy as st

from .errors import MAX_JSON_CHARS, MAX_TABLE_ENTRIES, MAX_TOTAL_PARAMS, ProgramError

INLINE_MAX = 64  # arrays with more entries than this go to the sidecar
SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 1 << 24  # the sidecar's JSON header
MAX_SIDECAR_BYTES = 8 + MAX_HEADER_BYTES + 8 * MAX_TOTAL_PARAMS
DTYPES = {"float32": ("F32", np.float32), "float64": ("F64", np.float64)}
#: Where each op keeps its float arrays ("*": every item of a list).
ARRAY_PATHS = {
    "constant": (("value",),),
    "soft_select": (("terms", "*", "scores"),),
    "mlp": (("layers", "*", "weight"), ("layers", "*", "bias")),
    "readout": (("terms", "*", "table"), ("bias",)),
}
_NAME_RE = re.compile(r"[A-Za-z0-9_.]{1,200}\Z")
_SHA_RE = re.compile(r"[0-9a-f]{64}\Z")
_REF_KEYS = {"array", "shape", "dtype"}


def _slots(entry, path=None, prefix=""):
    """``(container, key, name)`` for every array field of one node's JSON entry that is present."""
    if path is None:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            return
        for path in ARRAY_PATHS.get(entry.get("op"), ()):
            yield from _slots(entry, path, entry["id"])
        return
    head, rest = path[0], path[1:]
    if head == "*":
        keys = range(len(entry)) if isinstance(entry, list) else ()
    else:
        keys = (head,) if isinstance(entry, dict) and head in entry else ()
    for key in keys:
        if rest:
            yield from _slots(entry[key], rest, f"{prefix}.{key}")
        else:
            yield entry, key, f"{prefix}.{key}"


def _narrow(arr: np.ndarray, round_float32: bool) -> np.ndarray:
    single = arr.astype(np.float32)
    return single if round_float32 or np.array_equal(single.astype(np.float64), arr) else arr


def split_arrays(obj: dict, *, round_float32: bool = False, inline_max: int = INLINE_MAX) -> dict:
    """Replace the big arrays of a program's JSON object by references (in place); the tensors by name."""
    tensors = {}
    for entry in obj["nodes"]:
        for container, key, name in list(_slots(entry)):
            arr = np.asarray(container[key], dtype=np.float64)
            if arr.size <= inline_max or arr.ndim not in (1, 2):
                continue
            arr = np.ascontiguousarray(_narrow(arr, round_float32))
            tensors[name] = arr
            container[key] = {"array": name, "shape": list(arr.shape), "dtype": arr.dtype.name}
    return tensors


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file through a temporary file in its folder and ``os.replace``; the file gets the
    permissions a plain ``open(path, "w")`` would give it (``mkstemp`` makes it private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(program, path, *, round_float32: bool = False) -> str:
    """Write the sidecar (if any big array), then the JSON; the sha256 of the JSON bytes."""
    path = Path(path)
    obj = program.to_json()
    tensors = split_arrays(obj, round_float32=round_float32)
    if tensors:
        blob = st.save(tensors)
        name = path.stem + SUFFIX
        obj["sidecar"] = {"file": name, "sha256": hashlib.sha256(blob).hexdigest()}
        write_bytes_atomic(path.parent / name, blob)
    text = (json.dumps(obj, indent=1) + "\n").encode("utf-8")
    write_bytes_atomic(path, text)
    return hashlib.sha256(text).hexdigest()


def open_regular(path, shown: str):
    """``path`` opened for reading, refused unless it is a regular file (a FIFO or a device never blocks a read).

    Opened without blocking, then checked with ``fstat`` on the open file: what is read is what was checked.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProgramError(f"{shown}: cannot read ({reason})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ProgramError(f"{shown}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load(path):
    """A validated program from a JSON file and its sidecar; raises only :class:`ProgramError`."""
    path = Path(path)
    try:
        with open_regular(path, path.name) as f:
            raw = f.read(MAX_JSON_CHARS + 1)
    except OSError as exc:
        raise ProgramError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    return from_bytes(raw, path.parent, path.name)


def from_bytes(raw: bytes, folder, shown: str = "program"):
    """A program from the JSON file's bytes, its sidecar (if named) read from ``folder``."""
    from .serialize import from_json, loads

    obj = loads(raw)
    if isinstance(obj, dict):
        refs = _collect_refs(obj, shown)
        if "sidecar" in obj:
            obj = dict(obj)
            side = obj.pop("sidecar")
            arrays = read_sidecar(folder, side, refs, shown)
            for container, key, name, _, _ in refs:
                container[key] = arrays[name]
        elif refs:
            raise ProgramError(f"{shown}: array {refs[0][2]!r} is in a sidecar, but no sidecar file is named")
    return from_json(obj)


def _collect_refs(obj: dict, shown: str) -> list:
    """``(container, key, name, shape, dtype)`` of every array reference, checked; names are unique."""
    refs, names, total = [], set(), 0
    nodes = obj.get("nodes")
    for entry in nodes if isinstance(nodes, list) else ():
        for container, key, slot in list(_slots(entry)):
            ref = container[key]
            if not isinstance(ref, dict):
                continue
            name, shape, dtype = _check_ref(ref, f"{shown}: {slot}")
            if name in names:
                raise ProgramError(f"{shown}: array {name!r} is referenced twice")
            names.add(name)
            total += math.prod(shape)
            if total > MAX_TOTAL_PARAMS:
                raise ProgramError(f"{shown}: the sidecar arrays have more than {MAX_TOTAL_PARAMS} entries")
            refs.append((container, key, name, shape, dtype))
    return refs


def _check_ref(ref: dict, where: str) -> tuple[str, tuple, str]:
    if set(ref) != _REF_KEYS:
        raise ProgramError(f"{where}: an array reference has exactly the fields 'array', 'shape', 'dtype'")
    name, shape, dtype = ref["array"], ref["shape"], ref["dtype"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ProgramError(f"{where}: 'array' must be a name of letters, digits, '_' and '.' (at most 200)")
    ok = isinstance(shape, list) and 1 <= len(shape) <= 2 and all(
        type(n) is int and 0 <= n <= MAX_TABLE_ENTRIES for n in shape)
    if not ok or math.prod(shape) > MAX_TABLE_ENTRIES:
        raise ProgramError(f"{where}: array {name!r} needs a 'shape' of 1 or 2 sizes, at most {MAX_TABLE_ENTRIES} entries")
    if dtype not in DTYPES:
        raise ProgramError(f"{where}: array {name!r} has dtype {str(dtype)[:20]!r} (known: {', '.join(DTYPES)})")
    return name, tuple(shape), dtype


def _sidecar_path(folder, side, shown: str) -> tuple[Path, str]:
    """The sidecar's path and recorded sha256, checked: a plain file name resolving into ``folder``."""
    if not isinstance(side, dict) or set(side) != {"file", "sha256"}:
        raise ProgramError(f"{shown}: field 'sidecar' must be an object with exactly 'file' and 'sha256'")
    name, digest = side["file"], side["sha256"]
    if (not isinstance(name, str) or not name.endswith(SUFFIX) or len(name) > 255 or name.startswith(".")
            or any(c in name for c in "/\\\0:") or not name.isprintable()):
        raise ProgramError(f"{shown}: sidecar {str(name)[:60]!r} is not a plain '*{SUFFIX}' file name")
    if not isinstance(digest, str) or not _SHA_RE.match(digest):
        raise ProgramError(f"{shown}: the sidecar's 'sha256' must be 64 lowercase hex digits")
    if folder is None:
        raise ProgramError(f"{shown}: has sidecar {name}, but no folder to read it from (use Program.load(path))")
    path = Path(folder) / name
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(folder):
        raise ProgramError(f"{shown}: sidecar {name} is a link out of the program's folder")
    if not path.exists():
        raise ProgramError(f"{shown}: sidecar {name} does not exist")
    return path, digest


def read_sidecar(folder, side, refs: list, shown: str) -> dict:
    """The referenced arrays, from a sidecar checked before its data is decoded."""
    path, digest = _sidecar_path(folder, side, shown)
    where = f"{shown}: sidecar {path.name}"
    declared = {name: (shape, dtype) for _, _, name, shape, dtype in refs}
    try:
        with open_regular(path, where) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_SIDECAR_BYTES:
                raise ProgramError(f"{where} is larger than {MAX_SIDECAR_BYTES} bytes")
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise ProgramError(f"{where} has no valid safetensors header")
            header_bytes = f.read(length)
            _check_header(_parse_header(header_bytes, where), declared, size - 8 - length, where)
            data = head + header_bytes + f.read(size - 8 - length + 1)
    except OSError as exc:
        raise ProgramError(f"{where}: cannot read ({exc.strerror or exc})") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise ProgramError(f"{where} does not have the sha256 the program records (altered or replaced)")
    try:
        tensors = st.load(data)
    except Exception as exc:  # noqa: BLE001 -- the decoder's own errors on a hostile file
        raise ProgramError(f"{where} does not decode ({str(exc)[:80]})") from None
    for name, (shape, dtype) in declared.items():
        arr = tensors.get(name)
        if arr is None or arr.shape != shape or arr.dtype != DTYPES[dtype][1]:
            raise ProgramError(f"{where}: array {name!r} does not decode to shape {list(shape)} {dtype}")
    return tensors


def _parse_header(raw: bytes, where: str) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=lambda c: None)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise ProgramError(f"{where}: the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProgramError(f"{where}: the header is not a JSON object")
    return header


def _check_header(header: dict, declared: dict, data_bytes: int, where: str) -> None:
    """The header lists exactly the declared tensors, with their shapes, dtypes and in-bounds offsets."""
    extra = sorted(str(k)[:60] for k in header if k not in declared)
    if extra:
        raise ProgramError(f"{where}: array {extra[0]!r} is in the sidecar but not in the program")
    for name, (shape, dtype) in declared.items():
        entry = header.get(name)
        if entry is None:
            raise ProgramError(f"{where}: array {name!r} is missing from the sidecar")
        code, np_dtype = DTYPES[dtype]
        if not isinstance(entry, dict) or entry.get("dtype") != code or entry.get("shape") != list(shape):
            got = f"{entry.get('dtype')} {entry.get('shape')}"[:60] if isinstance(entry, dict) else "no entry"
            raise ProgramError(f"{where}: array {name!r} is {got} in the sidecar, the program declares "
                               f"{code} {list(shape)}")
        offsets = entry.get("data_offsets")
        nbytes = math.prod(shape) * np.dtype(np_dtype).itemsize
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or offsets[1] - offsets[0] != nbytes or not 0 <= offsets[0] <= offsets[1] <= data_bytes):
            raise ProgramError(f"{where}: array {name!r} has bad data offsets")
