"""The generated parts of README.md match what the code and the manifest produce now."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_generated_blocks_are_current():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "README.md").read_text()
    assert module.render(current) == current, "README.md is stale: run python scripts/update_readme.py"
