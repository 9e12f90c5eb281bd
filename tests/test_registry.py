"""The one registry kind (bench.registry) and the five registries built on it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bench.registry import Registry, did_you_mean


class Unknown(ValueError):
    pass


def test_names_are_found_listed_and_misspellings_suggested():
    reg = Registry("colour", Unknown)
    reg.add("teal", 1)
    reg.add("tan", 2)
    assert reg.find("teal") == 1 and reg["tan"] == 2 and "teal" in reg and len(reg) == 2
    assert reg.get("nope") is None and reg.get("nope", 7) == 7
    with pytest.raises(Unknown, match=r"unknown colour 'tael'\. Did you mean 'teal'\? Known colours: tan, teal$"):
        reg.find("tael")
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("teal", 3)


def test_register_takes_the_name_written_once():
    reg = Registry("method")

    @reg.register()
    class Mine:
        name = "mine"

    @reg.register("other")
    def make():
        return None

    assert reg.names() == ["mine", "other"] and reg.find("mine") is Mine
    with pytest.raises(ValueError, match="with a name"):
        reg.register()(object())


def test_lazy_entries_are_imported_only_when_asked_for(tmp_path, monkeypatch):
    (tmp_path / "heavy_plugin.py").write_text("LOADED = True\nclass Thing:\n    pass\n")
    (tmp_path / "self_registering.py").write_text(textwrap.dedent("""
        import conftest_registry_holder as holder
        holder.REG.add("selfreg", "made by the module")
    """))
    (tmp_path / "conftest_registry_holder.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    import conftest_registry_holder as holder

    reg = holder.REG = Registry("plugin")
    reg.add_lazy("thing", "heavy_plugin:Thing")
    reg.add_lazy("selfreg", "self_registering")
    assert reg.names() == ["selfreg", "thing"]
    assert "heavy_plugin" not in sys.modules
    assert reg.find("thing").__name__ == "Thing" and "heavy_plugin" in sys.modules
    assert reg.find("selfreg") == "made by the module"


def test_plugins_load_on_first_use_only(tmp_path, monkeypatch):
    (tmp_path / "suite_plugin.py").write_text("import registry_under_test as r\nr.REG.add('from_plugin', 1)\n")
    (tmp_path / "registry_under_test.py").write_text(
        "from bench.registry import Registry\nREG = Registry('entry', plugins=('suite_plugin',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import registry_under_test

    assert "suite_plugin" not in sys.modules
    assert registry_under_test.REG.names() == ["from_plugin"]


def test_did_you_mean():
    assert did_you_mean("sortt", ["sort", "count"]) == " Did you mean 'sort'?"
    assert did_you_mean("zzz", ["sort"]) == ""


def test_listing_methods_and_tasks_imports_no_plugin_heavyweight():
    """Resolving the oracle method or listing methods never imports decompile (and torch)."""
    code = textwrap.dedent("""
        import sys
        from bench.data.task import task_names
        from bench.scoring.methods import method_names, resolve_method
        assert "decompile" in method_names() and "decompile-50" in method_names()
        resolve_method("oracle")
        assert len(task_names()) >= 28
        assert "bench.baselines.decompile" not in sys.modules and "torch" not in sys.modules, sorted(
            m for m in sys.modules if m.startswith(("torch", "bench.baselines")))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
