"""What a researcher debugging an extraction gets from the harness: tracebacks kept, an exit status
that says when nothing was extracted, the method list, a portable method spec, the lengths the
method sampled, clear model errors, and tables whose numbers read the same everywhere."""

from __future__ import annotations

import pytest

import bench.program as rasp
from bench.data.task import get_task
from bench.evaluate import main
from bench.scoring.report import summary_table
from bench.scoring.results import load_results
from bench.scoring.run import error_filename, portable_spec
from test_evaluate import run as evaluate_run, write_method

MODELS = ["bin_majority", "tomita1"]


def run(tmp_path, method, *extra, models=MODELS, limit=30):
    return evaluate_run(tmp_path, method, *extra, models=models, limit=limit)


RAISES_INSIDE = """
    def deep_inside(task):
        raise ValueError(f"no program for {task.name}")

    class Fails:
        name = "fails"

        def extract(self, model, task):
            task.sample_batch(4, 3, 17)
            return deep_inside(task)
"""


def test_every_extraction_failing_exits_1_and_keeps_the_tracebacks(tmp_path, capsys):
    code, out = run(tmp_path, str(write_method(tmp_path, RAISES_INSIDE)))
    assert code == 1
    captured = capsys.readouterr()
    assert "no extraction succeeded (2 failed)" in captured.err
    for model_id in MODELS:
        trace = (out / error_filename(model_id)).read_text()
        assert "Traceback (most recent call last)" in trace
        assert "in deep_inside" in trace and f"ValueError: no program for {model_id}" in trace
        assert f"traceback: {out / error_filename(model_id)}" in captured.out
    # the method sampled lengths 3..17 before failing: recorded per model
    results = load_results(out / "results.json")
    assert [m.lengths_sampled for m in results.models] == [[3, 17], [3, 17]]


def test_verbose_prints_the_tracebacks(tmp_path, capsys):
    code, _ = run(tmp_path, str(write_method(tmp_path, RAISES_INSIDE)), "--verbose", models=["tomita1"])
    assert code == 1
    shown = capsys.readouterr().out
    assert "in deep_inside" in shown and "ValueError: no program for tomita1" in shown


SUCCEEDS_AFTER_ALL = """
    from bench.baselines.lookup import Lookup

    class Fixed(Lookup):
        name = "fails"
"""


def test_a_traceback_goes_when_the_model_later_succeeds(tmp_path):
    code, out = run(tmp_path, str(write_method(tmp_path, RAISES_INSIDE)), models=["tomita1"])
    assert code == 1 and (out / error_filename("tomita1")).is_file()
    code, out = run(tmp_path, str(write_method(tmp_path, SUCCEEDS_AFTER_ALL, "fixed.py")), models=["tomita1"])
    assert code == 0
    assert not (out / error_filename("tomita1")).exists()
    results = load_results(out / "results.json")
    assert results.models[0].lengths_sampled == [0, 50]  # lookup samples the training lengths


def test_a_partly_failing_run_exits_0(tmp_path):
    body = RAISES_INSIDE.replace("return deep_inside(task)", "return None if task.name == 'tomita1' else "
                                 "__import__('bench.data.oracles', fromlist=['x']).get_oracle(task.name)")
    code, out = run(tmp_path, str(write_method(tmp_path, body)))
    assert code == 0
    assert [m.status for m in load_results(out / "results.json").models] == ["ok", "error"]


def test_list_shows_every_registered_method_with_a_description(capsys):
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:] if line.strip() and not line.startswith("Also")}
    assert {"oracle", "lookup", "decompile", "decompile-50"} <= set(listed)
    assert all(text.strip() for text in listed.values())


def test_no_method_and_no_list_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "method (or --list)" in capsys.readouterr().err


def test_recorded_spec_holds_no_folder_of_this_machine(tmp_path, monkeypatch):
    inside = tmp_path / "work" / "methods"
    inside.mkdir(parents=True)
    method_file = write_method(inside, SUCCEEDS_AFTER_ALL, "mine.py")
    monkeypatch.chdir(tmp_path / "work")
    assert portable_spec(str(method_file)) == "methods/mine.py"
    assert portable_spec(f"{method_file}:Fixed") == "methods/mine.py:Fixed"
    outside = write_method(tmp_path, SUCCEEDS_AFTER_ALL, "elsewhere.py")
    assert portable_spec(str(outside)) == "elsewhere.py"
    assert portable_spec("oracle") == "oracle"
    assert portable_spec("bench.baselines.lookup:Lookup") == "bench.baselines.lookup:Lookup"
    code = main([str(method_file), "--models", "tomita1", "--limit", "10", "--out", "run"])
    assert code == 0
    spec = load_results(tmp_path / "work" / "run" / "results.json").method.spec
    assert spec == "methods/mine.py" and str(tmp_path) not in spec


@pytest.mark.parametrize("spec, expected", [
    ("bin_majorty", "Did you mean 'bin_majority'"),
    ("./no/such/folder", "does not exist (no such folder)"),
])
def test_unknown_models_get_a_clear_message(tmp_path, capsys, spec, expected):
    assert main(["oracle", "--models", spec, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_summary_numbers_keep_three_decimals(tmp_path, capsys):
    code, out = run(tmp_path, "oracle", models=["bin_majority"])
    assert code == 0
    table = summary_table(load_results(out / "results.json"))
    row = next(line for line in table.splitlines() if line.startswith("| bin_majority"))
    assert "| 1.000 " in row and "1.000/1.000/1.000" in row


def test_for_task_takes_notes():
    task = get_task("bin_majority")
    program = rasp.Program.for_task(task, rasp.map(rasp.tokens, "x", basis="tokens"), notes="found by hand")
    assert program.notes == "found by hand"
    assert rasp.Program.from_json(program.to_json()).notes == "found by hand"


WITH_DETAILS = """
    from bench.baselines.lookup import Lookup

    class Reports(Lookup):
        name = "reports"

        def details(self):
            return {"matched": {"mlp0": "erase"}, "steps": [1, 2, 3]}

    class TooMuch(Lookup):
        name = "too_much"

        def details(self):
            return {"x": "y" * 20_000}

    class Broken(Lookup):
        name = "broken"

        def details(self):
            raise RuntimeError("no report today")
"""


@pytest.mark.parametrize("obj, expected", [
    ("Reports", {"matched": {"mlp0": "erase"}, "steps": [1, 2, 3]}),
    ("TooMuch", "gave 20,009 characters of JSON, over 16,000"),
    ("Broken", "details() failed: RuntimeError: no report today"),
])
def test_what_a_method_reports_per_model_is_kept_with_its_results(tmp_path, obj, expected):
    path = write_method(tmp_path, WITH_DETAILS, "reports.py")
    code, out = run(tmp_path, f"{path}:{obj}", models=["tomita1"])
    assert code == 0  # the program is the result: a failing report never fails the extraction
    (entry,) = load_results(out / "results.json").models
    assert entry.status == "ok"
    if isinstance(expected, dict):
        assert entry.details == expected
    else:
        assert expected in entry.details["unavailable"]
    code, out = run(tmp_path, f"{path}:{obj}", "--resume", models=["tomita1"])  # kept as it was on resume
    assert load_results(out / "results.json").models[0].details == entry.details


def test_a_method_without_details_records_none(tmp_path):
    code, out = run(tmp_path, "lookup", models=["tomita1"])
    assert load_results(out / "results.json").models[0].details is None
