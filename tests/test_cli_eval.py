"""``cganzoo eval`` and ``cganzoo run --eval`` from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cganzoo.cli import main

sys.path.insert(0, str(Path(__file__).parent / "evaluation"))
from judges import toy_data, toy_judge_dir  # noqa: E402,F401  (fixtures)


def test_run_with_eval_then_eval_prints_every_metric(toy_plugin, toy_judge_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "4", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--batch-size", "16", "--data-dir", str(toy_judge_dir), "--eval", "--eval-samples-per-class", "5"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "eval" in records[-1] and records[-1]["step"] == 4
    capsys.readouterr()

    assert main(["eval", str(out), "--per-class", "5"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    # Without Inception weights (conftest) the Inception metrics are skipped in one line, the rest computed.
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith("cganzoo: skipped inception-fid, inception-kid, "
                                                       "inception-score: Inception weights not found")
    assert "density" in text and "coverage" in text
    for name in ("conditional-accuracy", "judge-frechet-distance", "judge-precision-recall",
                 "parzen-log-likelihood", "accuracy", "fd_intra_class_mean", "precision", "recall",
                 "log_likelihood", "sigma", "not Inception FID", "Theis", "50 generated images (5 per class)"):
        assert name in text, name
    # Per-class conditional accuracy: a row per class, named, beside the other per-class values.
    rows = text.splitlines()
    header = rows.index("per class:") + 1
    assert rows[header].split() == ["class", "per_class_accuracy", "fd_per_class"]
    assert [row.split()[:2] for row in rows[header + 1:header + 11]] == [["class", str(k)] for k in range(10)]
    # The same checkpoint, seed and sample count as the run's own end-of-run evaluation: the same values.
    per_class = records[-1]["eval"]["metrics"]["conditional-accuracy"]["values"]["per_class_accuracy"]
    assert [row.split()[2] for row in rows[header + 1:header + 11]] == [format(v, ".4g") for v in per_class]

    report_file = tmp_path / "report.json"
    assert main(["eval", str(out), "--per-class", "5", "--json", "--metrics", "conditional-accuracy",
                 "-o", str(report_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(report_file.read_text())
    assert list(printed["metrics"]) == ["conditional-accuracy"] and printed["step"] == 4
    assert printed["protocol"]["checkpoint_step"] == 4 and printed["protocol"]["seed"] == 0


def test_eval_errors_are_one_line(toy_plugin, toy_judge_dir, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 2  # a wrong path is bad input
    err = capsys.readouterr().err.strip()
    assert err.startswith("cganzoo: error: run directory ") and "does not exist" in err and len(err.splitlines()) == 1
    out = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--batch-size", "16"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--metrics", "fid", "--data-dir", str(toy_judge_dir)]) == 2
    assert "unknown metric 'fid'; choose one of: conditional-accuracy" in capsys.readouterr().err
    assert main(["eval", str(out), "--per-class", "0"]) == 2
    assert "--per-class must be at least 1" in capsys.readouterr().err
