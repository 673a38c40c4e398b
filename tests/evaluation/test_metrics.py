"""Metrics as registered components: the built-in plugin, a third-party metric, reports, repeatability."""

from __future__ import annotations

import json
import types

import pytest
import torch

import cganzoo
from cganzoo import EvaluationContext, EvaluationError, Metric, MetricResult, hookimpl
from cganzoo.components import discovery as plugins
from cganzoo.errors import UnknownComponentError
from cganzoo.evaluation import evaluate_generator, evaluate_samples, generate_eval_samples
from judges import quiet, toy_data, toy_judge, toy_judge_dir  # noqa: F401  (fixtures)

BUILTIN_METRICS = ["conditional-accuracy", "density-coverage", "inception-fid", "inception-kid", "inception-score",
                   "judge-frechet-distance", "judge-precision-recall", "parzen-log-likelihood"]
#: Skipped in the tests: conftest points CGANZOO_INCEPTION_WEIGHTS at a file that does not exist.
INCEPTION_METRICS = ["inception-fid", "inception-kid", "inception-score"]


def test_builtin_metrics_are_registered_by_the_metrics_plugin():
    host = plugins.load_plugins()
    assert host.errors == []
    assert host.registry.names("metric") == BUILTIN_METRICS
    for name in BUILTIN_METRICS:
        component = host.registry.get("metric", name)
        assert component.plugin == "metrics"
        assert isinstance(host.registry.create("metric", name), Metric)
    assert host.registry.validate_params("metric", "judge-precision-recall", {"k": 5}).k == 5


def test_real_test_images_score_perfectly_on_every_builtin_metric(toy_data, toy_judge):
    x = toy_data.test_images.float() / 127.5 - 1
    report = evaluate_samples(x, toy_data.test_labels, toy_data, judge=toy_judge, log=quiet)
    assert list(report.results) == BUILTIN_METRICS
    values = {name: r.values for name, r in report.results.items()}
    assert values["conditional-accuracy"]["accuracy"] == toy_judge.test_accuracy == 1.0
    assert values["judge-frechet-distance"]["fd"] == pytest.approx(0.0, abs=1e-6)
    assert values["judge-precision-recall"] == {"precision": 1.0, "recall": 1.0}
    assert values["parzen-log-likelihood"]["sigma"] == 0.1  # the samples are the test set itself
    assert values["density-coverage"]["coverage"] == 1.0
    assert sorted(report.protocol["skipped_metrics"]) == INCEPTION_METRICS
    for name in INCEPTION_METRICS:
        assert values[name] == {} and "Inception weights not found" in report.results[name].protocol["skipped"]
    for name, result in report.results.items():
        if name not in INCEPTION_METRICS:
            assert result.protocol["num_samples"] == 100 and result.protocol["seed"] == 0
    assert report.results["judge-frechet-distance"].protocol["judge"]["weights_sha256"] == toy_judge.checksum
    assert any("not Inception FID" in n for n in report.results["judge-frechet-distance"].notes)
    assert any("Theis" in n for n in report.results["parzen-log-likelihood"].notes)
    json.dumps(report.to_json())  # every record is JSON


def test_a_reason_that_skips_several_metrics_is_said_once_in_the_log_the_table_and_the_json(toy_data, toy_judge):
    from cganzoo.io import dumps_json

    x = toy_data.test_images.float() / 127.5 - 1
    lines: list[str] = []
    report = evaluate_samples(x, toy_data.test_labels, toy_data, judge=toy_judge, log=lines.append,
                              metrics=[*INCEPTION_METRICS, "parzen-log-likelihood"])
    reason = report.protocol["skipped_metrics"]["inception-fid"]
    assert "Inception weights not found" in reason
    # The report object keeps the reason with every metric it skipped (what code reads) ...
    assert all(report.protocol["skipped_metrics"][name] == reason == report.results[name].protocol["skipped"]
               for name in INCEPTION_METRICS)
    # ... and each place a person reads says it once.
    assert "\n".join(lines).count(reason) == 1
    assert report.format_table().count(reason) == 1
    text = dumps_json(report.to_json(), indent=2)
    assert text.count(json.dumps(reason)[1:-1]) == 1 and text.count("Inception weights not found") == 1
    written = json.loads(text)
    assert written["protocol"]["skipped_metrics"] == {"inception-fid": reason,
                                                      "inception-kid": "the reason given for inception-fid",
                                                      "inception-score": "the reason given for inception-fid"}
    for name in INCEPTION_METRICS:
        assert written["metrics"][name] == {"values": {}, "protocol": {"skipped": "see protocol.skipped_metrics"},
                                            "notes": ["skipped: see protocol.skipped_metrics"]}
    assert written["metrics"]["parzen-log-likelihood"] == report.results["parzen-log-likelihood"].to_json()


