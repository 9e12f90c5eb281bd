"""Heatmaps of a program's tables (bench.program.heatmaps) and on the leaderboard's program pages."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_leaderboard_tables import synthetic_entries

import bench.program as rasp
from bench.leaderboard.build import build
from bench.program.heatmaps import MAX_FIGURES, _colours, _label_axis, draw_heatmaps
from bench.program.op_tables import SPECIALS, Axis, Table, program_tables, token_symbols

V, P = 8, 12  # vocabulary (4 symbols and the specials) and positions of the small programs
SYMBOLS = ("a", "b", "c", "d", *SPECIALS)


def every_kind_program() -> tuple[rasp.Program, dict]:
    """A program with every kind of table (and two operations without one); returns it and its arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "scores": rng.normal(size=(V, P)), "key_scores": rng.normal(size=V), "prior": rng.normal(size=V),
        "w1": rng.normal(size=(V, 3)), "b1": rng.normal(size=3), "w2": rng.normal(size=(3, V)),
        "b2": rng.normal(size=V), "logit_bias": rng.normal(size=V),
        "readout": [rng.normal(size=(V, V)) for _ in range(4)] + [rng.normal(size=V)],
    }
    same = rasp.select(rasp.tokens, rasp.tokens, rasp.EQ).named("same")
    previous = rasp.select(rasp.indices, rasp.indices, "k == q - 1").named("previous")
    prefix = rasp.select(rasp.indices, rasp.indices, rasp.TRUE).named("prefix")  # constant: no table
    soft = rasp.soft_select(rasp.score(rasp.tokens, rasp.indices, arrays["scores"]),
                            rasp.key_score(rasp.tokens, arrays["key_scores"])).named("soft")
    hist = rasp.aggregate(soft, rasp.tokens, numerical=True).named("hist")
    count = rasp.selector_width(same | prefix).named("count")
    shifted = rasp.map(rasp.tokens, {0: 1, 1: 2}, basis="tokens").named("shifted")  # others: default 0
    half = rasp.map(rasp.tokens, "x / 2").named("half")
    pair = rasp.sequence_map(rasp.tokens, rasp.indices, "(x + y) % 4", basis="tokens").named("pair")
    scaled = rasp.map(count, "x * 2").named("scaled")  # a map of a num: no finite table
    before = rasp.aggregate(previous, rasp.tokens).named("before")
    prior = rasp.constant(list(arrays["prior"]), basis="tokens").named("prior")
    hidden = rasp.mlp(hist, [(arrays["w1"], arrays["b1"]), (arrays["w2"], arrays["b2"])], basis="tokens")
    hidden = hidden.named("hidden")
    tables = arrays["readout"]
    logits = rasp.readout((shifted, tables[0]), (pair, tables[1]), (hidden, tables[2]), (before, tables[3]),
                          (half, tables[4]), (scaled, np.ones(V)), (prior, np.eye(V)), bias=arrays["logit_bias"])
    program = rasp.Program(logits.named("logits"), vocab_size=V, kind="token", n_positions=P, name="every_kind")
    return program, arrays


def small_program(name: str = "small") -> rasp.Program:
    """Two operations with tables: attention scores and a readout."""
    soft = rasp.soft_select(rasp.score(rasp.tokens, rasp.tokens, np.eye(V))).named("attend")
    seen = rasp.aggregate(soft, rasp.tokens, numerical=True).named("seen")
    logits = rasp.readout((seen, np.eye(V)), bias=np.zeros(V)).named("logits")
    return rasp.Program(logits, vocab_size=V, kind="token", n_positions=P, name=name)


def by_name(tables) -> dict:
    """Tables by file name without the operation index: ``soft-term0``, ``logits-bias``, ``same``."""
    return {re.sub(r"^\d+-|\.png$", "", t.file_name()): t for t in tables}


def by_name_of_paths(paths) -> list[str]:
    return [re.sub(r"^\d+-", "", p.stem) for p in paths]


# ----- which tables, with which values and labels ------------------------------------------------------------


