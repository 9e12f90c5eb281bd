"""README.md: its generated parts match what the code and the manifest produce now, and its example method runs."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_generated_blocks_are_current():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "README.md").read_text()
    assert module.render(current) == current, "README.md is stale: run python scripts/update_readme.py"


def test_the_readme_method_example_runs(tmp_path):
    """The README's example method, copied as a reader would, extracts and scores a program."""
    from bench.evaluate import main
    from bench.scoring.results import load_results

    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n# my_method.py\n") + len("```python\n")
    (tmp_path / "my_method.py").write_text(text[start:text.index("```", start)])
    assert main([str(tmp_path / "my_method.py"), "--models", "tomita1", "sort", "--limit", "20",
                 "--out", str(tmp_path / "out")]) == 0
    results = load_results(tmp_path / "out" / "results.json")
    assert results.method.name == "my_method" and [m.status for m in results.models] == ["ok", "ok"]
    assert results.models[0].success  # tomita1: the next allowed set follows from the current token
    assert results.models[0].lengths_sampled == [0, 50]
