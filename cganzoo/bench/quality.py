"""Same quality after the same number of steps? Loss curves and sample grids side by side.

Trains the focus model from the same seed once in plain fp32 and once per
fast-path variant, through :func:`cganzoo.train` (the whole runner:
``Trainer.run`` with its logging and sample grids), for the same number of
steps, and puts the loss curves and the final sample grids side by side. This
is the quality check until the evaluation module's metrics (conditional
accuracy, judge-feature distance) can be computed for each run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from cganzoo.registry import Registry


@dataclass
class QualityRun:
    """One training run of the comparison.

    Attributes:
        variant: ``fp32`` or a fast-path variant name.
        run_dir: Its run directory (``metrics.jsonl``, ``samples/``).
        metrics: The logged records (step, d_loss, g_loss, images_per_s...).
        grid: The final sample grid, ``(H, W)`` or ``(H, W, C)`` uint8 (read from its PNG).
        seconds: Wall time of the run, s.
    """

    variant: str
    run_dir: Path
    metrics: list[dict[str, Any]]
    grid: Any
    seconds: float

    def tail_mean(self, key: str, fraction: float = 0.2) -> float:
        """Mean of ``key`` over the last ``fraction`` of the logged records."""
        records = self.metrics[-max(1, round(len(self.metrics) * fraction)):]
        return sum(r[key] for r in records) / len(records)


def compare_quality(config_for: Callable[[str, dict[str, Any]], Any], variants: tuple[str, ...], steps: int,
                    work_dir: Path, *, registry: Registry | None = None,
                    log: Callable[[str], None] = print) -> list[QualityRun]:
    """Train ``fp32`` and each variant for ``steps`` steps from the same seed.

    Args:
        config_for: ``config_for(variant, overrides) -> RunConfig`` of the focus model.
        variants: Fast-path variants to compare with ``fp32``.
        steps: Training steps per run.
        work_dir: Parent of the run directories (must not hold them yet).
        registry: Component registry.
        log: Progress lines.
    """
    import time

    from cganzoo.api import train

    interval = max(1, steps // 50)
    runs = []
    for variant in dict.fromkeys(("fp32", *variants)):
        out = work_dir / variant.replace("+", "-")
        config = config_for(variant, {"max_steps": steps, "log_interval": interval, "sample_interval": steps,
                                      "checkpoint_interval": steps, "out": out})
        start = time.perf_counter()
        run_dir = train(config, progress=False, log=lambda _: None, registry=registry)
        seconds = time.perf_counter() - start
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        grid = np.asarray(Image.open(run_dir / "samples" / f"step_{steps}.png"))
        runs.append(QualityRun(variant, run_dir, metrics, grid, seconds))
        log(f"bench: quality {variant}: {steps} steps in {seconds:.0f} s, last-20% mean d_loss "
            f"{runs[-1].tail_mean('d_loss'):.4f}, g_loss {runs[-1].tail_mean('g_loss'):.4f}")
    return runs


def plot_quality(runs: list[QualityRun], path: Path, title: str = "") -> Path:
    """Loss curves (D and G) of every run, and their final sample grids, in one PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cganzoo.checkpoint import atomic_write_bytes

    fig = plt.figure(figsize=(5 * max(2, len(runs)), 9))
    grid = fig.add_gridspec(2, max(2, len(runs)), height_ratios=[1, 1.3])
    d_ax, g_ax = fig.add_subplot(grid[0, : max(2, len(runs)) // 2]), fig.add_subplot(grid[0, max(2, len(runs)) // 2:])
    for run in runs:
        steps = [r["step"] for r in run.metrics]
        d_ax.plot(steps, [r["d_loss"] for r in run.metrics], label=run.variant)
        g_ax.plot(steps, [r["g_loss"] for r in run.metrics], label=run.variant)
    for ax, name in ((d_ax, "discriminator loss"), (g_ax, "generator loss")):
        ax.set_xlabel("step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    for i, run in enumerate(runs):
        ax = fig.add_subplot(grid[1, i])
        ax.imshow(run.grid, cmap="gray")
        ax.set_title(f"{run.variant}, step {run.metrics[-1]['step']}")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