def test_every_kind_of_table_is_found_with_its_values():
    program, arrays = every_kind_program()
    tables = by_name(program_tables(program, SYMBOLS))
    readout_terms = [f"logits-term{n}" for n in range(7)]
    assert set(tables) == {"same", "previous", "soft-term0", "soft-term1", "shifted", "half", "pair", "prior",
                           "hidden-layer0", "hidden-layer1", *readout_terms, "logits-bias"}
    # selects over values: query values down, key values across
    assert np.array_equal(tables["same"].values, np.eye(V))
    q, k = np.indices((P, P))
    assert np.array_equal(tables["previous"].values, (k == q - 1).astype(float))
    assert tables["previous"].rows.name == "query: indices (positions)"
    # attention scores and key scores as given
    assert np.array_equal(tables["soft-term0"].values, arrays["scores"])
    assert tables["soft-term0"].rows.name == "query: tokens" and tables["soft-term0"].columns.name.startswith("key")
    assert np.array_equal(tables["soft-term1"].values, arrays["key_scores"][None, :])
    assert tables["soft-term1"].rows is None
    # maps: input values x output values (one-hot) for a cat output, one row for a num output
    expected = np.zeros((V, V))
    expected[np.arange(V), [1, 2, 0, 0, 0, 0, 0, 0]] = 1
    assert np.array_equal(tables["shifted"].values, expected)
    assert np.array_equal(tables["half"].values, np.arange(V)[None, :] / 2)
    x, y = np.indices((V, P))
    assert np.array_equal(tables["pair"].values, (x + y) % 4)
    assert tables["pair"].category_labels == SYMBOLS
    # MLP layers with their bias as the last row; readout terms and bias
    assert np.array_equal(tables["hidden-layer0"].values, np.vstack([arrays["w1"], arrays["b1"]]))
    assert tables["hidden-layer0"].rows.labels[-1] == "bias" and tables["hidden-layer0"].bias_row
    assert np.array_equal(tables["logits-term3"].values, arrays["readout"][3])
    assert np.array_equal(tables["logits-bias"].values, arrays["logit_bias"][None, :])
    assert np.array_equal(tables["prior"].values, arrays["prior"][None, :])
    # axes named by their bases' values: token symbols, position numbers
    assert tables["same"].columns.labels == SYMBOLS
    assert tables["previous"].columns.labels == tuple(str(i) for i in range(P))
    # titles name the variable and the operation
    assert tables["same"].title == "same = select(tokens, tokens, ==)"
    assert tables["logits-term1"].title == "logits = readout: table[pair]"


def test_token_symbols_come_from_the_task_or_the_common_layout():
    assert token_symbols(8, "ab_d_bc") == SYMBOLS
    generic = ("0", "1", "2", "3", *SPECIALS)
    assert token_symbols(8, "sort") == generic  # sort has 154 tokens: not its vocabulary
    assert token_symbols(8, "no such task") == generic and token_symbols(8) == generic
    assert token_symbols(3) == ("0", "1", "2")


def test_big_axes_show_a_few_labels_and_the_first_special_token():
    calls = []

    def set_ticks(positions, labels, rotation):
        calls.append((positions, labels, rotation))

    symbols = token_symbols(154, "sort")
    _label_axis(set_ticks, Axis("tokens", symbols, marks=(150,)), room=320)
    positions, labels, rotation = calls[-1]
    assert len(positions) <= 10 and 150 in positions and labels[positions.index(150)] == "<bos>"
    assert labels == [symbols[p] for p in positions] and rotation == 90
    _label_axis(set_ticks, Axis("tokens", SYMBOLS), room=320)
    assert calls[-1] == (list(range(V)), list(SYMBOLS), 0)  # every label, side by side


def test_colour_scales_show_powers_of_two_and_survive_outliers():
    from matplotlib.colors import SymLogNorm

    def colours(values, scale="signed"):
        return _colours(Table(0, "v", "", "v", lambda: values, None, Axis("x", ()), scale))

    rng = np.random.default_rng(2)
    noise = rng.normal(size=(100, 100))
    plain = colours(noise)
    assert plain["extend"] == "neither" and plain["norm"].vmax == -plain["norm"].vmin == np.abs(noise).max()
    outliers = noise.copy()
    outliers[0, :10] = 1000  # a few huge entries would leave the rest one colour
    clipped = colours(outliers)
    assert clipped["extend"] == "both" and clipped["norm"].vmax < 5
    powers = colours(2.0 ** -np.arange(100), "levels")
    assert isinstance(powers["norm"], SymLogNorm) and powers["cmap"] == "viridis"
    assert colours(np.eye(3), "boolean")["cmap"] == "Greys"


# ----- drawing ------------------------------------------------------------------------------------------------


def test_draws_one_png_per_table_with_the_same_bytes_twice(tmp_path):
    program, _ = every_kind_program()
    drawn = draw_heatmaps(program, tmp_path / "a", symbols=SYMBOLS)
    names = [t.file_name() for t in program_tables(program, SYMBOLS)]
    assert [p.name for p in drawn.paths] == names and drawn.left_out == [] and drawn.note() == ""
    for path in drawn.paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 150
    again = draw_heatmaps(program, tmp_path / "b", symbols=SYMBOLS)
    assert [p.read_bytes() for p in again.paths] == [p.read_bytes() for p in drawn.paths]


def test_the_figure_cap_draws_every_operation_first_and_names_the_rest(tmp_path):
    program, _ = every_kind_program()
    drawn = draw_heatmaps(program, tmp_path, symbols=SYMBOLS, max_figures=4)
    assert len(drawn.paths) == 4 and sorted(tmp_path.iterdir()) == sorted(drawn.paths)
    operations = {re.sub(r"-(term|layer)\d+$|-bias$", "", p.stem) for p in drawn.paths}
    assert len(operations) == 4  # four different operations, not four terms of one
    assert len(drawn.left_out) == len(program_tables(program)) - 4
    assert drawn.note().startswith(f"{len(drawn.left_out)} more tables not drawn (at most 4 figures per program)")


