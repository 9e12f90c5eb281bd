"""Validation of submissions against the real zoo, tasks, program language and scoring.

A small submission is made here the way ``bench.evaluate`` makes one (two zoo
models, 40 sequences per bin), then copied and tampered with: every kind of
tampering must be rejected with a message naming the file and the field, and
the untouched copy must be accepted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import bench
import bench.program as rasp
from bench.data.splits import load_splits, split_batches, split_fingerprint
from bench.data.task import get_task
from bench.leaderboard.__main__ import main
from bench.leaderboard.harness import Harness
from bench.leaderboard.validate import Options, validate_all, validate_submission
from bench.models import hub
from bench.models.predict import predict
from bench.scoring.results import (
    Cost,
    MethodInfo,
    ModelInfo,
    ModelResult,
    Results,
    Size,
    TaskInfo,
    load_results,
    save_results,
)
from bench.scoring.run import program_filename
from bench.scoring.score import BATCH_SIZE, BinCounts, is_success, summarize

MODELS = ("bin_majority", "tomita1")  # one token task, one token-set task; both tiny
LIMIT = 40
LENIENT = Options(allow_limit=True, allow_partial=True)  # a 2-model, 40-sequence run


@pytest.fixture(autouse=True)
def own_verdicts(tmp_path, monkeypatch):
    """validate records accepted re-scorings: in this test's folder, not in the user's cache."""
    monkeypatch.setenv("RASP_BENCH_VERDICTS", str(tmp_path / "verdicts"))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on shared CPUs run far faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def needs_zoo():
    missing = [m for m in MODELS if m not in hub.load_manifest()["models"]]
    if missing:
        pytest.skip(f"zoo models {missing} are not in zoo/manifest.json yet")


def score_program(program, model, task, splits, limit):
    """The figures computed the direct way: the model's forward pass on every scored batch, here and now."""
    metrics = {}
    for bin_name in splits:
        counts = BinCounts()
        for batch in split_batches(task, splits[bin_name], BATCH_SIZE, limit, by_length=True):
            counts.add(batch, predict(model, batch, task.kind), rasp.run_program(program, batch))
        metrics[bin_name] = counts.metrics()
    return metrics


def program_for(task) -> rasp.Program:
    """A valid program of the task's kind: a majority vote (token) or a constant readout (token set)."""
    if task.kind == "token_set":
        return rasp.Program.for_task(task, rasp.readout(bias=np.array([-1, 1, -1, -1, 1, -1.0])), name="constant")
    ones = rasp.numerical(rasp.map(rasp.tokens, "x == 1"))
    frac = rasp.aggregate(rasp.select(rasp.tokens, rasp.tokens, rasp.TRUE), ones, numerical=True)
    return rasp.Program.for_task(task, rasp.map(frac, "x > 0.5", basis="tokens"), name="vote")


def make_submission(folder: Path, model_ids=MODELS, limit=LIMIT) -> Path:
    """results.json + programs/ as bench.evaluate writes them, and a submission.json."""
    models = []
    for model_id in model_ids:
        ref = hub.load_reference(model_id)
        task = get_task(ref.task_name)
        splits = load_splits(task)
        program = program_for(task)
        text = program.dumps()
        (folder / program_filename(model_id)).parent.mkdir(parents=True, exist_ok=True)
        (folder / program_filename(model_id)).write_text(text)
        metrics = score_program(program, ref.model, task, splits, limit)
        models.append(ModelResult(
            model=ModelInfo(model_id, "zoo", ref.entry["hub_repo"], ref.entry["revision"], ref.sha256, ref.entry.get("role")),
            task=TaskInfo(task.name, task.version, task.kind, {b: split_fingerprint(splits[b]) for b in splits}),
            status="ok", error=None, program_file=program_filename(model_id),
            program_sha256=hashlib.sha256(text.encode()).hexdigest(), metrics=metrics,
            size=Size(program.n_ops, program.depth, program.n_params), cost=Cost(0.1, 1.0),
            success=is_success(metrics, 0.9),
        ))
    results = Results(1, bench.__version__, None, "2025-01-01T00:00:00+00:00", MethodInfo("toy", "toy", {}), 0,
                      limit, 0.9, models, summarize(models))
    save_results(folder / "results.json", results)
    (folder / "submission.json").write_text(json.dumps({
        "method": "toy", "authors": ["Test Author"], "contact": "test@example.org",
        "description": "A majority vote and a constant readout.", "date": "2025-01-02",
        "bench_version": bench.__version__, "lengths_seen": [0, 50], "paper": None,
        "code": "https://example.org/toy",
    }, indent=1))
    return folder


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    needs_zoo()
    return make_submission(tmp_path_factory.mktemp("good") / "toy")


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()  # shared: splits and the last model are cached between tests


