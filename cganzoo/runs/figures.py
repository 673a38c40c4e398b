"""matplotlib for files only: the Agg backend, one readable error when it is missing, atomic PNG writes.

Used by ``cganzoo bench`` (throughput and quality plots) and ``cganzoo plot``.
matplotlib is optional (the ``plot`` extra); nothing imports it until a figure is drawn.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from cganzoo.errors import OptionalDependencyError
from cganzoo.io import atomic_write_bytes

#: What to install when matplotlib is missing.
INSTALL_HINT = "pip install 'cganzoo[plot]'"


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed).

    Raises:
        OptionalDependencyError: matplotlib is not installed; the message says what to install.
    """
    try:
        import matplotlib
    except ImportError:
        raise OptionalDependencyError(f"plots need matplotlib, which is not installed: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, dpi: int) -> Path:
    """Render ``fig`` to PNG, close it, and write ``path`` atomically (never a half-written plot).

    Raises:
        OSError: the file cannot be written (the figure is closed either way).
    """
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        pyplot().close(fig)
    return atomic_write_bytes(Path(path), buffer.getvalue())