def test_a_program_of_millions_of_parameters_draws_in_seconds(tmp_path):
    rng = np.random.default_rng(1)
    n_positions, vocab_size = 303, 154
    terms = [rasp.score(rasp.indices, rasp.indices, rng.normal(size=(n_positions, n_positions))) for _ in range(30)]
    soft = rasp.soft_select(*terms).named("soft")
    hist = rasp.aggregate(soft, rasp.tokens, numerical=True).named("hist")
    logits = rasp.readout((hist, rng.normal(size=(vocab_size, vocab_size))), bias=np.zeros(vocab_size))
    program = rasp.Program(logits.named("logits"), vocab_size=vocab_size, kind="token", n_positions=n_positions)
    assert program.n_params > 2_000_000
    start = time.perf_counter()
    drawn = draw_heatmaps(program, tmp_path)
    assert len(drawn.paths) == MAX_FIGURES and len(drawn.left_out) == 32 - MAX_FIGURES
    assert {"logits-term0", "logits-bias"} <= set(by_name_of_paths(drawn.paths))  # the readout is not crowded out
    assert time.perf_counter() - start < 90  # about 5 s on one free core


# ----- leaderboard program pages ---------------------------------------------------------------------------


def entries_with_programs(folder: Path, methods: tuple[str, ...]) -> list:
    """The synthetic leaderboard entries with their folders in ``folder``; the programs of ``methods`` saved
    there (``folder/<method>/programs/<model>.json``), the others missing."""
    entries = []
    for e in synthetic_entries():
        for m in e.results.models:
            if m.status == "ok" and e.submission.method in methods:
                small_program(m.model.id).save(folder / e.submission.method / m.program_file)
        entries.append(dataclasses.replace(e, folder=str(folder / e.submission.method)))
    return entries


def test_program_pages_show_the_heatmaps_under_the_code(tmp_path):
    entries = entries_with_programs(tmp_path / "submissions", ("oracle",))
    written = build(entries, tmp_path / "a", heatmaps=True)
    page = (tmp_path / "a" / "programs" / "oracle" / "sort.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources == ["sort/01-attend.png", "sort/03-logits-term0.png", "sort/03-logits-bias.png"]
    assert page.index("<pre class=\"program\">") < page.index("<h2>Tables</h2>") < page.index(sources[0])
    for source in sources:
        assert (tmp_path / "a" / "programs" / "oracle" / source).read_bytes()[:4] == b"\x89PNG"
        assert tmp_path / "a" / "programs" / "oracle" / source in written
    build(entries, tmp_path / "b", heatmaps=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_heatmaps_are_off_by_default_and_an_unreadable_program_is_a_note(tmp_path):
    entries = entries_with_programs(tmp_path / "submissions", ("oracle",))
    build(entries, tmp_path / "plain")
    assert not list((tmp_path / "plain" / "programs").rglob("*.png"))
    assert "<h2>Tables</h2>" not in (tmp_path / "plain" / "programs" / "oracle" / "sort.html").read_text()
    (tmp_path / "submissions" / "oracle" / "programs" / "sort.json").write_text("{")
    build(entries, tmp_path / "drawn", heatmaps=True)
    page = (tmp_path / "drawn" / "programs" / "oracle" / "sort.html").read_text()
    assert "no heatmaps: the program cannot be read again" in page and "<img" not in page
    assert (tmp_path / "drawn" / "programs" / "oracle" / "majority" / "03-logits-bias.png").is_file()


def test_tables_too_big_to_evaluate_are_skipped_and_evaluated_only_when_asked_for(monkeypatch):
    wide = rasp.map(rasp.indices, "x", basis=("wide", 4096)).named("wide")
    grid = rasp.sequence_map(wide, wide, "x + y").named("grid")  # 4096 x 4096 values: not drawn
    small = rasp.sequence_map(rasp.tokens, rasp.tokens, "x - y").named("small")
    logits = rasp.readout((grid, np.ones(V)), (small, np.ones(V)))
    program = rasp.Program(logits.named("logits"), vocab_size=V, kind="token", n_positions=P)
    calls = []
    monkeypatch.setattr(rasp.Expr, "eval_np", lambda self, env: calls.append(self.source) or env["x"] - env["y"])
    tables = by_name(program_tables(program))
    assert "grid" not in tables and "wide" in tables and calls == []
    assert np.array_equal(tables["small"].values, np.subtract.outer(np.arange(V), np.arange(V)))
    assert calls == ["x - y"]
    with pytest.raises(ValueError, match="3 token symbols for a vocabulary of 8"):
        program_tables(program, ("a", "b", "c"))