@pytest.fixture
def copy(good, tmp_path) -> Path:
    return Path(shutil.copytree(good, tmp_path / "toy"))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def problems(folder: Path, harness, options=LENIENT) -> list[str]:
    return [str(p) for p in validate_submission(folder, harness, options).problems]


def only(found: list[str], expected: str) -> None:
    """Exactly one problem, containing ``expected``."""
    assert len(found) == 1 and expected in found[0], found


def test_good_submission_is_accepted_and_gives_an_entry(good, harness):
    verdict = validate_submission(good, harness, LENIENT)
    assert verdict.problems == [] and verdict.ok
    entry = verdict.entry()
    assert entry.submission.method == "toy" and set(entry.programs) == set(MODELS)
    assert "readout" in entry.programs["tomita1"]


def test_tampered_match_acc(copy, harness):
    reported = {}

    def tamper(data):
        bins = data["models"][0]["metrics"]["test_0_50"]
        reported["re-scored"] = bins["match_acc"]
        bins["match_acc"] = round(1 - bins["match_acc"] / 2, 6)
        reported["claimed"] = bins["match_acc"]

    edit_json(copy / "results.json", tamper)
    found = problems(copy, harness)
    expected = (f"{copy.as_posix()}/results.json: models[0].metrics.test_0_50.match_acc: "
                f"reported {reported['claimed']!r}, re-scored {reported['re-scored']!r}")
    assert expected in found
    # the summary's mean no longer matches the (tampered) per-model figures either
    assert any("summary.mean_match_acc.test_0_50" in p for p in found)


