"""Same quality after the same number of steps? Loss curves and sample grids side by side.

Trains the focus model from the same seed once in plain fp32 and once per
fast-path variant, through :func:`cganzoo.train` (the whole runner:
``Trainer.run`` with its logging, sample grids and end-of-run evaluation), for
the same number of steps; reports each run's conditional accuracy and
judge-feature Frechet distance (:mod:`cganzoo.evaluation`, the runner's
``eval_at_end``) and puts the loss curves and final sample grids side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from cganzoo.components.registry import Registry
from cganzoo.runs.layout import RunDir


@dataclass
class QualityRun:
    """One training run of the comparison.

    Attributes:
        variant: ``fp32`` or a fast-path variant name.
        run_dir: Its run directory (``metrics.jsonl``, ``samples/``).
        metrics: The logged loss records (step, d_loss, g_loss, images_per_s...).
        grid: The final sample grid, ``(H, W)`` or ``(H, W, C)`` uint8 (read from its PNG).
        seconds: Wall time of the run, s (evaluation, and a judge's one-off training, included).
        evaluation: The end-of-run evaluation record (``metrics.jsonl``'s ``eval``), or ``None``.
    """

    variant: str
    run_dir: Path
    metrics: list[dict[str, Any]]
    grid: Any
    seconds: float
    evaluation: dict[str, Any] | None = None

    def metric(self, name: str, key: str) -> float | None:
        """A scalar of the evaluation, e.g. ``metric("conditional-accuracy", "accuracy")``."""
        if not self.evaluation:
            return None
        value = self.evaluation.get("metrics", {}).get(name, {}).get("values", {}).get(key)
        return float(value) if isinstance(value, (int, float)) else None

    def tail_mean(self, key: str, fraction: float = 0.2) -> float:
        """Mean of ``key`` over the last ``fraction`` of the logged records."""
        records = self.metrics[-max(1, round(len(self.metrics) * fraction)):]
        return sum(r[key] for r in records) / len(records)


def compare_quality(config_for: Callable[[str, dict[str, Any]], Any], variants: tuple[str, ...], steps: int,
                    work_dir: Path, *, eval_per_class: int = 1000, registry: Registry | None = None,
                    log: Callable[[str], None] = print) -> list[QualityRun]:
    """Train ``fp32`` and each variant for ``steps`` steps from the same seed, then evaluate each.

    Args:
        config_for: ``config_for(variant, overrides) -> RunConfig`` of the focus model.
        variants: Fast-path variants to compare with ``fp32``.
        steps: Training steps per run.
        work_dir: Parent of the run directories (must not hold them yet).
        eval_per_class: Generated images per class for the end-of-run
            evaluation (the runner's ``eval_samples_per_class``); 0 skips it.
            The first evaluation may train the data set's judge once (minutes
            on a CPU; cached under the data directory).
        registry: Component registry.
        log: Progress lines.
    """
    import time

    from cganzoo.api import train

    interval = max(1, steps // 50)
    runs = []
    for variant in dict.fromkeys(("fp32", *variants)):
        out = work_dir / variant.replace("+", "-")
        extra: dict[str, Any] = {"max_steps": steps, "log_interval": interval, "sample_interval": steps,
                                 "checkpoint_interval": steps, "out": out}
        if eval_per_class:
            extra.update(eval_at_end=True, eval_samples_per_class=eval_per_class)
        config = config_for(variant, extra)
        start = time.perf_counter()
        run_dir = train(config, progress=False, log=lambda _: None, registry=registry)
        seconds = time.perf_counter() - start
        records = RunDir(run_dir).read_metrics()
        evaluation = next((r["eval"] for r in reversed(records) if "eval" in r), None)
        grid = np.asarray(Image.open(RunDir(run_dir).sample_grid(steps)))
        run = QualityRun(variant, run_dir, [r for r in records if "d_loss" in r], grid, seconds, evaluation)
        runs.append(run)
        accuracy, fd = run.metric("conditional-accuracy", "accuracy"), run.metric("judge-frechet-distance", "fd")
        log(f"bench: quality {variant}: {steps} steps in {seconds:.0f} s, last-20% mean d_loss "
            f"{run.tail_mean('d_loss'):.4f}, g_loss {run.tail_mean('g_loss'):.4f}"
            + (f", conditional accuracy {accuracy:.4f}, judge FD {fd:.3f}" if accuracy is not None and fd is not None
               else ""))
    return runs


def plot_quality(runs: list[QualityRun], path: Path, title: str = "") -> Path:
    """Loss curves (D and G) of every run, and their final sample grids, in one PNG."""
    from cganzoo.runs.figures import pyplot, save_figure

    fig = pyplot().figure(figsize=(5 * max(2, len(runs)), 9))
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
    return save_figure(fig, path, dpi=100)
