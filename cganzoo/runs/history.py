"""Read what a run directory holds after (or during) training: its config, logged records and sample grids.

The files are the ones :mod:`cganzoo.training` writes (see *What a run writes* in
``docs/runs.md``), read through :class:`~cganzoo.runs.layout.RunDir`: ``config.json``, ``metrics.jsonl`` (one JSON object per line: logged
steps ``{"epoch", "step", "d_loss", "g_loss", "images_per_s", "elapsed_s"}``
and evaluations ``{"epoch", "step", "eval": report}``) and
``samples/step_<N>.png``. Nothing here loads weights or data, so a run can be
read while it trains, on a machine without its data set.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cganzoo.errors import RunDirectoryError
from cganzoo.runs.layout import RunDir


@dataclass(frozen=True)
class RunHistory:
    """One run directory, read.

    Attributes:
        path: The run directory as given.
        name: Its label in plots and tables (the directory name; see :func:`run_names`).
        config: The ``"config"`` mapping of ``config.json`` (the resolved RunConfig fields).
        logs: Logged-step records in file order (those with ``d_loss``).
        evals: Evaluation records in file order: ``{"epoch", "step", "eval": report}``.
        grids: ``(step, path)`` of every ``samples/step_<N>.png``, by step.
    """

    path: Path
    name: str
    config: dict[str, Any]
    logs: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    grids: list[tuple[int, Path]]

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of one logged key (``d_loss``, ``g_loss``, ``images_per_s``); null values become NaN."""
        return [r["step"] for r in self.logs], [_float(r.get(key)) for r in self.logs]

    def eval_series(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of one evaluation scalar ``"metric/value"`` (see :func:`eval_scalars`); NaN where absent."""
        return [r["step"] for r in self.evals], [_float(eval_scalars(r["eval"]).get(key)) for r in self.evals]

    def eval_keys(self) -> list[str]:
        """Every ``"metric/value"`` scalar any evaluation of this run holds, in order of first appearance."""
        return list(dict.fromkeys(key for r in self.evals for key in eval_scalars(r["eval"])))

    def median_images_per_s(self) -> float | None:
        """Median of the logged ``images_per_s`` (training images per second), or ``None`` if none was logged."""
        values = [v for v in (_float(r.get("images_per_s")) for r in self.logs) if not math.isnan(v)]
        return statistics.median(values) if values else None


def _float(value: Any) -> float:
    """A plottable number: ``None`` (strict JSON's undefined value) and non-numbers become NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def eval_scalars(report: dict[str, Any]) -> dict[str, float | None]:
    """``"metric/value" -> number`` of an evaluation report's JSON (``metrics.jsonl``'s ``eval``).

    Every number a metric reports is kept, ``None`` included (a value the metric
    could not define; its notes say why); lists (per-class values) and strings are not.
    """
    out: dict[str, float | None] = {}
    for metric, result in (report.get("metrics") or {}).items():
        values = result.get("values") if isinstance(result, dict) else None
        for key, value in (values or {}).items():
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                out[f"{metric}/{key}"] = value
    return out


def read_run(path: str | Path, name: str | None = None) -> RunHistory:
    """Read a run directory written by ``cganzoo run``.

    Lines of ``metrics.jsonl`` cut short by a crash are skipped, as a resume skips them.

    Args:
        path: The run directory.
        name: Its label (default: the directory name).

    Raises:
        RunDirectoryError: ``path`` is not a directory, holds no readable
            ``config.json`` with a ``"config"`` mapping (not a cganzoo run), its
            ``metrics.jsonl`` cannot be read, or it has no records yet
            (:meth:`RunDir.read_record`, :meth:`RunDir.read_metrics`).
    """
    path = Path(path)
    run = RunDir(path)
    record = run.read_record()
    logs, evals = [], []
    for entry in run.read_metrics():
        if isinstance(entry.get("eval"), dict):
            evals.append(entry)
        elif "d_loss" in entry:
            logs.append(entry)
    if not logs and not evals:
        found = "metrics.jsonl holds no complete record" if run.metrics_file.is_file() else "no metrics.jsonl"
        raise RunDirectoryError(f"run {str(path)!r} has no metrics yet: {found} (a run logs every --log-interval "
                                f"steps, 50 by default); try again once it has trained a few steps",
                                reason="no metrics")
    return RunHistory(path, name or path.resolve().name, record["config"], logs, evals, run.sample_grids())


def run_names(paths: Sequence[str | Path]) -> list[str]:
    """Labels for runs shown together: each directory's name, or its path as given where two names coincide."""
    names = [Path(p).resolve().name for p in paths]
    return [name if names.count(name) == 1 else str(p) for name, p in zip(names, paths)]


def read_runs(paths: Sequence[str | Path]) -> list[RunHistory]:
    """:func:`read_run` of each path, labelled by :func:`run_names`; raises as :func:`read_run` does."""
    return [read_run(path, name) for path, name in zip(paths, run_names(paths))]


def first_middle_last(grids: Sequence[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """The first, middle and last of ``grids`` (fewer if there are fewer), in step order."""
    if len(grids) <= 3:
        return list(grids)
    return [grids[0], grids[(len(grids) - 1) // 2], grids[-1]]
