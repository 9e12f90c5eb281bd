"""bench.inspect finds where a program and a model disagree, by the rule scoring uses.

Expected disagreements are computed here a second way: from the model's
stored predictions per split row (``BinPredictions`` offsets) and the gold
labels of the split, without the scored batches ``bench.inspect`` runs on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data.oracles import get_oracle
from bench.data.splits import load_splits
from bench.data.task import get_task
from bench.inspect import main
from bench.models import predictions as model_predictions
from bench.models.model_ref import zoo_refs
from bench.program import Program, map
from bench.scoring.diagnose import Diagnostics, Example, diagnose, marked_sequence
from bench.scoring.results import BINS
from bench.scoring.schema import SchemaError
from bench.scoring.score import score_program

REPO = Path(__file__).resolve().parents[1]
LIMIT = 200  # sequences per bin: the whole suite of checks stays within a few seconds


@pytest.fixture(autouse=True)
def cache(split_cache, monkeypatch):
    """The command line loads splits through $RASP_BENCH_CACHE: the session's private cache."""
    monkeypatch.setenv("RASP_BENCH_CACHE", str(split_cache))


def zoo_model(model_id: str, split_cache):
    """``(task, splits, stored predictions)`` of a zoo model (its shipped predictions, no forward pass)."""
    ref = zoo_refs()[model_id]
    task = get_task(ref.task)
    splits = load_splits(task, cache_dir=split_cache)
    stored = model_predictions.for_model(ref.id, ref.weights_sha256, task, splits, None, entry=ref.entry)
    return task, splits, stored


@pytest.fixture(scope="module")
def sort_model(split_cache):
    return zoo_model("sort", split_cache)


@pytest.fixture(scope="module")
def tomita3_model(split_cache):
    return zoo_model("tomita3", split_cache)


@pytest.fixture(scope="module")
def wrong_sort(sort_model):
    """The diagnostics of :func:`sort_seven_to_eight` against the sort model, 4 examples per bin."""
    task, splits, stored = sort_model
    return diagnose(sort_seven_to_eight(), task, splits, stored, limit=LIMIT, examples=4)


def sort_seven_to_eight(name: str = "sort") -> Program:
    """The sort oracle (right everywhere), made to answer 8 wherever the answer is 7."""
    task, oracle = get_task("sort"), get_oracle("sort")
    return Program.for_task(task, map(oracle.output, "x + 1 if x == 7 else x", basis="tokens"), name=name)


def expected_disagreements(task, split, stored, wrong_answer, limit: int) -> dict[int, dict]:
    """Per disagreeing row (of the first ``limit``): positions, program, model and gold tokens, by hand.

    ``wrong_answer(gold)`` is what the program predicts at the scored positions of a token task.
    """
    gold = model_predictions.gold(task, split)
    out = {}
    for row in range(limit):
        lo, hi = stored.offsets[row], stored.offsets[row + 1]
        model, want = stored.values[lo:hi], gold.values[lo:hi]
        program = wrong_answer(want)
        differ = np.flatnonzero(program != model)
        if differ.size:
            first = int(np.flatnonzero(task.labels(split[row]["input_ids"])[0])[0])  # the first scored position
            out[row] = {"positions": (first + differ).tolist(), "program": program[differ].tolist(),
                        "model": model[differ].tolist(), "gold": want[differ].tolist()}
    return out


def test_a_wrong_program_disagrees_where_and_as_computed_by_hand(sort_model, wrong_sort):
    task, splits, stored = sort_model
    found = wrong_sort
    perturbed_seen = False
    for name in BINS:
        expected = expected_disagreements(task, splits[name], stored.bins[name],
                                          lambda gold: np.where(gold == 7, 8, gold), LIMIT)
        bin_found = found.bins[name]
        assert bin_found.disagreeing == len(expected)
        assert [e.row for e in bin_found.examples] == sorted(expected)[:4]
        for example in bin_found.examples:
            want = expected[example.row]
            assert example.positions == want["positions"]
            assert example.program == task.vocab.decode(want["program"])
            assert example.model == task.vocab.decode(want["model"])
            assert example.gold == task.vocab.decode(want["gold"])
            assert example.length == splits[name][example.row]["length"]
            assert example.sequence == task.describe(splits[name][example.row]["input_ids"])
            answers = zip(example.program, example.model, example.gold)
            perturbed_seen |= any(p == "8" and m == g == "7" for p, m, g in answers)
    assert perturbed_seen  # the perturbation itself is found, not only the model's own errors


