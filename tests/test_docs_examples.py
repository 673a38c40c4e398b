"""Every Python example of the README and the manual runs as written, alone, in a fresh interpreter.

``tests/test_docs.py`` and ``tests/test_docs_datasets.py`` check what the examples of
``docs/plugins.md`` and ``docs/datasets.md`` print, inside the test process, where the test
suite has already imported much of cganzoo. A reader pastes one example into a file and runs
it: here each runs that way, in its own ``python`` with nothing imported but what it imports,
from an empty directory. The README's example trains on real MNIST (the session's copy, see
``conftest.py``), hence slow.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "benchmarks" / "README.md"]


def examples() -> list:
    found = []
    for page in PAGES:
        blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M)
        found += [pytest.param(code, id=f"{page.relative_to(ROOT)}:{i}") for i, code in enumerate(blocks)]
    return found


EXAMPLES = examples()


def test_the_readme_and_the_manual_have_examples():
    ids = [example.id for example in EXAMPLES]
    assert any(i.startswith("README.md:") for i in ids) and any(i.startswith("docs/plugins.md:") for i in ids), ids


@pytest.mark.slow
@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs_alone(code, real_mnist, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    env = {**os.environ, "CGANZOO_DATA_DIR": str(real_mnist.cache_dir)}
    proc = subprocess.run([sys.executable, str(tmp_path / "example.py")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
