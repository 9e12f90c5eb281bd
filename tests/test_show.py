"""``python -m bench.show PROGRAM.json [--plot DIR]``: the program as code, its scores, heatmaps of its tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from test_heatmaps import SYMBOLS, small_program

from bench.show import main

REPO = Path(__file__).resolve().parents[1]
DECOMPILED = REPO / "submissions" / "decompile"  # results.json records the task of every program


def test_plot_writes_one_png_per_table_and_prints_their_paths(tmp_path, capsys):
    program_file = tmp_path / "small.json"
    small_program().save(program_file)
    assert main([str(program_file)]) == 0
    plain = capsys.readouterr().out
    assert main([str(program_file), "--plot", str(tmp_path / "figures" / "small")]) == 0
    out, err = capsys.readouterr()
    names = ["01-attend.png", "03-logits-term0.png", "03-logits-bias.png"]
    expected = [str(tmp_path / "figures" / "small" / name) for name in names]
    assert out == plain + "\n" + "".join(f"{path}\n" for path in expected)  # the printout, then the paths
    assert err == "" and sorted((tmp_path / "figures" / "small").iterdir()) == sorted(map(Path, expected))
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in expected)


def test_plot_labels_tokens_with_the_symbols_of_the_recorded_task(tmp_path, capsys, monkeypatch):
    import bench.program.heatmaps as heatmaps

    seen = []

    def record(program, folder, symbols):
        seen.append(symbols)
        return heatmaps.Drawn(heatmaps.MAX_FIGURES)

    monkeypatch.setattr(heatmaps, "draw_heatmaps", record)
    assert main([str(DECOMPILED / "programs" / "ab_d_bc.json"), "--plot", str(tmp_path)]) == 0
    assert seen == [SYMBOLS]  # decompile_ab_d_bc: the task comes from results.json, not the program's name
    copy = tmp_path / "ab_d_bc.json"  # no results.json beside: the program's name, unknown here
    shutil.copy(DECOMPILED / "programs" / "ab_d_bc.json", copy)
    assert main([str(copy), "--plot", str(tmp_path)]) == 0
    assert seen[-1] == ("0", "1", "2", "3", "<bos>", "<sep>", "<eos>", "<pad>")


def test_plot_notes_what_it_left_out(tmp_path, capsys):
    import bench.program as rasp

    terms = [rasp.score(rasp.tokens, rasp.tokens, np.full((8, 8), n)) for n in range(30)]
    logits = rasp.readout((rasp.aggregate(rasp.soft_select(*terms), rasp.tokens, numerical=True), np.eye(8)))
    rasp.Program(logits, vocab_size=8, kind="token", n_positions=8).save(tmp_path / "many.json")
    assert main([str(tmp_path / "many.json"), "--plot", str(tmp_path / "figures")]) == 0
    out, err = capsys.readouterr()
    assert len([line for line in out.splitlines() if line.endswith(".png")]) == 24
    assert err.startswith("note: 8 more tables not drawn (at most 24 figures per program): ")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("where", ["a file", "under a file", "a NUL"])
def test_plot_refuses_an_unusable_folder_with_one_line(tmp_path, capsys, where):
    program_file = tmp_path / "small.json"
    small_program().save(program_file)
    folder = {"a file": str(program_file), "under a file": str(program_file / "figures"),
              "a NUL": str(tmp_path / "fig\x00ures")}[where]
    assert main([str(program_file), "--plot", folder]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("error: --plot ")
    assert ("exists and is not a folder" if where == "a file" else "cannot create the folder") in err
    assert "\x00" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["small.json"]


def test_plot_and_json_do_not_go_together(tmp_path, capsys):
    small_program().save(tmp_path / "small.json")
    with pytest.raises(SystemExit) as exit_status:
        main([str(tmp_path / "small.json"), "--json", "--plot", str(tmp_path / "figures")])
    assert exit_status.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "figures").exists()