def test_by_length_counts_sum_to_the_scores_of_score_program(sort_model, wrong_sort, tomita3_model):
    tomita3 = get_oracle("tomita3")
    for (task, splits, stored), program, found in (
        (sort_model, sort_seven_to_eight(), wrong_sort),
        (tomita3_model, tomita3, diagnose(tomita3, *tomita3_model, limit=LIMIT)),
    ):
        scores = score_program(program, task, splits, stored, LIMIT)
        assert found.metrics() == scores
        for name in BINS:
            by_length, metrics = found.bins[name].by_length, scores[name]
            lo, hi = (int(x) for x in name.split("_")[1:])
            assert all(lo <= n <= hi for n in by_length.length) and by_length.length == sorted(by_length.length)
            assert sum(by_length.sequences) == metrics.n_sequences == LIMIT
            assert sum(by_length.matched) / LIMIT == metrics.match_acc
            lengths = np.asarray(splits[name]["length"][:LIMIT])
            assert by_length.sequences == [int((lengths == n).sum()) for n in by_length.length]


def test_the_oracle_disagrees_only_where_the_model_is_wrong(split_cache, sort_model):
    # Measured: the tomita1 model is right on every sequence of every bin (as are ab_d_bc and
    # bin_majority), so its oracle disagrees nowhere; the sort model errs (on short sequences: 0.978 on
    # test_0_50, 1.0 beyond), and the oracle disagrees exactly there.
    task, splits, stored = zoo_model("tomita1", split_cache)
    found = diagnose(get_oracle("tomita1"), task, splits, stored)
    assert [found.bins[b].counts.sequences for b in BINS] == [2000] * 3
    assert all(found.bins[b].disagreeing == 0 and found.bins[b].examples == [] for b in BINS)
    assert all(sum(found.bins[b].by_length.matched) == 2000 for b in BINS)
    task, splits, stored = sort_model
    found = diagnose(get_oracle("sort"), task, splits, stored, limit=LIMIT)
    for name in BINS:
        counts = found.bins[name].counts
        assert counts.program_correct == counts.sequences
        assert found.bins[name].disagreeing == counts.sequences - counts.model_correct
        for example in found.bins[name].examples:
            assert example.program == example.gold and all(m != g for m, g in zip(example.model, example.gold))
    assert found.bins["test_0_50"].disagreeing > 0


def test_token_sets_disagree_on_any_bit(tomita3_model):
    task, splits, stored = tomita3_model
    found = diagnose(get_oracle("tomita3"), task, splits, stored, limit=LIMIT, examples=3, bins=["test_0_50"])
    assert list(found.bins) == ["test_0_50"]
    examples = found.bins["test_0_50"].examples
    assert len(examples) == 3
    for example in examples:
        assert all(p.startswith("{") and p == g != m for p, m, g in zip(example.program, example.model, example.gold))
        labels = task.labels(splits["test_0_50"][example.row]["input_ids"])[0]
        assert all(labels[t] for t in example.positions)  # only scored positions are reported


def test_a_program_for_another_vocabulary_is_refused(tomita3_model):
    from bench.data.task import TaskError

    task, splits, stored = tomita3_model
    with pytest.raises(TaskError, match="vocab_size"):
        diagnose(get_oracle("sort"), task, splits, stored, limit=10)