def test_label_swapped_images_lose_conditional_accuracy_but_not_pooled_distance(toy_data, toy_judge):
    x = toy_data.test_images.float() / 127.5 - 1
    wrong = (toy_data.test_labels + 1) % 10
    report = evaluate_samples(x, wrong, toy_data, judge=toy_judge, log=quiet,
                              metrics=["conditional-accuracy", "judge-frechet-distance"])
    assert report.results["conditional-accuracy"].values["accuracy"] == 0.0
    fd = report.results["judge-frechet-distance"].values
    assert fd["fd"] == pytest.approx(0.0, abs=1e-6) and fd["fd_intra_class_mean"] > 1.0


class InkFraction:
    """A third-party metric: fraction of bright pixels."""

    def compute(self, context: EvaluationContext) -> MetricResult:
        images, _ = context.images("generated")
        return MetricResult({"ink": float((images > 0).float().mean())}, context.protocol(judge=False))


def test_a_third_party_metric_registers_through_the_hook_and_runs(toy_data):
    plugin = types.SimpleNamespace(register_metrics=hookimpl(
        lambda register: register("ink-fraction", InkFraction, description="bright pixels")))
    host = plugins.load_plugins(extra_plugins=[plugin])
    assert "ink-fraction" in host.registry.names("metric")
    x = torch.ones(4, 1, 28, 28)
    report = evaluate_samples(x, torch.arange(4), toy_data, metrics=["ink-fraction"], registry=host.registry,
                              log=quiet)
    assert report.results["ink-fraction"].values == {"ink": 1.0}
    assert "judge" not in report.protocol  # a metric that needs no judge never trains one
    with pytest.raises(UnknownComponentError, match="unknown metric 'nope'"):
        evaluate_samples(x, torch.arange(4), toy_data, metrics=["nope"], registry=host.registry, log=quiet)


def test_a_metric_returning_something_else_is_an_error(toy_data):
    plugin = types.SimpleNamespace(register_metrics=hookimpl(
        lambda register: register("bad", lambda: types.SimpleNamespace(compute=lambda ctx: 0.5))))
    host = plugins.load_plugins(extra_plugins=[plugin])
    with pytest.raises(EvaluationError, match="returned float, not MetricResult"):
        evaluate_samples(torch.zeros(2, 1, 28, 28), torch.arange(2), toy_data, metrics=["bad"],
                         registry=host.registry, log=quiet)


def test_out_of_range_samples_are_rejected_before_any_metric(toy_data):
    with pytest.raises(EvaluationError, match=r"\[-1, 1\]"):
        evaluate_samples(torch.full((2, 1, 28, 28), 255.0), torch.arange(2), toy_data, log=quiet)


class ToyGenerator(torch.nn.Module):
    """Draws the toy data's encoding of y, plus noise from z; Dropout shows whether eval mode is used."""

    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, z, y):
        import toy_plugin

        clean = toy_plugin.encode(y.cpu(), 28).float() / 127.5 - 1
        return (self.drop(clean) + 0.01 * z[:, :1, None, None]).clamp(-1, 1)


def test_evaluate_generator_draws_balanced_seeded_samples_in_eval_mode(toy_data, toy_judge):
    g = ToyGenerator().train()
    images, labels = generate_eval_samples(g, 10, per_class=3, seed=5)
    assert labels.tolist() == [k for k in range(10) for _ in range(3)]
    assert g.training  # mode restored
    again, _ = generate_eval_samples(g, 10, per_class=3, seed=5)
    assert torch.equal(images, again)
    assert not torch.equal(images, generate_eval_samples(g, 10, per_class=3, seed=6)[0])
    uniform, _ = generate_eval_samples(g, 10, per_class=3, seed=5, latent_distribution="uniform")
    assert not torch.equal(uniform, images)

    first = evaluate_generator(g, toy_data, per_class=20, seed=1, judge=toy_judge, log=quiet)
    second = evaluate_generator(g, toy_data, per_class=20, seed=1, judge=toy_judge, log=quiet)
    assert first.scalars() == second.scalars()  # repeatable
    assert first.results["conditional-accuracy"].values["accuracy"] == 1.0
    assert first.protocol["samples_per_class"] == [20] * 10
    assert first.protocol["latent_distribution"] == "normal"
    table = first.format_table(toy_data.info.class_names)
    assert "conditional-accuracy" in table and "wall time" in table
    rows = table.splitlines()
    header = rows.index("per class:") + 1  # one row per class, a column per per-class list
    assert rows[header].split() == ["class", "per_class_accuracy", "fd_per_class"]
    assert rows[header + 4].split()[:3] == ["class", "3", "1"]  # class 3's conditional accuracy is 1


def test_evaluate_samples_trains_or_loads_the_judge_from_the_cache_root(toy_data, toy_judge_dir, toy_judge):
    report = evaluate_samples(toy_data.test_images.float() / 127.5 - 1, toy_data.test_labels, toy_data,
                              cache_root=toy_judge_dir, metrics=["conditional-accuracy"], log=quiet)
    assert report.protocol["judge"]["weights_sha256"] == toy_judge.checksum
    assert cganzoo.EvaluationContext is EvaluationContext
