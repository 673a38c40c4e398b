"""``cganzoo compare``: runs side by side, their config differences and final figures in one table.

Config differences are the ``config.json`` fields (nested component params
included, as dotted names such as ``generator.params.hidden``) whose values are
not the same in every run; ``out`` (the run directory itself, which always
differs) is left out. Final figures are the last logged step, ``d_loss`` and
``g_loss``, the median of the logged ``images_per_s``, and every scalar of the
last evaluation record.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from cganzoo.runs.history import RunHistory, eval_scalars

#: Config fields never shown as differences.
IGNORED_FIELDS = ("out",)
#: Longest cell of the text table; longer values end in "..." (``--json`` has them whole).
MAX_CELL = 48

_MISSING = object()


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": value}``; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(runs: Sequence[RunHistory]) -> dict[str, list[Any]]:
    """``field -> [value in each run]`` for the config fields whose values differ between ``runs``.

    A field one run lacks (another version of a component's options, say) counts
    as differing and is ``None`` there. Fields are in the order of the first run's
    config, then any others.
    """
    flat = [flatten(run.config) for run in runs]
    names = [n for n in dict.fromkeys(n for f in flat for n in f) if n.split(".")[0] not in IGNORED_FIELDS]
    differing = {}
    for name in names:
        values = [f.get(name, _MISSING) for f in flat]
        if any(v != values[0] for v in values[1:]):
            differing[name] = [None if v is _MISSING else v for v in values]
    return differing


def final_figures(run: RunHistory) -> dict[str, Any]:
    """A run's last logged losses and step, median images/s, and its last evaluation's scalars.

    Returns:
        ``{"step", "d_loss", "g_loss", "images_per_s_median", "eval_step", "metrics"}``;
        ``None`` for what the run never logged, ``metrics`` empty without evaluation records.
    """
    last = run.logs[-1] if run.logs else {}
    evaluation = run.evals[-1] if run.evals else None
    return {"step": max([r["step"] for r in run.logs + run.evals]), "d_loss": last.get("d_loss"),
            "g_loss": last.get("g_loss"), "images_per_s_median": run.median_images_per_s(),
            "eval_step": evaluation["step"] if evaluation else None,
            "metrics": eval_scalars(evaluation["eval"]) if evaluation else {}}


def comparison(runs: Sequence[RunHistory]) -> dict[str, Any]:
    """The comparison as JSON data (``cganzoo compare --json``).

    Returns:
        ``{"runs": [{"name", "path", "config": {differing field: value}, "final": final_figures(run)}],
        "differing_fields": [...]}``.
    """
    differences = config_differences(runs)
    return {"differing_fields": list(differences),
            "runs": [{"name": run.name, "path": str(run.path),
                      "config": {name: values[i] for name, values in differences.items()},
                      "final": final_figures(run)} for i, run in enumerate(runs)]}


def _cell(value: Any, missing: str = "-") -> str:
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.4g}" if value == value else "n/a"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _metric_cell(metrics: dict[str, Any], key: str) -> str:
    """``-`` where the run has no such value, ``n/a`` where its metric left it undefined (null)."""
    if key not in metrics:
        return "-"
    return "n/a" if metrics[key] is None else _cell(metrics[key])


def format_comparison(data: dict[str, Any]) -> str:
    """The text table of :func:`comparison`: one column per run, a row per differing field and per final figure."""
    runs = data["runs"]
    rows: list[tuple[str, ...]] = [("", *(run["name"] for run in runs))]
    rows.append(("config (fields that differ)",) + ("",) * len(runs))
    if data["differing_fields"]:
        rows += [(f"  {name}", *(_cell(run["config"][name], "none") for run in runs)) for name in data["differing_fields"]]
    else:
        rows.append((f"  ({'one run: nothing to compare' if len(runs) == 1 else 'none: every run has the same config'})",)
                    + ("",) * len(runs))
    finals = [run["final"] for run in runs]
    rows.append(("final figures",) + ("",) * len(runs))
    for key, label in (("step", "last step"), ("d_loss", "d_loss (last logged)"), ("g_loss", "g_loss (last logged)"),
                       ("images_per_s_median", "images/s (median)"), ("eval_step", "evaluated at step")):
        rows.append((f"  {label}", *(_cell(f[key]) for f in finals)))
    metric_keys = list(dict.fromkeys(k for f in finals for k in f["metrics"]))
    for key in metric_keys:
        rows.append((f"  {key}", *(_metric_cell(f["metrics"], key) for f in finals)))
    if not metric_keys:
        rows.append(("  (no run has evaluation records)",) + ("",) * len(runs))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
