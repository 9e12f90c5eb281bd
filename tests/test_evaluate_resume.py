"""``--jobs`` (extractions side by side) and ``--resume`` (keep what an earlier run finished)."""

from __future__ import annotations

import json
import textwrap

from bench.evaluate import main
from bench.scoring.results import load_results

MODELS = ["bin_majority", "tomita1", "tomita2"]

COUNTING_LOOKUP = """
    import os
    from bench.baselines.lookup import Lookup

    class Counting(Lookup):
        name = "counting"

        def extract(self, model, task):
            with open(os.environ["CALLS_OUT"], "a") as f:
                f.write(task.name + "\\n")
            return super().extract(model, task)
"""


def method_file(tmp_path, body=COUNTING_LOOKUP):
    path = tmp_path / "counting.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def evaluate(method, out, *extra, models=MODELS):
    return main([method, "--models", *models, "--limit", "30", "--out", str(out), *extra])


def calls(tmp_path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().split() if path.exists() else []


def comparable(results):
    for m in results.models:
        m.cost = None  # wall-clock time and memory legitimately differ between runs
    return results.models, results.summary


def test_jobs_give_the_same_results_and_programs_as_one_at_a_time(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert evaluate("lookup", one) == 0
    assert evaluate("lookup", two, "--jobs", "2") == 0
    a, b = load_results(one / "results.json"), load_results(two / "results.json")
    assert [m.model.id for m in b.models] == MODELS  # the order of the models, not of finishing
    assert comparable(a) == comparable(b)
    for m in a.models:
        assert (one / m.program_file).read_bytes() == (two / m.program_file).read_bytes()


HANGS_ON_TOMITA1 = """
    import time
    from bench.baselines.lookup import Lookup

    class Hangs(Lookup):
        name = "hangs"

        def extract(self, model, task):
            if task.name == "tomita1":
                time.sleep(60)
            return super().extract(model, task)
"""


def test_jobs_keep_the_time_limit_of_each_extraction(tmp_path):
    out = tmp_path / "out"
    assert evaluate(method_file(tmp_path, HANGS_ON_TOMITA1), out, "--jobs", "2", "--time-limit", "4") == 0
    by_id = {m.model.id: m for m in load_results(out / "results.json").models}
    assert "did not finish within 4 s" in by_id["tomita1"].error
    assert by_id["bin_majority"].status == by_id["tomita2"].status == "ok"


def test_resume_keeps_finished_models_and_evaluates_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLS_OUT", str(tmp_path / "calls.txt"))
    method, out = method_file(tmp_path), tmp_path / "out"
    assert evaluate(method, out, models=MODELS[:2]) == 0
    first = load_results(out / "results.json")
    assert calls(tmp_path) == ["bin_majority", "tomita1"]

    assert evaluate(method, out, "--resume") == 0
    assert calls(tmp_path) == ["bin_majority", "tomita1", "tomita2"]  # only the new model was extracted
    resumed = load_results(out / "results.json")
    assert [m.model.id for m in resumed.models] == MODELS
    assert resumed.models[:2] == first.models  # kept verbatim, cost included
    assert resumed.summary.n_models == 3

    assert evaluate(method, out, "--resume") == 0  # nothing left to do
    assert len(calls(tmp_path)) == 3


def test_resume_redoes_a_model_whose_program_file_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLS_OUT", str(tmp_path / "calls.txt"))
    method, out = method_file(tmp_path), tmp_path / "out"
    assert evaluate(method, out, models=MODELS[:2]) == 0
    program = out / load_results(out / "results.json").models[1].program_file
    data = json.loads(program.read_text())
    data["name"] = "edited"
    program.write_text(json.dumps(data))
    assert evaluate(method, out, "--resume", models=MODELS[:2]) == 0
    assert calls(tmp_path) == ["bin_majority", "tomita1", "tomita1"]
    assert json.loads(program.read_text())["name"] != "edited"


def test_resume_refuses_results_made_with_other_settings(tmp_path, capsys):
    out = tmp_path / "out"
    assert evaluate("lookup", out, models=MODELS[:1]) == 0
    before = (out / "results.json").read_bytes()
    assert evaluate("lookup", out, "--resume", "--seed", "3", models=MODELS[:1]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and "seed: 0 -> 3" in err and "Traceback" not in err
    assert evaluate("oracle", out, "--resume", models=MODELS[:1]) == 2
    assert "method: 'lookup' -> 'oracle'" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before  # nothing lost


def test_resume_refuses_an_unreadable_results_file(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{not json")
    assert evaluate("lookup", out, "--resume", models=MODELS[:1]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_jobs_cannot_be_combined_with_no_isolate(tmp_path, capsys):
    assert evaluate("lookup", tmp_path / "out", "--jobs", "2", "--no-isolate") == 2
    assert "--no-isolate" in capsys.readouterr().err


FAILS_ON_TOMITA1 = """
    import os
    from bench.baselines.lookup import Lookup

    class FailsOnce(Lookup):
        name = "fails_once"

        def extract(self, model, task):
            with open(os.environ["CALLS_OUT"], "a") as f:
                f.write(task.name + "\\n")
            if task.name == "tomita1" and not os.path.exists(os.environ["CALLS_OUT"] + ".retry"):
                raise RuntimeError("transient")
            return super().extract(model, task)
"""


def test_resume_retries_failed_extractions(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLS_OUT", str(tmp_path / "calls.txt"))
    method, out = method_file(tmp_path, FAILS_ON_TOMITA1), tmp_path / "out"
    assert evaluate(method, out, models=MODELS[:2]) == 0
    assert [m.status for m in load_results(out / "results.json").models] == ["ok", "error"]
    (tmp_path / "calls.txt.retry").touch()
    assert evaluate(method, out, "--resume", models=MODELS[:2]) == 0
    assert calls(tmp_path) == ["bin_majority", "tomita1", "tomita1"]
    assert [m.status for m in load_results(out / "results.json").models] == ["ok", "ok"]
