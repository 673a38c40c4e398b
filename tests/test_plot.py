"""``cganzoo plot`` and ``cganzoo compare`` on tiny runs trained here (toy plugin, a few steps)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from cganzoo.components import discovery as plugins
from cganzoo.cli import main
from conftest import TOY_ENTRY_POINT, add_entry_points

sys.path.insert(0, str(Path(__file__).parent / "evaluation"))
from judges import toy_data, toy_judge_dir  # noqa: E402,F401  (fixtures)

pytest.importorskip("matplotlib")

COMMON = ["--device", "cpu", "--no-progress", "--batch-size", "16", "--log-interval", "2", "--eval-samples-per-class", "5"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, toy_judge_dir):
    """Two toy runs: ``evaluated`` (12 steps, lr 1e-3, evaluated at steps 6 and 12, grids at 4, 8, 12) and
    ``plain`` (10 steps, no evaluation, grids at 5 and 10), each with the untrained grid of step 0. Their configs differ in exactly
    max_steps, lr, sample_interval and eval_interval."""
    root = tmp_path_factory.mktemp("plot-runs")
    with pytest.MonkeyPatch.context() as patch:
        add_entry_points(patch, TOY_ENTRY_POINT)
        for name, extra in (("evaluated", ["--max-steps", "12", "--lr", "1e-3", "--sample-interval", "4",
                                           "--eval-interval", "6"]),
                            ("plain", ["--max-steps", "10", "--sample-interval", "5"])):
            assert main(["run", "toy-gan", "--out", str(root / name), "--data-dir", str(toy_judge_dir),
                         *COMMON, *extra]) == 0
    plugins.reset_default_host()
    return root / "evaluated", root / "plain"


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_plot_has_a_panel_per_curve_and_metric_and_a_grid_strip_per_run(runs):
    from cganzoo.runs.plots import plot_runs
    from cganzoo.runs.history import read_runs

    evaluated, plain = runs
    evals = [r["eval"] for r in _records(evaluated) if "eval" in r]
    assert [r["step"] for r in evals] == [6, 12]
    # Every scalar an evaluation holds, counted from the file itself.
    scalars = [f"{m}/{k}" for m, res in evals[-1]["metrics"].items() for k, v in res["values"].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert "conditional-accuracy/accuracy" in scalars and "judge-frechet-distance/fd" in scalars

    drawn = plot_runs(read_runs([evaluated, plain]))
    try:
        assert list(drawn.curves) == ["d_loss", "g_loss", "images_per_s", *scalars]
        for key in ("d_loss", "g_loss", "images_per_s"):  # one line per run, labelled with its name
            ax = drawn.curves[key]
            assert [line.get_label() for line in ax.get_lines()] == ["evaluated", "plain"]
            assert list(ax.get_lines()[0].get_xdata()) == [r["step"] for r in _records(evaluated) if "d_loss" in r]
        accuracy = drawn.curves["conditional-accuracy/accuracy"]
        assert [line.get_label() for line in accuracy.get_lines()] == ["evaluated"]  # the plain run has no eval
        assert list(accuracy.get_lines()[0].get_xdata()) == [6, 12]
        assert list(accuracy.get_lines()[0].get_ydata()) == [e["metrics"]["conditional-accuracy"]["values"]["accuracy"]
                                                              for e in evals]
        # First, middle and last grid of each run, titled with their step.
        assert [(name, step) for name, step, _ in drawn.grids] == [("evaluated", 0), ("evaluated", 4),
                                                                    ("evaluated", 12), ("plain", 0), ("plain", 5),
                                                                    ("plain", 10)]
        assert [ax.get_title() for _, _, ax in drawn.grids][2] == "evaluated: samples at step 12"
        assert len(drawn.figure.axes) == len(scalars) + 3 + 6
        assert [t.get_text() for t in drawn.figure.legends[0].get_texts()] == ["evaluated", "plain"]
        assert drawn.notes == ["run 'plain' has no evaluation records (train with --eval or --eval-interval N); "
                               "only its losses and images/s are plotted"]
    finally:
        drawn.figure.clf()


def test_cli_plot_writes_a_png_beside_one_run_and_says_what_is_missing(runs, tmp_path, capsys, monkeypatch):
    from PIL import Image

    evaluated, plain = runs
    assert main(["plot", str(plain)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"wrote {plain / 'plot.png'} (3 curve panels, 3 sample grids, 1 run(s))"
    assert captured.err.strip() == ("cganzoo: note: run 'plain' has no evaluation records (train with --eval or "
                                    "--eval-interval N); only its losses and images/s are plotted")
    with Image.open(plain / "plot.png") as image:
        assert image.format == "PNG" and image.width > 1000 and image.height > 600

    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(evaluated), str(plain)]) == 0  # several runs: plot.png in the current directory
    assert capsys.readouterr().out.startswith("wrote plot.png (")
    with Image.open(tmp_path / "plot.png") as image:
        assert image.format == "PNG"


def test_compare_shows_exactly_the_differing_fields_and_final_figures(runs, capsys):
    evaluated, plain = runs
    assert main(["compare", str(evaluated), str(plain), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["differing_fields"] == ["max_steps", "lr", "sample_interval", "eval_interval"]
    first, second = data["runs"]
    assert first["config"] == {"max_steps": 12, "lr": 1e-3, "sample_interval": 4, "eval_interval": 6}
    assert second["config"] == {"max_steps": 10, "lr": 2e-4, "sample_interval": 5, "eval_interval": None}
    last_log = [r for r in _records(evaluated) if "d_loss" in r][-1]
    last_eval = [r for r in _records(evaluated) if "eval" in r][-1]
    assert first["final"]["step"] == 12 and first["final"]["d_loss"] == last_log["d_loss"]
    assert first["final"]["eval_step"] == 12
    assert first["final"]["metrics"]["conditional-accuracy/accuracy"] == \
        last_eval["eval"]["metrics"]["conditional-accuracy"]["values"]["accuracy"]
    speeds = [r["images_per_s"] for r in _records(plain) if "d_loss" in r]
    assert len(speeds) == 5 and second["final"]["images_per_s_median"] == statistics.median(speeds)
    assert second["final"]["metrics"] == {} and second["final"]["eval_step"] is None

    assert main(["compare", str(evaluated), str(plain)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["evaluated", "plain"]
    config_rows = lines[lines.index("config (fields that differ)") + 1:lines.index("final figures")]
    assert [row.split()[0] for row in config_rows] == ["max_steps", "lr", "sample_interval", "eval_interval"]
    assert config_rows[1].split() == ["lr", "0.001", "0.0002"]
    assert config_rows[3].split() == ["eval_interval", "6", "none"]
    accuracy = next(row for row in lines if row.strip().startswith("conditional-accuracy/accuracy"))
    assert accuracy.split()[1:] == [format(first["final"]["metrics"]["conditional-accuracy/accuracy"], ".4g"), "-"]


@pytest.mark.parametrize("command", ["plot", "compare"])
def test_bad_run_directories_are_one_line_each(command, runs, tmp_path, capsys):
    evaluated, _ = runs
    not_run = tmp_path / "not-a-run"
    not_run.mkdir()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "config.json").write_text((evaluated / "config.json").read_text())
    cases = {tmp_path / "missing": "is not a run directory (it does not exist or is not a directory)",
             not_run: "is not a cganzoo run directory: it holds no config.json",
             fresh: "has no metrics yet: no metrics.jsonl"}
    for path, message in cases.items():
        assert main([command, str(evaluated), str(path)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("cganzoo: error: ") and message in err, err
        assert str(path) in err
    if command == "plot":
        assert main([command, str(evaluated), "-o", str(tmp_path / "plot.pdf")]) == 2
        assert capsys.readouterr().err.strip() == (f"cganzoo: error: -o {str(tmp_path / 'plot.pdf')!r}: cganzoo plot "
                                                   f"writes PNG; name a .png file")
    for text in ('{"epoch": 0, "step": 2, "d_lo', ""):  # a line cut short by a crash; a run that logged nothing yet
        (fresh / "metrics.jsonl").write_text(text)
        assert main([command, str(fresh)]) == 2
        assert "has no metrics yet: metrics.jsonl holds no complete record" in capsys.readouterr().err


def test_plot_without_matplotlib_says_what_to_install(runs, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["plot", str(runs[0])]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "cganzoo: error: plots need matplotlib, which is not installed: pip install 'cganzoo[plot]'"


def _write_run(root: Path, name: str, config: dict, records: list) -> Path:
    """A run directory written by hand: config.json and metrics.jsonl lines (a string is written as it is)."""
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"config": config}))
    (run / "metrics.jsonl").write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return run


def test_undefined_and_missing_values_are_gaps_and_dashes(tmp_path):
    """A null metric value (undefined, with a note) is a gap in the plot and n/a in compare; an absent one is '-'."""
    import math

    from cganzoo.runs.compare import comparison, format_comparison
    from cganzoo.runs.plots import plot_runs
    from cganzoo.runs.history import read_runs

    log = {"epoch": 0, "d_loss": 0.5, "g_loss": 0.7, "images_per_s": 100.0, "elapsed_s": 1.0}
    first = _write_run(tmp_path, "a", {"lr": 1e-3, "generator": {"name": "mlp", "params": {"hidden": [8]}}}, [
        {**log, "step": 1},
        {"epoch": 0, "step": 1, "eval": {"metrics": {"m": {"values": {"x": 0.25, "y": None, "per": [1, 2]}}}}},
        '{"epoch": 0, "step": 2, "d_loss": 0.4',  # cut short by a crash: skipped
        {"epoch": 0, "step": 3, "eval": {"metrics": {"m": {"values": {"x": None, "y": 2.0, "flag": True}}}}}])
    second = _write_run(tmp_path, "b", {"lr": 1e-3, "generator": {"name": "mlp", "params": {"hidden": [16]}},
                                        "extra": 1}, [{**log, "step": 2}])
    runs = read_runs([first, second])
    assert [r["step"] for r in runs[0].logs] == [1] and [r["step"] for r in runs[0].evals] == [1, 3]
    drawn = plot_runs(runs)
    try:
        assert list(drawn.curves) == ["d_loss", "g_loss", "images_per_s", "m/x", "m/y"]  # no lists, no booleans
        (x_line,) = drawn.curves["m/x"].get_lines()
        assert list(x_line.get_xdata()) == [1, 3] and x_line.get_ydata()[0] == 0.25 and math.isnan(x_line.get_ydata()[1])
        assert all(ax.get_xlim() == drawn.curves["d_loss"].get_xlim() for ax in drawn.curves.values())
        assert drawn.grids == [] and len(drawn.notes) == 3  # b has no evaluation; neither has sample grids
    finally:
        drawn.figure.clf()

    data = comparison(runs)
    assert data["differing_fields"] == ["generator.params.hidden", "extra"]
    assert [r["config"] for r in data["runs"]] == [{"generator.params.hidden": [8], "extra": None},
                                                   {"generator.params.hidden": [16], "extra": 1}]
    assert data["runs"][0]["final"]["metrics"] == {"m/x": None, "m/y": 2.0} and data["runs"][0]["final"]["step"] == 3
    rows = {line.split()[0]: line.split()[1:] for line in format_comparison(data).splitlines()[1:] if line.strip()}
    assert rows["generator.params.hidden"] == ["[8]", "[16]"] and rows["extra"] == ["none", "1"]
    assert rows["m/x"] == ["n/a", "-"] and rows["m/y"] == ["2", "-"]
