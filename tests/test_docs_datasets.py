"""The plugin example of docs/datasets.md runs as written and builds its data set through the core data layer."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "datasets.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_data_set_example_runs(monkeypatch, tmp_path, capsys):
    assert len(BLOCKS) == 1
    monkeypatch.setenv("CGANZOO_DATA_DIR", str(tmp_path / "cache"))
    module = types.ModuleType("datasets_doc_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(BLOCKS[0], f"{DOC}:example", "exec"), module.__dict__)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("shapes: verified data from file ") and lines[0].endswith("shapes.npz")
    assert lines[1] == f"shapes: cached at {tmp_path / 'cache' / 'shapes' / 'v1'}"
    assert lines[2] == "('circle', 'square', 'cross') (30, 1, 16, 16) (6, 1, 16, 16)"
    # Run again: the cache answers, silently.
    exec(compile(BLOCKS[0], f"{DOC}:example", "exec"), module.__dict__)
    assert capsys.readouterr().out.strip().splitlines() == [lines[2]]
