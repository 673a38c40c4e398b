from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import types

import pytest

from cganzoo.components import discovery as plugins
from conftest import add_entry_points

BUILTIN = {"mlp", "conditioners", "losses", "datasets"}


def test_builtin_plugins_load_through_the_entry_point_group():
    host = plugins.load_plugins()
    assert host.errors == []
    names = {host.pm.get_name(p) for p in host.pm.get_plugins()}
    assert BUILTIN <= names
    eps = {ep.name for ep in importlib.metadata.entry_points(group="cganzoo")}
    assert BUILTIN <= eps
    assert host.registry.get("model", "mlp-cgan").plugin == "mlp"
    assert host.registry.get("loss", "mse").plugin == "losses"


def test_a_broken_plugin_is_reported_in_one_line_and_skipped(monkeypatch):
    bad = importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz", group="cganzoo")
    add_entry_points(monkeypatch, bad)
    host = plugins.load_plugins()
    assert len(host.errors) == 1
    assert "plugin 'broken' (no_such_module_xyz) failed to load and was skipped" in host.errors[0]
    assert "\n" not in host.errors[0]
    assert "mlp-cgan" in host.registry.names("model")  # the others still load


def test_a_hook_that_raises_is_reported_and_skipped(monkeypatch):
    module = types.ModuleType("raising_plugin")

    @plugins.hookspecs.hookimpl
    def register_losses(register):
        register("half", object)
        raise RuntimeError("boom")

    module.register_losses = register_losses
    monkeypatch.setitem(sys.modules, "raising_plugin", module)
    add_entry_points(monkeypatch, importlib.metadata.EntryPoint(name="raiser", value="raising_plugin", group="cganzoo"))
    host = plugins.load_plugins()
    assert any("plugin 'raiser': hook register_losses raised RuntimeError: boom" in e for e in host.errors)
    assert "half" not in host.registry.names("loss")  # nothing half-registered
    assert "mse" in host.registry.names("loss")


def test_duplicate_across_plugins_is_reported_not_fatal(monkeypatch):
    module = types.ModuleType("dup_plugin")

    @plugins.hookspecs.hookimpl
    def register_losses(register):
        register("mse", object)

    module.register_losses = register_losses
    monkeypatch.setitem(sys.modules, "dup_plugin", module)
    add_entry_points(monkeypatch, importlib.metadata.EntryPoint(name="dup", value="dup_plugin", group="cganzoo"))
    host = plugins.load_plugins()
    assert any("loss 'mse' is registered by plugins 'losses' and 'dup'" in e for e in host.errors), host.errors
    assert host.registry.get("loss", "mse").plugin == "losses"


def test_autoload_can_be_disabled_and_plugins_blocked(monkeypatch):
    monkeypatch.setenv("CGANZOO_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert plugins.load_plugins().registry.components() == []
    monkeypatch.delenv("CGANZOO_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("CGANZOO_BLOCK_PLUGINS", "losses")
    host = plugins.load_plugins()
    assert host.registry.names("loss") == []
    assert "mlp-cgan" in host.registry.names("model")


def test_plugins_need_the_hookimpl_marker(monkeypatch):
    module = types.ModuleType("unmarked_plugin")
    module.register_losses = lambda register: register("unmarked", object)
    monkeypatch.setitem(sys.modules, "unmarked_plugin", module)
    add_entry_points(monkeypatch, importlib.metadata.EntryPoint(name="unmarked", value="unmarked_plugin", group="cganzoo"))
    assert "unmarked" not in plugins.load_plugins().registry.names("loss")


def test_core_does_not_import_plugins():
    code = ("import sys, cganzoo, cganzoo.cli, cganzoo.training, cganzoo.api; "
            "print(sorted(m for m in sys.modules if m.startswith('cganzoo_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_builtin_plugins_import_only_the_public_api():
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "plugins"
    allowed = {"cganzoo", "cganzoo.data"}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cganzoo."):
                assert node.module in allowed, f"{path} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("cganzoo."):
                        assert alias.name in allowed, f"{path} imports {alias.name}"


def test_hooks_by_plugin_reports_hook_names():
    host = plugins.load_plugins()
    hooks = plugins.hooks_by_plugin(host.pm)
    assert hooks["mlp"] == ["register_models", "register_networks"]
