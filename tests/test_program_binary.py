"""Program files with a safetensors sidecar (bench.program.arrays): round trip, old files, tampering."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as st

import bench.program as rasp
from bench.program import Basis, Program, ProgramError
from bench.program.arrays import INLINE_MAX, from_bytes

V, N = 12, 16
tokens, indices = rasp.tokens, rasp.indices


def big_program() -> Program:
    rng = np.random.default_rng(0)
    soft = rasp.soft_select(rasp.score(tokens, tokens, rng.normal(size=(V, V))),
                            rasp.key_score(indices, rng.normal(size=N)))
    hist = rasp.aggregate(soft, tokens, numerical=True)
    w1 = rng.normal(size=(V, 16)).astype(np.float32)  # float32-exact: stored as float32
    net = rasp.mlp(hist, [(w1, np.zeros(16)), (rng.normal(size=(16, V)), rng.normal(size=V))], basis=Basis("h", V))
    wide = rasp.constant(rng.normal(size=80), basis=Basis("wide", 80))
    logits = rasp.readout((tokens, rng.normal(size=(V, V))), (net, np.eye(V)), (wide, rng.normal(size=(80, V))),
                          bias=np.zeros(V))
    return Program(logits, vocab_size=V, kind="token", n_positions=N, name="big")


def saved(tmp_path, program=None, **kwargs):
    path = tmp_path / "big.json"
    (program or big_program()).save(path, **kwargs)
    return path, json.loads(path.read_text())


def refs(obj) -> dict:
    """Array name -> its reference in the JSON."""
    out = {}

    def walk(value):
        if isinstance(value, dict) and "array" in value:
            out[value["array"]] = value
        elif isinstance(value, (dict, list)):
            for child in value.values() if isinstance(value, dict) else value:
                walk(child)

    walk(obj["nodes"])
    return out


def test_round_trip_keeps_structure_dtypes_and_values(tmp_path):
    program = big_program()
    path = tmp_path / "big.json"
    digest = program.save(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    obj = json.loads(path.read_text())
    sidecar = tmp_path / "big.safetensors"
    assert obj["sidecar"] == {"file": "big.safetensors", "sha256": hashlib.sha256(sidecar.read_bytes()).hexdigest()}
    by_name = refs(obj)
    dtypes = {name: ref["dtype"] for name, ref in by_name.items()}
    assert all(np.prod(ref["shape"]) > INLINE_MAX for ref in by_name.values())
    assert "float32" in dtypes.values() and "float64" in dtypes.values()
    assert sorted(st.load(sidecar.read_bytes())) == sorted(by_name)
    again = Program.load(path)
    assert again == program and again.to_json() == program.to_json()  # values exact
    assert again.save(path) == digest  # saving is deterministic


def test_float32_where_exact_and_on_request(tmp_path):
    _, obj = saved(tmp_path)
    by_name = refs(obj)
    mlp = next(n["id"] for n in obj["nodes"] if n["op"] == "mlp")
    assert by_name[f"{mlp}.layers.0.weight"]["dtype"] == "float32"
    assert by_name[f"{mlp}.layers.1.weight"]["dtype"] == "float64"
    _, rounded = saved(tmp_path, round_float32=True)
    assert {r["dtype"] for r in refs(rounded).values()} == {"float32"}


def test_small_arrays_stay_inline_and_small_programs_have_no_sidecar(tmp_path):
    _, obj = saved(tmp_path)
    soft = next(n for n in obj["nodes"] if n["op"] == "soft_select")
    assert isinstance(soft["terms"][1]["scores"], list)  # 16 entries: inline
    small = Program(rasp.map(tokens, "x", basis="tokens"), vocab_size=V, kind="token", n_positions=N)
    path = tmp_path / "small.json"
    small.save(path)
    assert "sidecar" not in json.loads(path.read_text()) and not (tmp_path / "small.safetensors").exists()
    assert Program.load(path) == small


def test_old_all_json_files_and_strings_still_load(tmp_path):
    program = big_program()
    path = tmp_path / "old.json"
    path.write_text(program.dumps(indent=1) + "\n")
    assert Program.load(path) == program
    assert Program.from_json(program.dumps()) == program
    assert '"array"' not in program.dumps()


def test_json_text_naming_a_sidecar_is_refused_without_its_folder(tmp_path):
    path, _ = saved(tmp_path)
    with pytest.raises(ProgramError, match="Program.load"):
        Program.from_json(path.read_text())
    with pytest.raises(ProgramError, match="no folder"):
        from_bytes(path.read_bytes(), None, "big.json")


def test_saved_json_is_much_smaller_than_the_old_json(tmp_path):
    program = big_program()
    path, _ = saved(tmp_path, program)
    old = len((program.dumps(indent=1) + "\n").encode())
    assert path.stat().st_size * 3 < old
    assert path.stat().st_size + (tmp_path / "big.safetensors").stat().st_size < old


def test_saved_and_loaded_programs_predict_the_same(tmp_path):
    program = big_program()
    path, _ = saved(tmp_path, program)
    ids = np.random.default_rng(1).integers(0, V, size=(40, N))
    lengths = np.random.default_rng(2).integers(1, N + 1, size=40)
    before = rasp.run_program(program, (ids, lengths))
    np.testing.assert_array_equal(rasp.run_program(Program.load(path), (ids, lengths)), before)


# ----- tampering -----------------------------------------------------------------------


def resave_sidecar(path, tensors: dict, name: str = "big.safetensors") -> None:
    """Write a new sidecar and record its sha256 in the JSON, as a tamperer who edits both would."""
    blob = st.save(tensors)
    (path.parent / name).write_bytes(blob)
    obj = json.loads(path.read_text())
    obj["sidecar"]["sha256"] = hashlib.sha256(blob).hexdigest()
    path.write_text(json.dumps(obj))


def tensors_of(path) -> dict:
    return st.load((path.parent / "big.safetensors").read_bytes())


def refused(path, *words) -> str:
    with pytest.raises(ProgramError) as info:
        Program.load(path)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_altered_sidecar_is_refused(tmp_path):
    path, _ = saved(tmp_path)
    sidecar = tmp_path / "big.safetensors"
    data = bytearray(sidecar.read_bytes())
    data[-1] ^= 1
    sidecar.write_bytes(bytes(data))
    refused(path, "big.safetensors", "sha256")


def test_missing_sidecar_is_refused(tmp_path):
    path, _ = saved(tmp_path)
    (tmp_path / "big.safetensors").unlink()
    refused(path, "big.safetensors", "does not exist")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_sidecar_or_program_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    path, _ = saved(tmp_path)
    sidecar = tmp_path / "big.safetensors"
    sidecar.unlink()
    os.mkfifo(sidecar)  # opening it for reading would wait for a writer forever
    refused(path, "big.safetensors", "not a regular file")
    fifo_program = tmp_path / "fifo.json"
    os.mkfifo(fifo_program)
    refused(fifo_program, "fifo.json", "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_sidecar_that_is_a_device_is_refused(tmp_path):
    path, _ = saved(tmp_path)
    sidecar = tmp_path / "big.safetensors"
    sidecar.unlink()
    sidecar.symlink_to("/dev/zero")  # a link out of the folder: refused before it is opened
    refused(path, "big.safetensors", "link out of the program's folder")
    refused(Path("/dev/zero"), "zero", "not a regular file")


def test_wrong_shape_or_dtype_in_the_header_is_refused(tmp_path):
    path, obj = saved(tmp_path)
    name = next(n for n, r in refs(obj).items() if len(r["shape"]) == 2 and r["shape"][0] != r["shape"][1])
    tensors = tensors_of(path)
    resave_sidecar(path, {**tensors, name: tensors[name].T.copy()})
    refused(path, "big.safetensors", name, "declares")
    resave_sidecar(path, {**tensors, name: tensors[name].astype(np.float16)})
    refused(path, name)


def test_missing_or_extra_tensor_is_refused(tmp_path):
    path, obj = saved(tmp_path)
    tensors = tensors_of(path)
    name = sorted(tensors)[0]
    resave_sidecar(path, {k: v for k, v in tensors.items() if k != name})
    refused(path, "big.safetensors", name, "missing")
    resave_sidecar(path, {**tensors, "smuggled": np.zeros(3)})
    refused(path, "big.safetensors", "smuggled")


def test_duplicate_or_malformed_references_are_refused(tmp_path):
    path, obj = saved(tmp_path)
    readout = next(n for n in obj["nodes"] if n["op"] == "readout")
    first, third = readout["terms"][0]["table"], readout["terms"][2]["table"]
    readout["terms"][2]["table"] = dict(first)
    path.write_text(json.dumps(obj))
    refused(path, first["array"], "twice")
    readout["terms"][2]["table"] = {**first, "shape": [10**9, 10**9]}
    path.write_text(json.dumps(obj))
    refused(path, "shape")
    del obj["sidecar"]
    readout["terms"][2]["table"] = third
    path.write_text(json.dumps(obj))
    refused(path, "no sidecar")


@pytest.mark.parametrize("name", ["../big.safetensors", "/abs/big.safetensors", "sub/big.safetensors",
                                  "..", "big.json", ".big.safetensors", "a\\b.safetensors", 7])
def test_sidecar_names_outside_the_folder_are_refused(tmp_path, name):
    path, obj = saved(tmp_path)
    obj["sidecar"]["file"] = name
    path.write_text(json.dumps(obj))
    refused(path, "plain")


def test_sidecar_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    path, obj = saved(folder)
    outside = tmp_path / "elsewhere.safetensors"
    os.replace(folder / "big.safetensors", outside)
    os.symlink(outside, folder / "big.safetensors")
    refused(path, "big.safetensors", "link")


def test_sidecar_that_is_not_safetensors_is_refused(tmp_path):
    path, obj = saved(tmp_path)
    for junk in [b"", b"\xff" * 8 + b"{}", (2).to_bytes(8, "little") + b"[]", (5).to_bytes(8, "little") + b"{nope"]:
        (tmp_path / "big.safetensors").write_bytes(junk)
        obj["sidecar"]["sha256"] = hashlib.sha256(junk).hexdigest()
        path.write_text(json.dumps(obj))
        refused(path, "big.safetensors")


# ----- readers of program files ---------------------------------------------------------


def test_show_and_resume_read_the_sidecar(tmp_path, capsys):
    from types import SimpleNamespace

    from bench.scoring.resume import _program_unchanged
    from bench.show import main

    digest = big_program().save(tmp_path / "programs" / "big.json")
    entry = SimpleNamespace(program_file="programs/big.json", program_sha256=digest)
    assert main([str(tmp_path / "programs" / "big.json")]) == 0 and "readout" in capsys.readouterr().out
    assert _program_unchanged(entry, tmp_path)
    sidecar = tmp_path / "programs" / "big.safetensors"
    sidecar.write_bytes(sidecar.read_bytes()[:-1] + b"\x00")
    assert not _program_unchanged(entry, tmp_path)
    assert main([str(tmp_path / "programs" / "big.json")]) == 2
    assert "big.safetensors" in capsys.readouterr().err


def test_validation_reports_a_missing_or_altered_sidecar_as_a_problem(tmp_path):
    from test_leaderboard_validate import make_submission, needs_zoo

    from bench.data.task import get_task
    from bench.leaderboard.harness import Harness
    from bench.leaderboard.validate import Options, validate_submission
    from bench.scoring.run import program_filename

    needs_zoo()
    folder = make_submission(tmp_path / "toy", model_ids=("tomita1",), limit=5)
    task = get_task("tomita1")
    table = np.random.default_rng(0).normal(size=(task.n_positions, task.vocab_size))
    program = Program.for_task(task, rasp.readout((indices, table)), name="positional")
    path = folder / program_filename("tomita1")
    digest = program.save(path)
    results = json.loads((folder / "results.json").read_text())
    results["models"][0].update(program_sha256=digest, size=program.size())
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    options, harness = Options(rescore=False, allow_limit=True, allow_partial=True), Harness()

    def problems():
        return [str(p) for p in validate_submission(folder, harness, options).problems]

    assert problems() == []
    sidecar = path.with_suffix(".safetensors")
    data = sidecar.read_bytes()
    sidecar.write_bytes(data[:-8] + np.float64(1.5).tobytes())
    found = problems()
    assert len(found) == 1 and "tomita1.json: program does not parse" in found[0] and "sha256" in found[0], found
    sidecar.unlink()
    found = problems()
    assert len(found) == 1 and "tomita1.safetensors does not exist" in found[0], found


def test_files_written_atomically_get_the_usual_permissions(tmp_path):
    import stat

    from bench.program.arrays import write_bytes_atomic

    mask = os.umask(0o027)
    try:
        write_bytes_atomic(tmp_path / "out" / "program.json", b"{}")
    finally:
        os.umask(mask)
    mode = stat.S_IMODE((tmp_path / "out" / "program.json").stat().st_mode)
    assert mode == 0o640  # what open() would give under that umask, not mkstemp's private 0o600
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["program.json"]  # no temporary file left