def test_program_that_does_not_parse(copy, harness):
    path = copy / program_filename("bin_majority")
    edit_json(path, lambda p: p["nodes"][1].update(op="no_such_op"))
    edit_json(copy / "results.json", lambda d: d["models"][0].update(
        program_sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    found = problems(copy, harness)
    only(found, f"{path.as_posix()}: program does not parse:")
    assert "no_such_op" in found[0]


def test_program_changed_after_scoring_breaks_its_sha256(copy, harness):
    path = copy / program_filename("bin_majority")
    path.write_text(path.read_text().replace("x > 0.5", "x > 0.25"))
    only(problems(copy, harness), "results.json: models[0].program_sha256: ")


def test_programs_swapped_between_two_models(copy, harness):
    """Swapped files with consistent hashes: the token-set program does not fit the token task."""
    def swap(data):
        a, b = data["models"]
        for key in ("program_file", "program_sha256"):
            a[key], b[key] = b[key], a[key]

    edit_json(copy / "results.json", swap)
    found = problems(copy, harness)
    assert any("models[0].program_file: programs/tomita1.json does not fit the task" in p for p in found), found
    assert any("models[1].program_file: programs/bin_majority.json does not fit the task" in p for p in found), found


def test_other_program_with_its_own_hash_is_caught_by_rescoring(copy, harness):
    """A program replaced consistently (file and hash) but not re-scored: the figures give it away."""
    task = get_task("bin_majority")
    other = rasp.Program.for_task(task, rasp.map(rasp.tokens, "1", basis="tokens"), name="vote")
    path = copy / program_filename("bin_majority")
    path.write_text(other.dumps())

    def update(data):
        data["models"][0]["program_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        data["models"][0]["size"] = {"n_ops": other.n_ops, "depth": other.depth, "n_params": other.n_params}

    edit_json(copy / "results.json", update)
    results = load_results(copy / "results.json")
    results.summary = summarize(results.models)  # a careful forger fixes the summary too
    save_results(copy / "results.json", results)
    found = problems(copy, harness)
    per_model = [p for p in found if ": models[" in p]
    assert per_model and all("models[0].metrics." in p and "re-scored" in p for p in per_model), found
    # without re-scoring the forgery passes the static checks: that is why validate re-scores
    assert problems(copy, harness, Options(rescore=False, allow_limit=True, allow_partial=True)) == []


def test_a_repeated_model_is_rejected_without_being_re_scored(copy, harness, monkeypatch):
    edit_json(copy / "results.json", lambda d: d["models"].append(d["models"][0]))
    scored = []
    original = harness.score
    monkeypatch.setattr(harness, "score", lambda program, task, limit: scored.append(task.name) or original(
        program, task, limit))
    found = problems(copy, harness)
    assert any("model 'bin_majority' appears 2 times" in p for p in found), found
    assert scored == ["tomita1"]  # the repeated entries are rejected as they are, not run


def test_wrong_model_revision(copy, harness):
    edit_json(copy / "results.json", lambda d: d["models"][1]["model"].update(revision="0123abcd"))
    only(problems(copy, harness), "results.json: models[1].model.revision: '0123abcd' is not the zoo's")


def test_wrong_weights_and_unknown_model(copy, harness):
    def change(data):
        data["models"][0]["model"]["weights_sha256"] = "0" * 64
        data["models"][1]["model"]["id"] = "tomita_one"

    edit_json(copy / "results.json", change)
    found = problems(copy, harness)
    assert any("models[0].model.weights_sha256: '000" in p for p in found), found
    assert any("models[1].model.id: 'tomita_one' is not a zoo model" in p for p in found), found


def test_missing_fields(copy, harness):
    edit_json(copy / "submission.json", lambda d: d.pop("contact"))
    edit_json(copy / "results.json", lambda d: d["models"][0]["metrics"]["test_51_100"].pop("program_acc"))
    found = problems(copy, harness)
    assert f"{copy.as_posix()}/submission.json: contact: missing required field" in found
    assert f"{copy.as_posix()}/results.json: models[0].metrics.test_51_100.program_acc: missing required field" in found


def test_unknown_task(copy, harness):
    edit_json(copy / "results.json", lambda d: d["models"][0]["task"].update(name="bin_majorty"))
    found = problems(copy, harness)
    assert any("models[0].task.name: unknown task 'bin_majorty'. Did you mean 'bin_majority'?" in p for p in found)
    assert any("models[0].task.name: 'bin_majorty', but zoo model bin_majority is for task 'bin_majority'" in p
               for p in found)


def test_changed_split_fingerprint_and_task_version(copy, harness):
    def change(data):
        data["models"][0]["task"]["version"] = "0.9"
        data["models"][0]["task"]["split_fingerprints"]["test_101_150"] = "ab" * 32

    edit_json(copy / "results.json", change)
    found = problems(copy, harness)
    assert any("models[0].task.version: '0.9' is not the current version" in p for p in found), found
    assert any("models[0].task.split_fingerprints.test_101_150: abababababab... does not match" in p for p in found)


def test_results_of_another_schema_version(copy, harness):
    edit_json(copy / "results.json", lambda d: d.update(schema_version=2))
    only(problems(copy, harness), "results.json: schema_version 2 is not the supported version 1")


def test_tampered_size_success_and_summary(copy, harness):
    def change(data):
        data["models"][0]["size"]["n_ops"] = 1
        data["models"][1]["success"] = not data["models"][1]["success"]
        data["summary"]["n_success"] = 99

    edit_json(copy / "results.json", change)
    found = problems(copy, harness)
    flipped = json.loads((copy / "results.json").read_text())["models"][1]["success"]
    assert any("models[0].size.n_ops: reported 1, recomputed 5" in p for p in found), found
    assert any(f"models[1].success: reported {flipped}, recomputed {not flipped}" in p for p in found), found
    assert any("summary.n_success: reported 99, recomputed " in p for p in found), found


def test_program_path_outside_the_folder(copy, harness):
    edit_json(copy / "results.json", lambda d: d["models"][0].update(program_file="../../etc/passwd"))
    found = problems(copy, harness)
    assert len(found) == 2, found
    assert "models[0].program_file: '../../etc/passwd' is not a path inside the submission folder" in found[0]
    assert found[1].startswith(f"{copy.as_posix()}/programs/bin_majority.json: not part of a submission")  # no longer named


def test_leaderboard_rules_limit_coverage_threshold(copy, harness):
    edit_json(copy / "results.json", lambda d: d.update(match_threshold=0.5))
    found = problems(copy, harness, Options())
    assert any("results.json: limit: scored on the first 40 sequences" in p for p in found)
    assert any("results.json: models: missing zoo models" in p for p in found)
    assert any("results.json: match_threshold: 0.5; the leaderboard uses the published criterion 0.9" in p for p in found)


def test_duplicate_method_names_are_rejected(good, tmp_path, harness):
    a = shutil.copytree(good, tmp_path / "a")
    b = shutil.copytree(good, tmp_path / "b")
    verdicts = validate_all([a, b], harness, Options(rescore=False, allow_limit=True, allow_partial=True))
    assert [len(v.problems) for v in verdicts] == [1, 1]
    assert f"'toy' is also the method of {b.as_posix()}" in str(verdicts[0].problems[0])


def test_fresh_seed_reports_per_model_and_bin(good, harness):
    options = Options(fresh_seed=7, allow_limit=True, allow_partial=True)
    verdict = validate_submission(good, harness, options)
    assert verdict.ok
    assert [(r.model, r.bin) for r in verdict.fresh] == [(m, b) for m in MODELS for b in
                                                         ("test_0_50", "test_51_100", "test_101_150")]
    constant = [r for r in verdict.fresh if r.model == "tomita1"]
    assert all(r.n_sequences == LIMIT and r.fresh == 1.0 and r.drop == 0.0 for r in constant)
    again = validate_submission(good, harness, options)
    assert [r.fresh for r in again.fresh] == [r.fresh for r in verdict.fresh]  # the seed fixes the sequences
    # fresh sequences are new: a program's score on them differs somewhere from the frozen one
    majority = [r for r in verdict.fresh if r.model == "bin_majority"]
    assert any(r.fresh != r.reported for r in majority)
    strict = validate_submission(good, harness, Options(fresh_seed=7, max_drop=0.0, allow_limit=True, allow_partial=True))
    dropped = [r for r in majority if r.drop > 0]
    assert len(strict.problems) == len(dropped)
    assert all("on fresh sequences (seed 7)" in str(p) for p in strict.problems)


def test_cli_exit_codes_and_report(good, copy, capsys):
    assert main(["validate", str(good), "--allow-limit", "--allow-partial", "--no-rescore"]) == 0
    assert "ok        " in capsys.readouterr().out
    edit_json(copy / "submission.json", lambda d: d.update(method="toy 2"))
    edit_json(copy / "results.json", lambda d: d["models"][0]["metrics"]["test_0_50"].update(n_sequences=41))
    assert main(["validate", str(good), str(copy), "--allow-limit", "--allow-partial"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "models[0].metrics.test_0_50.n_sequences: reported 41, re-scored 40" in out
    assert "1 accepted, 1 rejected" in out
    assert main(["validate", str(copy / "nowhere")]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--max-drop", "0.1"])
    assert exit_info.value.code == 2


def test_harness_scores_exactly_as_bench_evaluate(harness):
    """The harness scores against stored predictions shared between submissions; the figures are the forward pass's."""
    needs_zoo()
    for model_id in MODELS:
        ref = hub.load_reference(model_id)
        task = get_task(ref.task_name)
        program = program_for(task)
        assert harness.load_model(model_id) == ref.sha256
        for limit in (LIMIT, 7):
            expected = score_program(program, ref.model, task, load_splits(task), limit)
            assert harness.score(program, task, limit) == expected
            assert harness.score(program, task, limit) == expected  # from the cache


def test_cli_build_skips_rejected_submissions(good, tmp_path, capsys):
    """The leaderboard is strict: the toy run (2 models, 40 sequences) is skipped with its reasons."""
    shutil.copytree(good, tmp_path / "submissions" / "toy")
    out = tmp_path / "leaderboard"
    args = ["build", "--submissions", str(tmp_path / "submissions"), "--out", str(out), "--no-rescore"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "skipped (rejected)" in captured.err and "limit: scored on the first 40 sequences" in captured.err
    assert "from 0 submission(s); 1 rejected" in captured.out
    assert "toy" not in (out / "leaderboard.csv").read_text()
    assert main(args + ["--strict"]) == 1
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["build", "--submissions", str(tmp_path / "submissions"), "--out", str(tmp_path / "mine")]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err


def test_worker_processes_give_the_same_verdicts(good, copy, harness):
    """--jobs N scores in forked workers; the problems found (a tampered figure here) are the same."""
    edit_json(copy / "results.json", lambda data: data["models"][1]["metrics"]["test_51_100"].update(match_acc=0.123))
    one = validate_all([good, copy], harness, LENIENT)
    two = validate_all([good, copy], Harness(), LENIENT, jobs=2)
    assert [v.problems for v in one] == [v.problems for v in two]
    assert not any("re-scored" in str(p) for p in one[0].problems)
    assert any("models[1].metrics.test_51_100.match_acc: reported 0.123" in str(p) for p in one[1].problems)
