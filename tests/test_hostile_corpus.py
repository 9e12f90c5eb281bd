"""A folder of hostile submissions beside the shipped ones, validated in one command.

Every hostile submission is a small valid one with one thing made hostile (a class of attack from
the untrusted-input findings: oversized or malformed JSON, escapes, forged figures, paths out of the
folder, links, devices, programs over the scoring limits, ...). ``python -m bench.leaderboard
validate`` must finish, reject each with the file and field at fault, accept the shipped
submissions, print no traceback and stay within 2 GB. The default run checks everything but the
re-scoring (static checks, the cost bound included); the ``slow`` variant re-scores everything.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bench.program as rasp
from bench.leaderboard.harness import Harness
from bench.scoring.results import BINS, BinMetrics
from test_program_cost import balanced_sum
from toy_submission import write_submission

REPO = Path(__file__).resolve().parents[1]
MODELS = ("bin_majority", "tomita1")
LIMIT = 40


def program_for(task) -> rasp.Program:
    if task.kind == "token_set":
        return rasp.Program.for_task(task, rasp.readout(bias=np.array([-1, 1, -1, -1, 1, -1.0])), name="constant")
    return rasp.Program.for_task(task, rasp.map(rasp.tokens, "x == 1", basis="tokens"), name="first")


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))


def results(change):
    return lambda folder: edit(folder / "results.json", change)


def manifest(change):
    return lambda folder: edit(folder / "submission.json", change)


def text(name: str, content: str):
    return lambda folder: (folder / name).write_text(content)


def replace_program(program_of):
    """Swap the first model's program for another one, its sha256 and size updated (a careful forger)."""
    def change(folder: Path) -> None:
        import hashlib

        task = Harness().task("bin_majority")
        program = program_of(task)
        path = folder / "programs" / "bin_majority.json"
        if isinstance(program, _Raw):
            path.write_text(program.dumps())
        else:
            program.save(path)  # as bench.evaluate writes it: big arrays in a sidecar

        def update(d):
            d["models"][0].update(program_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                                  size={"n_ops": program.n_ops, "depth": program.depth, "n_params": program.n_params})
        edit(folder / "results.json", update)
    return change


def wide_mlp(task):
    rng = np.random.default_rng(0)
    h = rasp.mlp(rasp.numerical(rasp.tokens), [(rng.normal(size=(1, 1 << 20)), np.zeros(1 << 20)),
                                               (rng.normal(size=(1 << 20, 1)), np.zeros(1))])
    return rasp.Program.for_task(task, rasp.categorical(h, "x > 0", basis="tokens"))


def many_expression_selects(task):
    x = rasp.numerical(rasp.tokens)
    expr = balanced_sum(60) + " > 3"  # 239 syntax nodes, evaluated for every (query, key) pair
    out = x
    for _ in range(1000):
        out = rasp.aggregate(rasp.select(x, out, expr), out, numerical=True)
    return rasp.Program.for_task(task, rasp.categorical(out, "x > 1", basis="tokens"))


