"""The layer contract in pyproject.toml ([tool.importlinter]) holds: lower layers never import higher ones.

errors at the bottom; io and conditions; interfaces and hookspecs; config; components and data;
evaluation, distributed and runs; training; api; bench; cli on top. Lazy and type-only imports inside functions count too (import-linter reads every import).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")
from importlinter.cli import lint_imports  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def lint(config: Path, capsys) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = lint_imports(config_filename=str(config), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    return code, capsys.readouterr().out


def test_the_layer_contract_is_kept(capsys):
    code, out = lint(ROOT / "pyproject.toml", capsys)
    assert code == 0, out
    assert "cganzoo layers KEPT" in out


def test_the_checker_does_report_an_upward_import(tmp_path, capsys):
    """Turn the contract upside down for two modules that do import each other: it must break."""
    config = tmp_path / "inverted.toml"
    config.write_text('[tool.importlinter]\nroot_package = "cganzoo"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "inverted"\ntype = "layers"\nlayers = ["cganzoo.errors", "cganzoo.training"]\n')
    code, out = lint(config, capsys)
    assert code != 0 and "inverted BROKEN" in out
