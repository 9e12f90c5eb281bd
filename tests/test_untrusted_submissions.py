"""Hostile submissions: every file a stranger sends is read within limits, checked, and shown escaped.

Each test copies a small valid submission (two zoo models, built here from the
manifest without loading any model), makes one thing hostile, and checks that
``validate`` (static checks only: nothing is re-scored) reports it as a
problem naming the file and the field, without raising; and that the other
submissions' verdicts, the report and the leaderboard writers stay intact.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import bench.program as rasp
from bench.leaderboard import build as build_module
from bench.leaderboard.__main__ import main, report
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, Problem, validate_all, validate_submission
from bench.scoring.results import BINS, BinMetrics, ResultsError, load_results
from bench.scoring.schema import printable
from bench.scoring.untrusted_json import JsonInputError, JsonLimits, parse_json
from toy_submission import write_submission

MODELS = ("bin_majority", "tomita1")  # one token task, one token-set task
LIMIT = 40
STATIC = Options(rescore=False, allow_limit=True, allow_partial=True)
ARGS = ["--no-rescore", "--allow-limit", "--allow-partial"]


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


def program_for(task) -> rasp.Program:
    if task.kind == "token_set":
        return rasp.Program.for_task(task, rasp.readout(bias=np.array([-1, 1, -1, -1, 1, -1.0])), name="constant")
    return rasp.Program.for_task(task, rasp.map(rasp.tokens, "x == 1", basis="tokens"), name="first")


@pytest.fixture(scope="module")
def good(tmp_path_factory, harness) -> Path:
    """A submission whose static checks all pass (its figures are made up: nothing here re-scores)."""
    missing = [m for m in MODELS if m not in harness.zoo]
    if missing:
        pytest.skip(f"zoo models {missing} are not in zoo/manifest.json")
    folder = tmp_path_factory.mktemp("good") / "toy"
    scored = {}
    for i, model_id in enumerate(MODELS):
        metrics = {b: BinMetrics(LIMIT, 0.5 + 0.5 * i, 0.9, 0.5, 0.5) for b in BINS}
        scored[model_id] = (program_for(harness.task(harness.zoo[model_id].task)), metrics)
    write_submission(folder, harness, scored, LIMIT)
    edit(folder / "submission.json", lambda d: d.update(description="A first-token copy and a constant readout."))
    assert validate_submission(folder, harness, STATIC).problems == []
    return folder


@pytest.fixture
def copy(good, tmp_path) -> Path:
    return Path(shutil.copytree(good, tmp_path / "toy"))


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def problems(folder: Path, harness) -> list[str]:
    return [str(p) for p in validate_submission(folder, harness, STATIC).problems]


def has(found: list[str], *fragments: str) -> None:
    """Some problem holds every fragment, and none is internal."""
    assert any(all(f in p for f in fragments) for p in found), found
    assert not any("internal error" in p for p in found), found


def one_line(found: list[str]) -> None:
    assert all("\n" not in p and "\x1b" not in p and "\x00" not in p and "\u202e" not in p for p in found), found


# ----- item 4: names and numbers that used to raise --------------------------------------


@pytest.mark.parametrize("name, fragment", [
    ("programs/a\x00b.json", "contains U+0000 (a control character)"),
    ("programs/" + "x" * 300 + ".json", "has a component of 305 bytes (at most 255)"),
    ("programs/../../etc/passwd", "is not a path inside the submission folder"),
    ("/etc/passwd", "is not a path inside the submission folder"),
    ("programs/x.json\nok        forged", "contains U+000A (a line break)"),
])
def test_hostile_program_file_names(copy, harness, name, fragment):
    edit(copy / "results.json", lambda d: d["models"][0].update(program_file=name))
    found = problems(copy, harness)
    has(found, f"{copy.as_posix()}/results.json: models[0].program_file: ", fragment)
    one_line(found)


def test_symlink_loop_in_programs(copy, harness):
    shutil.rmtree(copy / "programs")
    os.symlink("loop_b", copy / "loop_a")
    os.symlink("loop_a", copy / "loop_b")
    os.symlink("loop_a", copy / "programs")
    found = problems(copy, harness)
    has(found, "models[0].program_file: 'programs/bin_majority.json' cannot be read (")
    has(found, "models[1].program_file: 'programs/tomita1.json' cannot be read (")


def test_program_file_that_is_a_device_or_a_folder(copy, harness):
    (copy / "programs" / "dir.json").mkdir()
    edit(copy / "results.json", lambda d: d["models"][0].update(program_file="programs/dir.json"))
    has(problems(copy, harness), "models[0].program_file: 'programs/dir.json' is not a regular file")


@pytest.mark.parametrize("file", ["results.json", "submission.json"])
def test_integer_over_python_digit_limit(copy, harness, file):
    path = copy / file
    field = "seed" if file == "results.json" else "submission_version"
    path.write_text(json.dumps({**json.loads(path.read_text()), field: 12345}).replace(": 12345", ": " + "9" * 5000))
    has(problems(copy, harness), f"{copy.as_posix()}/{file}: {field}: an integer of 5,000 digits (at most 30)")


def test_huge_integer_in_a_float_field(copy, harness):
    text = (copy / "results.json").read_text().replace('"match_threshold": 0.9', '"match_threshold": 1' + "0" * 29)
    (copy / "results.json").write_text(text)
    has(problems(copy, harness), "results.json: match_threshold: ")  # no OverflowError: a (huge) finite number
    text = text.replace('"match_threshold": 1' + "0" * 29, '"match_threshold": 1' + "0" * 400)
    (copy / "results.json").write_text(text)
    has(problems(copy, harness), "results.json: match_threshold: an integer of 401 digits (at most 30)")


@pytest.mark.parametrize("file", ["results.json", "submission.json"])
def test_deep_nesting(copy, harness, file):
    (copy / file).write_text("[" * 500 + "]" * 500)
    has(problems(copy, harness), f"{copy.as_posix()}/{file}: cannot read JSON (lists and objects nested deeper than")
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 100_000, '{"a":' * 100_000):  # too many, unbalanced
        (copy / file).write_text(text)
        found = [p for p in problems(copy, harness) if p.startswith(f"{copy.as_posix()}/{file}: ")]
        assert found and all("cannot read JSON (" in p or "over the limit" in p for p in found), found


def test_one_hostile_submission_does_not_hide_the_others(good, copy, tmp_path, harness):
    (copy / "results.json").write_text('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}")
    verdicts = validate_all([good, copy], harness, STATIC)
    assert verdicts[0].problems == [] or all("also the method of" in p.message for p in verdicts[0].problems)
    assert any("nested deeper" in p.message for p in verdicts[1].problems)


# ----- item 6: size before reading, duplicate keys -------------------------------------------


@pytest.mark.parametrize("file, limit", [("results.json", "4,194,304"), ("submission.json", "262,144")])
def test_file_over_the_size_limit_is_not_read(copy, harness, file, limit, monkeypatch):
    with open(copy / file, "r+b") as handle:
        handle.truncate(5 << 20)  # sparse: 5 MB of NULs that must never be read
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    found = problems(copy, harness)
    has(found, f"{copy.as_posix()}/{file}: 5,242,880 bytes, over the limit of {limit} bytes (not read)")
    assert not any(p.endswith(file) for p in opened)


def test_a_device_is_read_no_further_than_the_limit():
    limits = JsonLimits(max_bytes=1000)
    with pytest.raises(JsonInputError, match="not a regular file"):
        from bench.scoring.untrusted_json import read_json

        read_json("/dev/zero", limits)
    with pytest.raises(JsonInputError, match="over the limit"):
        parse_json(b" " * 1001, limits)


@pytest.mark.parametrize("file, text, fragment", [
    ("results.json", None, "results.json: models[0].model.id: duplicate key"),
    ("submission.json", '{"method": "toy", "method": "other"}', "submission.json: method: duplicate key"),
])
def test_duplicate_keys_are_refused(copy, harness, file, text, fragment):
    if text is None:
        text = (copy / file).read_text().replace('"id": "bin_majority"', '"id": "tomita1", "id": "bin_majority"')
    (copy / file).write_text(text)
    has(problems(copy, harness), fragment)


def test_too_many_containers_and_unpaired_surrogates(copy, harness):
    (copy / "results.json").write_text("[" + ",".join(["[]"] * 250_000) + "]")
    has(problems(copy, harness), "results.json: cannot read JSON (250,001 lists and objects, over the limit of 200,000)")
    edit(copy / "submission.json", lambda d: d.update(method="ok"))
    text = (copy / "submission.json").read_text().replace('"ok"', '"\\ud800"')
    (copy / "submission.json").write_text(text)
    has(problems(copy, harness), "submission.json: method: a string with an unpaired surrogate")


# ----- item 7: submission.json text --------------------------------------------------------------


@pytest.mark.parametrize("change, fragment", [
    ({"authors": ["x" * 50_000]}, "authors[0]: longer than 200 characters (50,000)"),
    ({"authors": ["a"] * 51}, "authors: more than 50 names (51)"),
    ({"contact": "me\x00you"}, "contact: contains U+0000 (a control character) at position 2"),
    ({"method": "evil\u202etxt"}, "method: contains U+202E (a bidirectional control) at position 4"),
    ({"method": "\x1b[31mred"}, "method: contains U+001B (a control character) at position 0"),
    ({"method": "a\n| forged | row |"}, "method: contains U+000A (a line break) at position 1"),
    ({"description": "two\nlines\tare fine, \u2066isolates\u2069 are not"}, "description: contains U+2066"),
    ({"date": "9999-99-99\n"}, "date: '9999-99-99\\n' is not YYYY-MM-DD"),
    ({"date": "2025-02-30"}, "date: '2025-02-30' is not a calendar date"),
    ({"date": "２０２５-01-01"}, "is not YYYY-MM-DD"),
    ({"paper": "https://x.org/\n"}, "paper: contains U+000A (a line break)"),
    ({"code": 'https://x.org/"onmouseover="alert(1)'}, "is not an http(s) link"),
    ({"bench_version": "0.1.0\x1b]8;;"}, "bench_version: contains U+001B"),
])
def test_submission_text_is_bounded_and_printable(copy, harness, change, fragment):
    edit(copy / "submission.json", lambda d: d.update(change))
    found = problems(copy, harness)
    has(found, f"{copy.as_posix()}/submission.json: ", fragment)
    one_line(found)


def test_writers_escape_what_validation_lets_through(good, tmp_path, harness):
    """Printable text can still be Markdown, a formula or math text: each writer makes it inert."""
    sub = Path(shutil.copytree(good, tmp_path / "sub"))
    method = "=HYPERLINK(\"x\") [a](https://e.org) `c` | $\\frac{$ <b>"
    edit(sub / "submission.json", lambda d: d.update(method=method[:80], authors=["@SUM(1)", "-2+3"]))
    verdict = validate_submission(sub, harness, STATIC)
    assert verdict.ok, verdict.problems
    out = tmp_path / "board"
    build_module.build([verdict.entry()], out)  # the plots do not raise on the math text either
    readme = (out / "README.md").read_text()
    row = next(line for line in readme.splitlines() if "HYPERLINK" in line)
    assert "\\[a\\](https://e.org)" in row and "\\`c\\`" in row and " \\| " in row and "&lt;b&gt;" in row
    assert "<b>" not in readme
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert rows[0]["method"].startswith("'=HYPERLINK") and rows[0]["authors"] == "'@SUM(1), -2+3"
    per_model = list(csv.DictReader(io.StringIO((out / "per_model.csv").read_text())))
    assert all(r["method"].startswith("'=") for r in per_model)
    page = (out / "index.html").read_text()
    assert "&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1].replace("<strong>", "")


def test_markdown_and_csv_escaping_rules():
    assert build_module.md_escape("a|b[c](d)`e`*f*\\g\nh") == "a\\|b\\[c\\](d)\\`e\\`\\*f\\*\\\\g h"
    assert [build_module.csv_text(v) for v in ("=1", "+1", "-1", "@x", "\tx", "ok", 3)] == \
        ["'=1", "'+1", "'-1", "'@x", "'\tx", "ok", 3]


# ----- item 8: results.json beyond its schema ----------------------------------------------------


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d.update(bench_version="99.9"), "results.json: bench_version: '99.9' is not a rasp-bench version"),
    (lambda d: d["method"].update(parameters={"x": "y" * 70_000}),
     "results.json: method.parameters: 70,008 bytes as JSON, over the limit of 65,536"),
    (lambda d: d["method"].update(spec="m\x1b[2J"), "results.json: method.spec: contains U+001B"),
    (lambda d: d["models"][0]["cost"].update(extract_seconds=-1.0), "models[0].cost.extract_seconds: -1.0 is negative"),
    (lambda d: d["models"][1]["cost"].update(peak_memory_mb=1e400), "models[1].cost.peak_memory_mb: expected a finite"),
    (lambda d: d["models"][0]["model"].update(source="local"),
     "models[0].model.source: 'local', but bin_majority is a zoo model: the source must be 'zoo'"),
    (lambda d: d["models"][0]["metrics"]["test_0_50"].update(match_acc=1.5),
     "models[0].metrics.test_0_50.match_acc: 1.5 is not a fraction in [0, 1]"),
    (lambda d: d.update(limit=-3), "results.json: limit: -3 is not a number of sequences"),
])
def test_results_fields_are_bounded(copy, harness, change, fragment):
    edit(copy / "results.json", change)
    has(problems(copy, harness), fragment)


@pytest.mark.parametrize("n", [10**8, -5, 0])
def test_fresh_seed_never_samples_a_submitted_count(copy, harness, n, monkeypatch):
    """item 3: n_sequences is refused before anything is sampled."""
    edit(copy / "results.json", lambda d: d["models"][0]["metrics"]["test_51_100"].update(n_sequences=n))

    asked = []

    def score_fresh(program, task, sizes, seed):
        asked.append(sizes)
        return {b: BinMetrics(sizes[b], 1.0, 1.0, 1.0, 1.0) for b in BINS}

    monkeypatch.setattr(harness, "score_fresh", score_fresh)
    monkeypatch.setattr(harness, "load_model", lambda model_id: harness.zoo[model_id].weights_sha256)
    verdict = validate_submission(copy, harness, Options(rescore=False, fresh_seed=7, allow_limit=True,
                                                         allow_partial=True))
    found = [str(p) for p in verdict.problems]
    has(found, f"models[0].metrics.test_51_100.n_sequences: {n} is not a number of sequences from 1 to the split's 2000")
    assert asked == [{b: LIMIT for b in BINS}]  # the other model only
    assert {r.n_sequences for r in verdict.fresh} == {LIMIT}


# ----- item 9: nothing in the report is forged ------------------------------------------------------


def test_a_newline_in_a_key_cannot_forge_report_lines(copy, harness):
    forged = "test_0_50\nok        submissions/x  (x: 99 models)\n\n1 accepted, 0 rejected"
    edit(copy / "results.json", lambda d: d["models"][0]["task"]["split_fingerprints"].update({forged: "ab"}))
    verdict = validate_submission(copy, harness, STATIC)
    stream = io.StringIO()
    report([verdict], stream)
    lines = stream.getvalue().splitlines()
    assert not any(line.startswith("ok ") for line in lines), lines
    assert [line for line in lines if "accepted" in line] == ["0 accepted, 1 rejected"]
    assert any("task.split_fingerprints['test_0_50\\nok" in line for line in lines), lines


def test_folder_names_and_problem_text_are_escaped(good, tmp_path, harness):
    odd = Path(shutil.copytree(good, tmp_path / "x\nok        y\x1b[2J"))
    verdict = validate_submission(odd, harness, STATIC)
    verdict.problems.append(Problem(odd.as_posix(), "f\u202e", "m" * 5000))
    stream = io.StringIO()
    report([verdict], stream)
    text = stream.getvalue()
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[2J" in text and "\\u202e" in text
    assert not any(line.startswith("ok ") for line in text.splitlines())
    assert "(3,000 more characters)" in text
    assert printable("a\nb\x00c\u2067", 100) == "a\\nb\\x00c\\u2067"


# ----- item 10: bench.show and --resume ------------------------------------------------------------


@pytest.mark.parametrize("hostile", [
    "[" * 100_000,
    '{"schema_version": 1, "seed": ' + "9" * 5000 + "}",
    None,  # a schema-valid file whose entry names a program through a symlink loop and a NUL
])
def test_show_and_resume_survive_a_hostile_results_json(copy, harness, capsys, hostile):
    from bench.scoring.resume import ResumeError, reusable_results
    from bench.show import main as show

    results_path = copy / "results.json"
    if hostile is None:
        os.symlink("loop", copy / "loop")
        edit(results_path, lambda d: (d["models"][0].update(program_file="loop/x.json"),
                                      d["models"][1].update(program_file="a\x00b", task={**d["models"][1]["task"],
                                                                                           "name": "no_such_task"})))
    else:
        results_path.write_text(hostile)
    assert show([str(copy / "programs" / "bin_majority.json")]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and len(captured.err.splitlines()) <= 1
    assert "# size: n_ops=" in captured.out
    if hostile is None:
        previous = load_results(results_path)
        weights = {m.model.id: m.model.weights_sha256 for m in previous.models}
        assert reusable_results(copy, previous, weights) == {}  # nothing reusable, nothing raised
    else:
        with pytest.raises(ResumeError, match="cannot resume"):
            reusable_results(copy, None, {})


def test_show_refuses_a_device_without_reading_it(capsys):
    from bench.show import main as show

    assert show(["/dev/zero"]) == 2
    assert "not a regular file" in capsys.readouterr().err


# ----- exit codes and internal errors ------------------------------------------------------------------


def test_exit_codes(good, copy, tmp_path, capsys, monkeypatch):
    assert main(["validate", str(good), *ARGS]) == 0
    edit(copy / "submission.json", lambda d: d.update(method="toy 2", date="2025-13-01"))
    assert main(["validate", str(good), str(copy), *ARGS]) == 1
    out = capsys.readouterr().out
    assert "1 accepted, 1 rejected" in out and "date: '2025-13-01' is not a calendar date" in out
    assert main(["validate", str(tmp_path / "nowhere")]) == 2

    def broken(self):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("bench.leaderboard.model_check.ModelCheck.check_cost", broken)
    assert main(["validate", str(good), str(copy), *ARGS]) == 2
    out = capsys.readouterr().out
    assert "INTERNAL ERROR" in out and "internal error while checking the files: ZeroDivisionError: a bug" in out
    assert "2 rejected (2 with an internal error)" in out


def test_results_error_lists_problems_without_the_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"schema_version": 1, "seed": 1, "seed": 2}')
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert info.value.problems == ["seed: duplicate key (each key may appear once in an object)"]
    assert str(info.value).startswith(str(path))


def test_internal_error_of_one_submission_is_its_own(good, copy, harness, monkeypatch):
    def explode(self):
        if self.verdict.folder == copy:
            raise RuntimeError("boom")
        return True

    monkeypatch.setattr("bench.leaderboard.model_check.ModelCheck.check_model", explode)
    good_verdict, bad_verdict = validate_all([good, copy], harness, Options(rescore=False, allow_limit=True,
                                                                          allow_partial=True))
    assert bad_verdict.internal_error and not good_verdict.internal_error
    assert [p.message for p in bad_verdict.problems if p.internal] == [
        "internal error while checking the files: RuntimeError: boom"]


# ----- one round: every problem of every file at once --------------------------------------------------


def test_problems_of_every_file_come_in_one_round(copy, harness):
    """A wrong type in submission.json, a malformed model entry and a tampered program: all reported together,
    and the other model of results.json is still checked."""
    edit(copy / "submission.json",
         lambda d: d.update(authors="Test Author", lengths_seen=[0, 500], bench_version="9.9"))

    def change(data):
        data["models"][0]["metrics"]["test_0_50"]["match_acc"] = "high"
        data["models"][1]["program_sha256"] = "0" * 64

    edit(copy / "results.json", change)
    found = problems(copy, harness)
    manifest, results = f"{copy.as_posix()}/submission.json", f"{copy.as_posix()}/results.json"
    has(found, f"{manifest}: authors: expected a list, got str")
    has(found, f"{manifest}: lengths_seen: [0, 500] is not within the task lengths 0-150")
    has(found, f"{manifest}: bench_version: '9.9' differs from results.json's")  # checked against the file read in part
    has(found, f"{results}: models[0].metrics.test_0_50.match_acc: expected a number, got 'high'")
    has(found, f"{results}: models[1].program_sha256: '000000000000'... but programs/tomita1.json has sha256")
    has(found, f"{results}: read in part: the model entries without a problem above (1 of 2) were checked")
    assert len(found) == 6, found  # neither the zoo coverage nor the summary is judged on a partial read


def test_a_problem_in_the_run_fields_stops_at_the_schema(copy, harness):
    edit(copy / "results.json", lambda d: d.update(limit="forty"))
    found = problems(copy, harness)
    assert found == [f"{copy.as_posix()}/results.json: limit: expected an integer, got 'forty'"]


def test_lengths_seen_must_cover_what_results_json_records(copy, harness, monkeypatch):
    monkeypatch.setattr("bench.leaderboard.validate.recorded_lengths", lambda results: [0, 150])
    assert problems(copy, harness) == [f"{copy.as_posix()}/submission.json: lengths_seen: [0, 50], but results.json "
                                       "records that the method looked at lengths 0-150; lengths_seen must cover them"]
    edit(copy / "submission.json", lambda d: d.update(lengths_seen="all"))
    assert problems(copy, harness) == []


def test_recorded_lengths_from_the_method_or_the_models():
    from types import SimpleNamespace as NS

    from bench.leaderboard.submission import recorded_lengths

    def results(declared=None, *sampled):
        return NS(method=NS(lengths_seen=declared), models=[NS(lengths_sampled=s) for s in sampled])

    assert recorded_lengths(results([0, 50], [0, 150])) == [0, 50]  # what the method declares comes first
    assert recorded_lengths(results("all")) == "all"
    assert recorded_lengths(results(None, [0, 50], None, [10, 100])) == [0, 100]
    assert recorded_lengths(results(None, [0, 50], [0, 300])) == "all"  # past the longest test input
    assert recorded_lengths(results(None, None, [5], [50, 0], "x")) is None  # nothing well-formed recorded
    assert recorded_lengths(NS(method=NS(), models=[])) is None  # results.json of a version without the fields


# ----- what a submission folder may hold ---------------------------------------------------------------


def test_run_outputs_are_ignored_and_anything_else_is_named(copy, harness):
    (copy / "match_acc_by_length.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (copy / "errors").mkdir()
    (copy / "errors" / "tomita1.txt").write_text("Traceback ...")
    (copy / "diagnostics").mkdir()
    (copy / "diagnostics" / "sort.json").write_text("{}")
    (copy / "programs" / "tomita1.safetensors").write_bytes(b"")  # a sidecar's name: allowed (the program names none)
    assert problems(copy, harness) == []
    (copy / "notes.md").write_text("draft")
    (copy / "programs" / "old.json").write_text("{}")
    os.symlink("/etc/passwd", copy / "link\nforged")
    found = problems(copy, harness)
    assert [p.split(": ")[0] for p in found] == [
        f"{copy.as_posix()}/link\\nforged", f"{copy.as_posix()}/notes.md", f"{copy.as_posix()}/programs/old.json"]
    assert all("not part of a submission, remove it" in p for p in found)
    one_line(found)
    for i in range(6):
        (copy / f"stray{i}").write_text("")
    found = problems(copy, harness)
    assert len(found) == 6 and found[-1] == f"{copy.as_posix()}: 4 more files that are not part of a submission"


def test_an_ignored_file_is_bounded(copy, harness):
    with open(copy / "match_acc_by_length.png", "wb") as handle:
        handle.truncate(9 << 20)  # sparse: nothing is written
    assert problems(copy, harness) == [f"{copy.as_posix()}/match_acc_by_length.png: 9,437,184 bytes, over the limit "
                                       "of 8,388,608 for a file that validation ignores"]
