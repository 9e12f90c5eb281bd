"""Adding a task is one module: the template, with its two registrations turned on, goes through the harness.

Runs in a child process, so the throwaway task never joins this process's registries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import reverse_bits_task  # registers the task and its oracle, as a module in tasks/ would

    from bench.data.oracles import oracle_names
    from bench.data.task import get_task, task_names
    from bench.evaluate import main
    from bench.models.model import GPT2, GPT2Config
    from bench.scoring.results import load_results
    from bench.tasks.__main__ import check_fingerprints

    task = get_task("reverse_bits")
    assert "reverse_bits" in task_names() and "reverse_bits" in oracle_names()
    config = GPT2Config(vocab_size=task.vocab_size, n_positions=task.n_positions, n_layer=1, n_head=1, n_embd=8,
                        rasp_bench={"task": task.name})
    GPT2(config).eval().save_pretrained(sys.argv[2] + "/model")
    code = main(["oracle", "--models", sys.argv[2] + "/model", "--limit", "20", "--out", sys.argv[2] + "/run"])
    result = load_results(sys.argv[2] + "/run/results.json").models[0]
    report, status = check_fingerprints()
    print(json.dumps({"code": code, "status": result.status, "task": result.task.name,
                      "program_acc": {b: m.program_acc for b, m in result.metrics.items()},
                      "n_sequences": {b: m.n_sequences for b, m in result.metrics.items()},
                      "pins": [status, report]}))
""")


def test_the_template_becomes_a_task_the_harness_scores(tmp_path):
    source = (REPO / "tasks" / "_template.py").read_text()
    module = (source.replace("# @register_task   <- in a real task module", "@register_task")
              .replace('# @oracle("reverse_bits")   <- in a real task module', '@oracle("reverse_bits")'))
    assert module.count("\n@register_task") == 1 and module.count('\n@oracle("reverse_bits")') == 1
    (tmp_path / "reverse_bits_task.py").write_text(module)
    env = {**os.environ, "RASP_BENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0 and seen["status"] == "ok" and seen["task"] == "reverse_bits"
    assert seen["n_sequences"] == {"test_0_50": 20, "test_51_100": 20, "test_101_150": 20}
    assert set(seen["program_acc"].values()) == {1.0}  # the template's oracle solves its task at every length
    status, report = seen["pins"]
    assert status == 1 and "reverse_bits: not pinned" in report  # the last step: pin its splits
