"""The judge classifier (training, cache key, integrity, input range) and the image mappings."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from cganzoo.errors import EvaluationError
from cganzoo.evaluation import (
    JudgeRecipe,
    check_unit_range,
    dataset_checksum,
    evaluate_samples,
    load_or_train_judge,
    to_judge_input,
    to_parzen_input,
    train_judge,
)
from cganzoo.evaluation.judge import judge_cache_dir
from cganzoo.interfaces import LabelledImages
from judges import TINY_RECIPE, quiet, toy_data, toy_judge, toy_judge_dir  # noqa: F401  (fixtures)


def test_check_unit_range_accepts_generator_outputs_and_rejects_other_scalings():
    check_unit_range(torch.tanh(torch.randn(4, 1, 32, 32)))
    with pytest.raises(EvaluationError, match=r"values in \[0, 255\].*x / 127.5 - 1"):
        check_unit_range(torch.tensor([0.0, 255.0]).view(1, 1, 1, 2))
    with pytest.raises(EvaluationError, match="NaN"):
        check_unit_range(torch.full((1, 1, 2, 2), float("nan")))
    with pytest.raises(EvaluationError, match="float tensor"):
        check_unit_range(torch.zeros(1, 1, 2, 2, dtype=torch.uint8))
    with pytest.raises(EvaluationError, match=r"\(B, C, H, W\)"):
        check_unit_range(torch.zeros(3, 4))


def test_judge_and_parzen_inputs_of_real_and_generated_images():
    real = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    as_generated = real.float() / 127.5 - 1
    assert torch.allclose(to_judge_input(real, (28, 28)), as_generated)
    assert torch.equal(to_parzen_input(real, (28, 28)), real.flatten(1).float() / 255)
    assert torch.allclose(to_parzen_input(as_generated, (28, 28)), real.flatten(1).float() / 255, atol=1e-6)
    big = torch.rand(5, 1, 32, 32) * 2 - 1
    x = to_judge_input(big, (28, 28))
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    flat = to_parzen_input(big, (28, 28))
    assert flat.shape == (5, 784) and flat.min() >= 0 and flat.max() <= 1
    # A constant image stays constant through the resize (the filter's weights sum to 1).
    assert torch.allclose(to_judge_input(torch.full((1, 1, 32, 32), 0.25), (28, 28)), torch.tensor(0.25))


def test_judge_is_trained_once_cached_and_keyed_by_data_and_recipe(tmp_path, toy_data):
    lines: list[str] = []
    judge = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=lines.append)
    assert any("training one" in line for line in lines)
    assert judge.test_accuracy >= 0.9
    directory = judge_cache_dir(tmp_path, "toy-digits", dataset_checksum(toy_data), TINY_RECIPE)
    assert judge.path == directory
    record = json.loads((directory / "judge.json").read_text())
    assert record["test_accuracy"] == judge.test_accuracy and record["recipe"]["epochs"] == 2
    assert record["feature_dim"] == 16 and record["data_sha256"] == dataset_checksum(toy_data)

    lines.clear()
    again = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=lines.append)
    assert lines == [] and again.checksum == judge.checksum
    x = toy_data.test_images[:7]
    assert torch.equal(again.run(x)[1], judge.run(x)[1])

    other_recipe = TINY_RECIPE.model_copy(update={"seed": 1})
    assert judge_cache_dir(tmp_path, "toy-digits", dataset_checksum(toy_data), other_recipe) != directory
    changed = LabelledImages(toy_data.images.flip(0), toy_data.labels.flip(0), toy_data.info,
                             toy_data.test_images, toy_data.test_labels)
    assert dataset_checksum(changed) != dataset_checksum(toy_data)


def test_a_damaged_cached_judge_is_retrained(tmp_path, toy_data):
    judge = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=quiet)
    weights = judge.path / "judge.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    lines: list[str] = []
    again = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=lines.append)
    assert any("unusable" in line and "sha256" in line for line in lines)
    assert again.checksum == judge.checksum  # same seed, same data, same recipe: the same weights


def test_a_judge_below_its_required_accuracy_is_kept_and_marked_unreliable(toy_data, tmp_path):
    hopeless = JudgeRecipe(channels=(1, 1), features=2, epochs=1, batch_size=512, max_lr=1e-6,
                           min_test_accuracy=0.99)
    lines: list[str] = []
    judge = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=hopeless, log=lines.append)
    assert not judge.reliable and judge.record["reliable"] is False
    assert any(line.endswith("below the required 0.99; metrics that read it will be reported as unreliable")
               for line in lines)
    cached = load_or_train_judge(toy_data, cache_root=tmp_path, recipe=hopeless, log=quiet)
    assert cached.checksum == judge.checksum and not cached.reliable  # kept, not retrained each time
    assert judge.describe()["required_test_accuracy"] == 0.99

    samples = torch.zeros(20, 1, 28, 28)
    labels = torch.arange(10).repeat(2)
    report = evaluate_samples(samples, labels, toy_data, metrics=["conditional-accuracy", "parzen-log-likelihood"],
                              judge=judge, log=quiet)
    assert report.protocol["unreliable_metrics"] == ["conditional-accuracy"]
    assert report.results["conditional-accuracy"].notes[0].startswith("UNRELIABLE: the judge reached test accuracy")
    assert not any("UNRELIABLE" in n for n in report.results["parzen-log-likelihood"].notes)
    assert report.format_table().splitlines()[0] == (
        "warning: unreliable metrics (the judge missed its required test accuracy): conditional-accuracy")


def test_the_recipe_follows_the_data_set(toy_data):
    from cganzoo.evaluation.judge import recipe_for

    assert recipe_for(toy_data) == JudgeRecipe()
    info = dataclasses.replace(toy_data.info, judge_recipe={"epochs": 7, "min_test_accuracy": 0.5})
    other = LabelledImages(toy_data.images, toy_data.labels, info, toy_data.test_images, toy_data.test_labels)
    assert recipe_for(other) == JudgeRecipe(epochs=7, min_test_accuracy=0.5)
    bad = dataclasses.replace(toy_data.info, judge_recipe={"epoch": 7})
    with pytest.raises(EvaluationError, match="declares an invalid judge recipe"):
        recipe_for(LabelledImages(toy_data.images, toy_data.labels, bad, toy_data.test_images, toy_data.test_labels))


def test_judge_needs_a_test_split(toy_data):
    no_test = LabelledImages(toy_data.images, toy_data.labels, toy_data.info)
    with pytest.raises(EvaluationError, match="has no test split"):
        load_or_train_judge(no_test, log=quiet)


def test_judge_rejects_out_of_range_images_and_wrong_channels(toy_judge):
    with pytest.raises(EvaluationError, match=r"\[-1, 1\]"):
        toy_judge.run(torch.full((2, 1, 28, 28), 3.0))
    with pytest.raises(EvaluationError, match=r"\(B, 1, H, W\)"):
        toy_judge.run(torch.zeros(2, 3, 28, 28))
    features, logits = toy_judge.run(torch.zeros(3, 1, 32, 32))
    assert features.shape == (3, 128) and logits.shape == (3, 10)
    assert torch.equal(logits, toy_judge.net.logits_from_features(features))


def test_judge_training_leaves_the_global_rng_alone(toy_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_judge(toy_data, TINY_RECIPE.model_copy(update={"min_test_accuracy": 0.0}), log=quiet)
    assert torch.equal(torch.rand(3), expected)