def symlink(target: str, name: str):
    def change(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        os.symlink(target, folder / name)
    return change


def fifo(name: str):
    def change(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
    return change


#: name -> (what makes it hostile, a fragment of the problem validate must report)
CORPUS = {
    # submission.json
    "author-5mb": (manifest(lambda d: d.update(authors=["x" * 5_000_000])), "submission.json"),
    "nul-in-method": (manifest(lambda d: d.update(method="a\x00b")), "submission.json: method: contains U+0000"),
    "bidi-override": (manifest(lambda d: d.update(method="abc\u202e")), "submission.json: method: contains U+202E"),
    "ansi-escape": (manifest(lambda d: d.update(description="\x1b[2Jhi")), "submission.json: description: contains U+001B"),
    "newline-in-method": (manifest(lambda d: d.update(method="a\n| b |")), "submission.json: method: contains U+000A"),
    "date-with-newline": (manifest(lambda d: d.update(date="9999-99-99\n")), "submission.json: date:"),
    "unknown-field": (manifest(lambda d: d.update(autors=["x"])), "autors: unknown field. Did you mean 'authors'?"),
    "placeholder": (manifest(lambda d: d.update(contact="FILL IN: contact")), "submission.json: contact: still the placeholder"),
    "lengths-500": (manifest(lambda d: d.update(lengths_seen=[0, 500])), "lengths_seen: [0, 500] is not within"),
    "javascript-link": (manifest(lambda d: d.update(paper="javascript:alert(1)")), "submission.json: paper:"),
    "version-mismatch": (manifest(lambda d: d.update(bench_version="9.9.9")), "submission.json: bench_version"),
    "manifest-a-list": (text("submission.json", "[1, 2]"), "submission.json"),
    "manifest-deep": (text("submission.json", "[" * 100_000 + "]" * 100_000), "submission.json"),
    "manifest-huge-int": (text("submission.json", '{"method": ' + "9" * 5000 + "}"), "submission.json"),
    "manifest-duplicate-key": (text("submission.json", '{"method": "a", "method": "b"}'), "submission.json: method: duplicate key"),
    "manifest-missing": (lambda f: (f / "submission.json").unlink(), "submission.json"),
    # results.json
    "parameters-70k": (results(lambda d: d["method"].update(parameters={"x": "y" * 70_000})), "results.json: method.parameters"),
    "bench-version-99": (results(lambda d: d.update(bench_version="99.9")), "results.json: bench_version"),
    "negative-cost": (results(lambda d: d["models"][0]["cost"].update(extract_seconds=-1.0)), "cost.extract_seconds: -1.0 is negative"),
    "infinite-memory": (results(lambda d: d["models"][1]["cost"].update(peak_memory_mb=1e400)), "cost.peak_memory_mb"),
    "local-source-for-zoo": (results(lambda d: d["models"][0]["model"].update(source="local")), "models[0].model.source"),
    "match-acc-1.5": (results(lambda d: d["models"][0]["metrics"]["test_0_50"].update(match_acc=1.5)), "match_acc: 1.5"),
    "negative-limit": (results(lambda d: d.update(limit=-3)), "results.json: limit: -3"),
    "n-sequences-1e8": (results(lambda d: d["models"][0]["metrics"]["test_51_100"].update(n_sequences=10**8)), "n_sequences"),
    "n-sequences-negative": (results(lambda d: d["models"][0]["metrics"]["test_51_100"].update(n_sequences=-5)), "n_sequences"),
    "forged-report-line": (results(lambda d: d["models"][0]["task"]["split_fingerprints"].update(
        {"test_0_50\nok        forged": "ab"})), "split_fingerprints"),
    "spec-escape": (results(lambda d: d["method"].update(spec="m\x1b[2J")), "results.json: method.spec: contains U+001B"),
    "schema-version-2": (results(lambda d: d.update(schema_version=2)), "results.json"),
    "model-repeated": (results(lambda d: d["models"].append(d["models"][0])), "appears 2 times"),
    "unknown-model": (results(lambda d: d["models"][0]["model"].update(id="no_such_model")), "models[0].model.id"),
    "wrong-weights": (results(lambda d: d["models"][0]["model"].update(weights_sha256="0" * 64)), "weights_sha256"),
    "results-deep": (text("results.json", "[" * 100_000 + "]" * 100_000), "results.json"),
    "results-containers": (text("results.json", "[" + ",".join(["[]"] * 250_000) + "]"), "results.json"),
    "results-huge-int": (text("results.json", '{"schema_version": ' + "9" * 5000 + "}"), "results.json"),
    "results-not-json": (text("results.json", "\xff\xfe not json"), "results.json"),
    # programs and files
    "nul-in-program-file": (results(lambda d: d["models"][0].update(program_file="programs/a\x00b.json")), "U+0000"),
    "long-component": (results(lambda d: d["models"][0].update(program_file="programs/" + "x" * 300 + ".json")), "255"),
    "path-traversal": (results(lambda d: d["models"][0].update(program_file="programs/../../etc/passwd")), "not a path inside"),
    "absolute-path": (results(lambda d: d["models"][0].update(program_file="/etc/passwd")), "not a path inside"),
    "program-edited": (text("programs/bin_majority.json", "{}"), "program_sha256"),
    "program-symlink-out": (symlink("/etc/hostname", "programs/bin_majority.json"), "programs/bin_majority.json"),
    "program-device": (symlink("/dev/zero", "programs/bin_majority.json"), "programs/bin_majority.json"),
    "program-fifo": (fifo("programs/bin_majority.json"), "programs/bin_majority.json"),
    "programs-symlink-loop": (lambda f: (shutil.rmtree(f / "programs"), os.symlink("programs", f / "programs")),
                              "programs/bin_majority.json"),
    "stray-file": (text("notes.txt", "hello"), "notes.txt"),
    "program-does-not-parse": (replace_program(lambda task: _Raw('{"schema_version": 1, "nodes": [{"op": "eval"}]}')),
                               "program does not parse"),
    "program-wrong-task": (replace_program(lambda task: program_for(Harness().task("tomita1"))), "does not fit the task"),
    "program-mlp-12gb": (replace_program(wide_mlp), "over the scoring limits"),
    "program-mlp-as-json-lists": (replace_program(lambda task: _Raw(wide_mlp(task).dumps())),
                                  "1,048,591 lists and objects, over the limit of 1,048,576"),
    "program-1000-selects": (replace_program(many_expression_selects), "over the scoring limits"),
    "program-node-named-indices": (replace_program(lambda task: _Raw(
        program_for(task).dumps().replace('"map_1"', '"indices"'))), "program does not parse"),
    "program-duplicate-key": (replace_program(lambda task: _Raw(
        program_for(task).dumps().replace('"expr": "x == 1"', '"expr": "x == 1", "expr": "x == 0"'))),
        "program does not parse"),
}


class _Raw:
    """Program text that is not a valid program: ``dumps`` gives it as is (n_ops and friends are 0)."""

    n_ops = depth = n_params = 0

    def __init__(self, raw: str):
        self.raw = raw

    def dumps(self) -> str:
        return self.raw


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    harness = Harness()
    missing = [m for m in MODELS if m not in harness.zoo]
    if missing:
        pytest.skip(f"zoo models {missing} are not in zoo/manifest.json")
    root = tmp_path_factory.mktemp("hostile")
    scored = {}
    for i, model_id in enumerate(MODELS):
        metrics = {b: BinMetrics(LIMIT, 0.5 + 0.5 * i, 0.9, 0.5, 0.5) for b in BINS}
        scored[model_id] = (program_for(harness.task(harness.zoo[model_id].task)), metrics)
    template = write_submission(root / "_template", harness, scored, LIMIT)
    for name, (make_hostile, _) in CORPUS.items():
        folder = Path(shutil.copytree(template, root / name))
        make_hostile(folder)
    shutil.rmtree(template)
    return root


def validate(folders: list[Path], *options: str) -> tuple[int, str, float]:
    """Exit status, combined output and the child's peak memory (GB) of one validate run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run([sys.executable, "-m", "bench.leaderboard", "validate", *map(str, folders), "--allow-limit",
                           "--allow-partial", *options], cwd=REPO, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "RASP_BENCH_VERDICTS": str(folders[0].parent / ".verdicts")})
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return done.returncode, done.stdout + done.stderr, max(peak, before) / 2**20


def blocks(output: str) -> dict[str, str]:
    """Each submission's verdict line and problem lines, by folder name."""
    found, current = {}, None
    for line in output.splitlines():
        if line.startswith(("ok ", "REJECTED ", "INTERNAL ERROR ")):
            current = Path(line.split()[1] if line.startswith(("ok", "REJECTED")) else line.split()[2]).name
            found[current] = line
        elif current and line.startswith("  "):
            found[current] += "\n" + line
        else:
            current = None
    return found


def check(output: str, status: int, peak_gb: float) -> None:
    assert "Traceback" not in output and "INTERNAL ERROR" not in output, output[-3000:]
    assert status == 1, output[-3000:]
    assert peak_gb < 2.0
    verdicts = blocks(output)
    for name, (_, fragment) in CORPUS.items():
        assert verdicts.get(name, "").startswith("REJECTED"), (name, verdicts.get(name))
        assert fragment in verdicts[name], (name, fragment, verdicts[name])
    for shipped in ("oracle", "lookup", "decompile"):
        assert verdicts[shipped].startswith("ok "), verdicts[shipped]


def test_the_corpus_holds_fifty_kinds_of_attack():
    assert len(CORPUS) >= 50


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_every_hostile_submission_is_rejected_and_the_shipped_ones_accepted(corpus):
    folders = sorted(p for p in corpus.iterdir() if not p.name.startswith(".")) + sorted(
        p for p in (REPO / "submissions").iterdir() if p.is_dir())
    status, output, peak = validate(folders, "--no-rescore")
    check(output, status, peak)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_with_every_program_re_scored(corpus):
    folders = sorted(p for p in corpus.iterdir() if not p.name.startswith(".")) + sorted(
        p for p in (REPO / "submissions").iterdir() if p.is_dir())
    status, output, peak = validate(folders, "--jobs", "2")
    check(output, status, peak)
