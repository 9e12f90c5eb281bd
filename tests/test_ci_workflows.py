"""The CI entry point and the GitHub workflows that call it agree on its modes (nothing here installs anything)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".ci" / "run"
WORKFLOWS = ROOT / ".github" / "workflows"


def run_steps(workflow: str) -> str:
    data = yaml.safe_load((WORKFLOWS / workflow).read_text())
    return "\n".join(step.get("run", "") for job in data["jobs"].values() for step in job.get("steps", []))


def test_ci_run_is_valid_bash_and_refuses_unknown_modes_before_installing():
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    assert subprocess.run(["bash", "-n", str(RUN)], capture_output=True, timeout=60).returncode == 0
    for args, status, message in ((["--bogus"], 2, "usage: .ci/run [--pr BASE | --leaderboard]"),
                                  (["--pr"], 1, "usage: .ci/run --pr BASE")):
        done = subprocess.run(["bash", str(RUN), *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == status and message in done.stderr, done.stderr
        assert "[ci] step:" not in done.stdout  # refused before any step (no venv made)


def test_pull_requests_run_check_pr_and_pushes_the_full_checks():
    data = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    on = data[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in on and on["push"]["paths-ignore"] == ["submissions/**"]
    steps = run_steps("ci.yml")
    assert 'bash .ci/run --pr "$BASE"' in steps and "bash .ci/run\n" in steps
    checkout = data["jobs"]["test"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0  # check-pr needs the base branch


def test_a_merged_submission_is_rebuilt_committed_and_published():
    data = yaml.safe_load((WORKFLOWS / "leaderboard.yml").read_text())
    assert data[True]["push"] == {"branches": ["main"], "paths": ["submissions/**"]}
    steps = run_steps("leaderboard.yml")
    assert "bash .ci/run --leaderboard" in steps and "git push origin HEAD:main" in steps
    uses = [step.get("uses", "") for job in data["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert "--leaderboard) mode=leaderboard" in RUN.read_text()
