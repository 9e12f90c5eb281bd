"""The harness end to end on small bundled models: methods by name, module and file; failures as data."""

from __future__ import annotations

import json
import textwrap

import pytest

from bench.evaluate import main
from bench.scoring.methods import MethodError, resolve_method
from bench.scoring.results import load_results

# Two tiny bundled models: a token task and a token-set task.
MODELS = ["bin_majority", "tomita1"]


def run(tmp_path, method, *extra, models=MODELS, limit=40):
    out = tmp_path / "out"
    code = main([method, "--models", *models, "--limit", str(limit), "--out", str(out), *extra])
    return code, out


def write_method(tmp_path, body: str, name="my_method.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


LOOKUP_BY_FILE = """
    from bench.baselines.lookup import Lookup

    class FromFile(Lookup):
        name = "from_file"
"""


def test_method_given_as_a_file_path(tmp_path):
    path = write_method(tmp_path, LOOKUP_BY_FILE)
    code, out = run(tmp_path, str(path))
    assert code == 0
    results = load_results(out / "results.json")
    assert results.method.name == "from_file"
    assert [m.model.id for m in results.models] == MODELS
    for m in results.models:
        assert m.status == "ok" and set(m.metrics) == {"test_0_50", "test_51_100", "test_101_150"}
        assert m.metrics["test_0_50"].n_sequences == 40
        assert (out / m.program_file).is_file()


def test_a_method_file_that_imports_numpy_and_torch_resolves(tmp_path):
    """numpy has a module-level ``extract`` function: an imported module is not a method."""
    path = write_method(tmp_path, """
        import numpy as np
        import torch
        from numpy import extract  # an imported function with that name is not one either

        import bench.program as rasp

        class Mine:
            name = "mine"

            def extract(self, model, task):
                return rasp.Program.for_task(task, rasp.map(rasp.tokens, "x", basis="tokens"), name="mine")
    """)
    assert resolve_method(str(path)).name == "mine"


def test_method_given_as_a_module(tmp_path):
    method = resolve_method("bench.baselines.lookup:Lookup")
    assert method.name == "lookup"


def test_unknown_method_lists_the_registered_ones(capsys):
    with pytest.raises(MethodError, match="Registered methods: .*lookup.*oracle"):
        resolve_method("lokup")
    assert main(["lokup", "--limit", "1"]) == 2
    assert "Did you mean 'lookup'" in capsys.readouterr().err


def test_unknown_task_is_a_clear_error(capsys):
    assert main(["lookup", "--tasks", "sortt", "--limit", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'sortt'" in err and "Traceback" not in err


RAISES_ON_TOMITA1 = """
    from bench.baselines.lookup import Lookup

    class Flaky(Lookup):
        name = "flaky"

        def extract(self, model, task):
            if task.name == "tomita1":
                raise RuntimeError("cannot handle languages")
            return super().extract(model, task)
"""


def test_a_method_that_raises_is_recorded_and_the_run_goes_on(tmp_path):
    code, out = run(tmp_path, str(write_method(tmp_path, RAISES_ON_TOMITA1)))
    assert code == 0
    results = load_results(out / "results.json")
    by_id = {m.model.id: m for m in results.models}
    assert by_id["tomita1"].status == "error"
    assert by_id["tomita1"].error == "RuntimeError: cannot handle languages"
    assert not by_id["tomita1"].success and by_id["tomita1"].metrics == {}
    assert by_id["bin_majority"].status == "ok" and by_id["bin_majority"].metrics
    assert results.summary.n_models == 2


GARBAGE_AND_HANG = """
    import time

    class Bad:
        name = "bad"

        def extract(self, model, task):
            if task.name == "tomita1":
                time.sleep(60)
            return {"output": "not a program"}
"""


def test_garbage_and_hanging_methods_are_failures(tmp_path):
    code, out = run(tmp_path, str(write_method(tmp_path, GARBAGE_AND_HANG)), "--time-limit", "3")
    assert code == 1  # no model's extraction succeeded
    by_id = {m.model.id: m for m in load_results(out / "results.json").models}
    assert "not a bench.program.Program" in by_id["bin_majority"].error
    assert "did not finish within 3 s" in by_id["tomita1"].error


SPY = """
    import json, os
    from bench.baselines.lookup import Lookup

    class Spy(Lookup):
        name = "spy"

        def extract(self, model, task):
            import datasets
            from bench.models.model import GPT2
            from bench.scoring.methods import TaskView
            seen = {"model": type(model).__name__, "task": type(task).__name__,
                    "task_fields": sorted(vars(task)),
                    "is_dataset": [isinstance(v, (datasets.Dataset, datasets.DatasetDict))
                                   for v in list(vars(task).values()) + list(vars(task.task).values())]}
            with open(os.environ["SPY_OUT"], "a") as f:
                f.write(json.dumps(seen) + "\\n")
            return super().extract(model, task)
"""


def test_the_method_never_receives_a_test_split(tmp_path, monkeypatch):
    spy_out = tmp_path / "spy.jsonl"
    monkeypatch.setenv("SPY_OUT", str(spy_out))
    code, _ = run(tmp_path, str(write_method(tmp_path, SPY)))
    assert code == 0
    seen = [json.loads(line) for line in spy_out.read_text().splitlines()]
    assert len(seen) == 2
    for s in seen:
        assert s["model"] == "GPT2" and s["task"] == "TaskView"
        assert s["task_fields"] == ["_lengths", "rng", "task"]  # _lengths: the range asked of sample_batch
        assert not any(s["is_dataset"])


def test_same_seed_gives_identical_results(tmp_path):
    first = tmp_path / "a"
    second = tmp_path / "b"
    assert main(["lookup", "--models", *MODELS, "--limit", "30", "--out", str(first), "--seed", "7"]) == 0
    assert main(["lookup", "--models", *MODELS, "--limit", "30", "--out", str(second), "--seed", "7"]) == 0
    a, b = load_results(first / "results.json"), load_results(second / "results.json")
    for x, y in zip(a.models, b.models):
        x.cost = y.cost = None  # wall-clock time and memory legitimately differ
    assert a.models == b.models and a.summary == b.summary
    for m in a.models:
        assert (first / m.program_file).read_bytes() == (second / m.program_file).read_bytes()


def test_a_local_checkpoint_folder_can_be_scored(tmp_path):
    from bench.models.hub import zoo_dir

    code, out = run(tmp_path, "lookup", "--task", "bin_majority", models=[str(zoo_dir() / "bin_majority")])
    assert code == 0
    (result,) = load_results(out / "results.json").models
    assert result.model.source == "local" and result.task.name == "bin_majority"