def test_the_json_form_reads_back_and_refuses_a_bad_one(wrong_sort):
    data = json.loads(json.dumps(wrong_sort.to_json()))
    assert Diagnostics.from_json(data) == wrong_sort
    data["bins"]["test_0_50"]["examples"][0]["positions"] = "12"
    with pytest.raises(SchemaError, match=r"test_0_50\.examples\[0\]\.positions: expected a list"):
        Diagnostics.from_json(data)
    with pytest.raises(SchemaError, match="schema_version"):
        Diagnostics.from_json({**data, "schema_version": 99})


def test_long_sequences_are_cut_to_the_marked_tokens():
    tokens = [str(i) for i in range(100)]
    example = Example(0, 100, " ".join(tokens), 100, [50], ["x"], ["y"], ["y"])
    shown = marked_sequence(example)
    assert shown == "0 ... 44 45 46 47 48 49 [50] 51 52 53 54 55 56 ... 99"
    short = Example(0, 3, "a b c", 3, [1], ["x"], ["y"], ["y"])
    assert marked_sequence(short) == "a [b] c"


# ----- the command line -----------------------------------------------------------------------


def test_the_command_prints_tables_and_examples_and_writes_plot_and_json(tmp_path, capsys):
    program = tmp_path / "wrong_sort.json"
    sort_seven_to_eight(name="wrong $\\frac$ sort").save(program)  # not mathtext in the plot's title
    plot, out = tmp_path / "by_length.png", tmp_path / "diag.json"
    assert main([str(program), "--model", "sort", "--limit", "30", "--examples", "1", "--plot", str(plot),
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("wrong $\\frac$ sort vs model sort (sort)\n")
    assert "disagreeing" in printed and "match_acc by exact length L:" in printed
    assert printed.count("scored positions differ") == 3  # one example per bin
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    found = Diagnostics.from_json(json.loads(out.read_text()))
    assert found.model == "sort" and found.limit == 30 and list(found.bins) == list(BINS)
    assert all(len(b.examples) == 1 and b.counts.sequences == 30 for b in found.bins.values())


def test_the_model_recorded_in_results_json_is_the_default(capsys):
    program = REPO / "submissions" / "oracle" / "programs" / "bin_majority.json"
    assert main([str(program), "--limit", "20", "--bins", "test_0_50", "--examples", "0"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("bin_majority vs model bin_majority (bin_majority)")
    assert "test_51_100" not in printed


@pytest.mark.parametrize("args, message", [
    (["no_such_program.json", "--model", "sort"], "no_such_program.json: cannot read"),
    (["submissions/oracle/programs/sort.json", "--model", "no_such_model"], "'no_such_model' is"),
    (["submissions/oracle/programs/sort.json", "--model", "tomita1"], "program vocab_size 154 != task tomita1"),
    (["submissions/oracle/programs/sort.json", "--model", "sort", "--task", "count"], "for task 'sort', not 'count'"),
    (["submissions/oracle/programs/sort.json", "--plot", "no/such/folder/p.png"], "--plot no/such/folder/p.png"),
    (["submissions/oracle/programs/sort.json", "--plot", "plot.pdf"], "expected a .png file name"),
])
def test_errors_are_one_line_and_exit_2(args, message, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_a_program_without_model_or_results_json_is_an_error(tmp_path, capsys):
    program = tmp_path / "programs" / "sort.json"
    get_oracle("sort").save(program)
    assert main([str(program)]) == 2
    assert "no --model given" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("{not json")
    assert main([str(program)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.json" in err


def test_the_module_runs_and_its_error_paths_import_nothing_heavy(tmp_path):
    code = (
        "import sys, bench.inspect as i\n"
        "assert i.main(['missing.json', '--model', 'sort']) == 2\n"
        "assert i.main(['submissions/oracle/programs/sort.json', '--model', 'no_such_model']) == 2\n"
        "print(sorted(m for m in ('torch', 'datasets', 'matplotlib', 'pandas') if m in sys.modules))\n"
    )
    env = {**os.environ, "RASP_BENCH_CACHE": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    module = subprocess.run([sys.executable, "-m", "bench.inspect", "missing.json", "--model", "sort"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert module.returncode == 2 and module.stderr.count("\n") == 1 and "missing.json" in module.stderr
