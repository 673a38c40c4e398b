"""Evaluation inside a training run: records in metrics.jsonl, and no effect on the training trajectory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

import cganzoo

sys.path.insert(0, str(Path(__file__).parent / "evaluation"))
from judges import toy_data, toy_judge_dir  # noqa: E402,F401  (fixtures)


def quiet(_):
    pass


def config(tmp_path, name, judge_dir, **overrides):
    base = {"max_steps": 8, "device": "cpu", "log_interval": 4, "sample_interval": 100, "checkpoint_interval": 100,
            "out": str(tmp_path / name), "batch_size": 32, "data_dir": str(judge_dir),
            "eval_samples_per_class": 10}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def read(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_eval_at_end_appends_one_record_with_every_metric(tmp_path, registry, toy_judge_dir):
    run = cganzoo.train(config(tmp_path, "run", toy_judge_dir, eval_at_end=True), progress=False, log=quiet,
                        registry=registry)
    records = read(run)
    assert [r["step"] for r in records] == [4, 8, 8]
    evaluation = records[-1]["eval"]
    assert set(evaluation["metrics"]) == {"conditional-accuracy", "judge-frechet-distance",
                                          "judge-precision-recall", "parzen-log-likelihood", "density-coverage",
                                          "inception-fid", "inception-kid", "inception-score"}
    # No Inception weights in the tests (conftest): those three are recorded as skipped, not failed.
    assert sorted(evaluation["protocol"]["skipped_metrics"]) == ["inception-fid", "inception-kid", "inception-score"]
    assert evaluation["protocol"]["num_samples"] == 100 and evaluation["step"] == 8
    assert 0 <= evaluation["metrics"]["conditional-accuracy"]["values"]["accuracy"] <= 1
    assert "d_loss" not in records[-1]


def test_evaluating_during_training_does_not_change_the_trajectory(tmp_path, registry, toy_judge_dir):
    plain = cganzoo.train(config(tmp_path, "plain", toy_judge_dir), progress=False, log=quiet, registry=registry)
    lines: list[str] = []
    watched = cganzoo.train(config(tmp_path, "watched", toy_judge_dir, eval_interval=3), progress=False,
                            log=lines.append, registry=registry)
    assert [r["step"] for r in read(watched) if "eval" in r] == [3, 6, 8]
    # The Inception metrics are skipped at each of the three evaluations; the reason is spelled out once.
    skips = [line for line in lines if line.startswith("cganzoo: skipped inception-fid, inception-kid, inception-score")]
    assert len(skips) == 3 and "Inception weights not found" in skips[0], skips
    assert all(line.endswith("(the reason is in the first evaluation's log)") for line in skips[1:]), skips
    losses = lambda records: [(r["step"], r["d_loss"], r["g_loss"]) for r in records if "eval" not in r]
    assert losses(read(plain)) == losses(read(watched))
    a, b = cganzoo.load(plain, registry=registry), cganzoo.load(watched, registry=registry)
    for (k, p), q in zip(a.generator.state_dict().items(), b.generator.state_dict().values()):
        assert torch.equal(p, q), k
