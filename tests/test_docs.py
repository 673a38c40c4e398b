"""Every Python example in docs/plugins.md runs as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_guide_has_one_example_per_hook():
    from cganzoo.components.discovery import HOOK_KINDS

    for hook in HOOK_KINDS:
        assert any(f"def {hook}(register)" in block for block in BLOCKS), hook


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, monkeypatch, capsys):
    module = types.ModuleType(f"plugins_doc_example_{index}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(BLOCKS[index], f"{DOC}:example {index}", "exec"), module.__dict__)
    assert capsys.readouterr().out.strip(), "each example ends by printing what it made"
