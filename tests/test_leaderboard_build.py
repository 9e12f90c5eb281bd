"""Building leaderboard/ from synthetic verified submissions: files, determinism, escaping."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from test_leaderboard_tables import model_result, synthetic_entries, synthetic_entry

from bench.leaderboard import plots
from bench.leaderboard.build import BuildError, build


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_build_writes_every_part(tmp_path):
    written = build(synthetic_entries(), tmp_path / "lb")
    names = {p.relative_to(tmp_path / "lb").as_posix() for p in written}
    assert {"README.md", "index.html", "leaderboard.csv", "per_task.csv", "per_model.csv",
            plots.MATCH_BY_LENGTH, plots.SIZE_VS_MATCH} <= names
    assert "programs/oracle/index.html" in names and "programs/oracle/sort.html" in names
    assert "programs/oracle/parity.html" not in names  # the failed extraction has no program
    for png in (plots.MATCH_BY_LENGTH, plots.SIZE_VS_MATCH):
        assert (tmp_path / "lb" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranking = pd.read_csv(io.StringIO((tmp_path / "lb" / "leaderboard.csv").read_text()))
    assert list(ranking["method"]) == ["decompile", "oracle", "lookup"]
    assert list(ranking["rank"]) == [1, 2, 3]
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert readme.index("| decompile") < readme.index("| oracle") < readme.index("| lookup")


def test_building_twice_gives_identical_bytes(tmp_path):
    build(synthetic_entries(), tmp_path / "a")
    build(synthetic_entries(), tmp_path / "b")
    first = digests(tmp_path / "a")
    assert first == digests(tmp_path / "b")
    build(list(reversed(synthetic_entries())), tmp_path / "a")  # input order does not matter either
    assert digests(tmp_path / "a") == first


def test_rebuild_replaces_a_previous_build_and_drops_stale_pages(tmp_path):
    out = tmp_path / "lb"
    build(synthetic_entries(), out)
    assert (out / "programs" / "lookup" / "sort.html").exists()
    build([e for e in synthetic_entries() if e.submission.method != "lookup"], out)
    assert not (out / "programs" / "lookup").exists()
    assert "lookup" not in (out / "leaderboard.csv").read_text()


def test_refuses_to_overwrite_a_folder_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="refusing to overwrite"):
        build(synthetic_entries(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_untrusted_text_is_escaped_and_page_makes_no_external_requests(tmp_path):
    evil = synthetic_entry(
        "<script>alert(1)</script>",
        [model_result("sort", "sort", (1, 1, 1), 3)],
        description='"><img src=x onerror=alert(1)>',
        authors=["<b>x</b> | y"],
    )
    build(synthetic_entries() + [evil], tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert page.count("<script>") == 1  # only the page's own inline script
    # self-contained: no stylesheet, script or image is fetched from anywhere
    assert not re.search(r"""(src|href)=["']?(https?:)?//[^"']*\.(css|js|png|svg|woff2?)""", page)
    assert "<link" not in page and "@import" not in page
    assert re.findall(r'<img src="([^"]+)"', page) == [plots.MATCH_BY_LENGTH, plots.SIZE_VS_MATCH]
    readme = (tmp_path / "README.md").read_text()
    assert "<b>x</b>" not in readme and "&lt;b&gt;x&lt;/b&gt; \\| y" in readme
    program = next((tmp_path / "programs").glob("script-alert-1-script/sort.html")).read_text()
    assert "<script>" not in program


def test_empty_leaderboard_builds(tmp_path):
    build([], tmp_path)
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "leaderboard.csv").read_text().startswith("rank,method,")


def test_a_programs_page_shows_what_the_method_reported_escaped(tmp_path):
    from dataclasses import replace

    reported = replace(model_result("sort", "sort", (1, 1, 1), 3),
                       details={"primitives": {"mlp0": "<script>alert(1)</script>"}, "zzz": "x" * 20_000})
    quiet = model_result("count", "count", (1, 1, 1), 3)
    build([synthetic_entry("reports", [reported, quiet])], tmp_path)
    page = (tmp_path / "programs" / "reports" / "sort.html").read_text()
    assert "What the method reported" in page and "&quot;mlp0&quot;: &quot;&lt;script&gt;" in page
    assert "<script>" not in page and "more characters not shown" in page
    assert "What the method reported" not in (tmp_path / "programs" / "reports" / "count.html").read_text()
