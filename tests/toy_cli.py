"""Run the ``cganzoo`` command line in a child process with the toy plugin installed.

Tests that need a real process (signals, SIGKILL) run
``python tests/toy_cli.py run toy-gan ...``: the ``toy`` entry point is added
the way ``tests/conftest.py::add_entry_points`` does it, as if the plugin were
installed, so the child sees exactly what a user's ``cganzoo`` would.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

_real_entry_points = importlib.metadata.entry_points
_TOY = importlib.metadata.EntryPoint(name="toy", value="toy_plugin", group="cganzoo")


def _entry_points(**kwargs):
    found = _real_entry_points(**kwargs)
    if kwargs.get("group") == "cganzoo":
        return importlib.metadata.EntryPoints(list(found) + [_TOY])
    return found


importlib.metadata.entry_points = _entry_points

if __name__ == "__main__":
    from cganzoo.cli import main

    sys.exit(main(sys.argv[1:]))
