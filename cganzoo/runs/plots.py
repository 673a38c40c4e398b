"""``cganzoo plot``: a run's curves and sample grids over training, one PNG, several runs side by side.

One panel per curve, steps on every x axis, one line per run (the legend names
the runs): the logged discriminator and generator losses (``d_loss``,
``g_loss``), training images per second, then every scalar of the runs'
evaluation records (``metrics.jsonl``'s ``eval``: conditional accuracy, judge
FD, precision/recall, Parzen, and whatever numbers a plugin's metric reports).
Below the panels, a strip per run: its first, middle and last sample grid
(``samples/step_<N>.png``), each titled with its step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from cganzoo.runs.figures import pyplot, save_figure
from cganzoo.runs.history import RunHistory, first_middle_last

#: The logged curves, in panel order: key in metrics.jsonl -> panel title.
LOGGED = {"d_loss": "discriminator loss (d_loss)", "g_loss": "generator loss (g_loss)",
          "images_per_s": "training images / s"}
#: Curve panels per row.
COLUMNS = 3


@dataclass
class RunPlot:
    """A drawn figure and what is on it.

    Attributes:
        figure: The ``matplotlib.figure.Figure``.
        curves: Panel key (``d_loss``, ``g_loss``, ``images_per_s``, or an evaluation
            scalar ``"metric/value"``) -> its ``Axes``, in panel order.
        grids: ``(run name, step, Axes)`` of each sample grid shown, run by run.
        notes: One line for each thing a reader should know is missing (a run
            without evaluation records or sample grids).
    """

    figure: Any
    curves: dict[str, Any]
    grids: list[tuple[str, int, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _title(key: str) -> str:
    if key in LOGGED:
        return LOGGED[key]
    metric, _, value = key.partition("/")
    return f"{metric}\n{value}"


def plot_runs(runs: Sequence[RunHistory], title: str | None = None) -> RunPlot:
    """Draw the curves and sample-grid strips of ``runs`` (see the module docstring).

    Args:
        runs: Runs read with :func:`cganzoo.runs.history.read_runs`; each is one line per panel.
        title: Figure title (default: the run's model and data set for one run, the run names for several).

    Returns:
        The :class:`RunPlot`; write it with :func:`write_plot` (or close ``figure`` with pyplot).

    Raises:
        OptionalDependencyError: matplotlib is not installed.
    """
    plt = pyplot()
    eval_keys = list(dict.fromkeys(key for run in runs for key in run.eval_keys()))
    keys = [*LOGGED, *eval_keys]
    curve_rows = math.ceil(len(keys) / COLUMNS)
    strips = [(run, first_middle_last(run.grids)) for run in runs if run.grids]
    fig = plt.figure(figsize=(5 * COLUMNS, 3.4 * curve_rows + 3.9 * len(strips)), layout="constrained")
    outer = fig.add_gridspec(curve_rows + len(strips), 1, height_ratios=[1] * curve_rows + [1.15] * len(strips))
    panels = outer[:curve_rows, 0].subgridspec(curve_rows, COLUMNS)

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    curves: dict[str, Any] = {}
    for i, key in enumerate(keys):
        ax = fig.add_subplot(panels[divmod(i, COLUMNS)])
        curves[key] = ax
        for j, run in enumerate(runs):
            colour = colours[j % len(colours)]
            if key in LOGGED:
                steps, values = run.series(key)
                ax.plot(steps, values, color=colour, label=run.name, linewidth=1.2)
            elif run.evals:
                steps, values = run.eval_series(key)
                ax.plot(steps, values, color=colour, label=run.name, marker="o", markersize=4, linewidth=1.2)
        ax.set_title(_title(key), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    # One step range on every panel, so a loss and an evaluation at the same step line up vertically.
    steps = [r["step"] for run in runs for r in (*run.logs, *run.evals)]
    low, high = min(steps), max(steps)
    margin = max(1.0, 0.03 * (high - low))
    for ax in curves.values():
        ax.set_xlim(low - margin, high + margin)
    handles, labels = curves["d_loss"].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=9, title="run")

    grids: list[tuple[str, int, Any]] = []
    unreadable: list[str] = []
    for row, (run, shown) in enumerate(strips):
        cells = outer[curve_rows + row, 0].subgridspec(1, 3)
        for col, (step, path) in enumerate(shown):
            ax = fig.add_subplot(cells[0, col])
            try:
                ax.imshow(_read_png(path), cmap="gray", interpolation="nearest")
            except (OSError, ValueError) as exc:  # a grid cut short by a crash, or not a PNG
                ax.text(0.5, 0.5, "unreadable", ha="center", va="center", transform=ax.transAxes)
                unreadable.append(f"sample grid {str(path)!r} is unreadable ({exc}); shown as 'unreadable'")
            ax.set_title(f"{run.name}: samples at step {step}", fontsize=10)
            ax.axis("off")
            grids.append((run.name, step, ax))

    if title is None:
        title = (f"{runs[0].name}: {_component(runs[0].config, 'model')} on {_component(runs[0].config, 'dataset')}"
                 if len(runs) == 1 else f"{len(runs)} runs")
    fig.suptitle(title)
    notes = [f"run {run.name!r} has no evaluation records (train with --eval or --eval-interval N); "
             f"only its losses and images/s are plotted" for run in runs if not run.evals]
    notes += [f"run {run.name!r} has no sample grids in {str(run.path / 'samples')!r}" for run in runs if not run.grids]
    return RunPlot(fig, curves, grids, notes + unreadable)


def _component(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    return str(value.get("name") if isinstance(value, dict) else value)


def _read_png(path: Path) -> Any:
    """A sample grid as a NumPy array (``(H, W)`` uint8 grayscale or ``(H, W, 3)`` RGB) via Pillow."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L" if image.mode in ("L", "I", "I;16", "1") else "RGB"))


def write_plot(plot: RunPlot, path: str | Path, dpi: int = 100) -> Path:
    """Write the figure to ``path`` as PNG (atomically) and close it.

    Raises:
        OSError: the file cannot be written.
    """
    return save_figure(plot.figure, path, dpi=dpi)
