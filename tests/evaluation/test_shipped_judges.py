"""The reference judges shipped in the package: integrity, matching by data checksum, source in every report."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

import cganzoo.evaluation.judge as judge_module
from cganzoo.errors import EvaluationError
from cganzoo.evaluation import JudgeRecipe, dataset_checksum, evaluate_samples, load_or_train_judge, train_judge
from cganzoo.evaluation.judge import (
    LOCAL_JUDGE_NOTE,
    SHIPPED_JUDGES_DIR,
    find_shipped_judge,
    load_shipped_judge,
    save_shipped_judge,
    shipped_judge_records,
)
from cganzoo.interfaces import LabelledImages
from cganzoo_datasets.fashion_mnist import JUDGE_RECIPE as FASHION_JUDGE_RECIPE
from judges import TINY_RECIPE, quiet, toy_data  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_mnist_and_fashion_mnist_judges_are_intact_and_documented():
    records = {r["dataset"]: r for r in shipped_judge_records()}
    assert set(records) == {"mnist", "fashion-mnist"}
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for name, record in records.items():
        weights = SHIPPED_JUDGES_DIR / f"{name}.safetensors"
        assert hashlib.sha256(weights.read_bytes()).hexdigest() == record["weights_sha256"]
        judge = load_shipped_judge(record)
        assert judge.source == "shipped" and judge.reliable
        assert judge.test_accuracy >= record["recipe"]["min_test_accuracy"]
        assert record["command"].startswith("OMP_NUM_THREADS=1 python -m cganzoo.evaluation.make_reference_judges "
                                            f"--dataset {name}")
        assert record["torch"] and record["cpu"] and len(record["data_sha256"]) == 64
        assert record["weights_sha256"] in results  # docs/results.md names the judge behind its numbers
        assert judge.run(torch.zeros(2, 1, 28, 28))[0].shape == (2, 128)
    # Still the data sets' current recipes (a changed default or JUDGE_CODE_VERSION would orphan them).
    assert find_shipped_judge(records["mnist"]["data_sha256"], JudgeRecipe()) == records["mnist"]
    fashion_recipe = JudgeRecipe(**FASHION_JUDGE_RECIPE)
    assert find_shipped_judge(records["fashion-mnist"]["data_sha256"], fashion_recipe) == records["fashion-mnist"]


@pytest.fixture
def shipped_toy(tmp_path, monkeypatch, toy_data):
    """A package whose shipped judges are one judge of the toy data set (TINY_RECIPE)."""
    judge = train_judge(toy_data, TINY_RECIPE, log=quiet)
    shipped = tmp_path / "judges"
    save_shipped_judge(judge, shipped)
    monkeypatch.setattr(judge_module, "_shipped_dir", lambda: shipped)
    return judge, shipped


def test_a_shipped_judge_is_used_when_the_data_checksum_and_recipe_match(tmp_path, toy_data, shipped_toy):
    shipped, _ = shipped_toy
    lines: list[str] = []
    judge = load_or_train_judge(toy_data, cache_root=tmp_path / "cache", recipe=TINY_RECIPE, log=lines.append)
    assert lines == [] and not (tmp_path / "cache").exists()  # nothing trained, nothing cached
    assert judge.source == "shipped" and judge.checksum == shipped.checksum
    assert judge.describe()["source"] == "shipped" and judge.describe()["file"] == "toy-digits.safetensors"

    # Matched by the bytes, not the name: a renamed copy gets it, a changed "toy-digits" does not.
    renamed = LabelledImages(toy_data.images, toy_data.labels, dataclasses.replace(toy_data.info, name="copy"),
                             toy_data.test_images, toy_data.test_labels)
    assert load_or_train_judge(renamed, cache_root=tmp_path, recipe=TINY_RECIPE, log=quiet).source == "shipped"
    pixels = toy_data.images.clone()
    pixels[0, 0, 0, 0] ^= 1
    changed = LabelledImages(pixels, toy_data.labels, toy_data.info, toy_data.test_images, toy_data.test_labels)
    assert dataset_checksum(changed) != dataset_checksum(toy_data)
    lines.clear()
    local = load_or_train_judge(changed, cache_root=tmp_path, recipe=TINY_RECIPE, log=lines.append)
    assert local.source == "local" and any("training one" in line for line in lines)
    assert local.describe()["note"] == LOCAL_JUDGE_NOTE
    # Another recipe on the same data: a local judge too.
    other = TINY_RECIPE.model_copy(update={"seed": 1})
    assert load_or_train_judge(toy_data, cache_root=tmp_path, recipe=other, log=quiet).source == "local"
    # The override trains a local judge even where a shipped one matches.
    assert load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=quiet,
                               use_shipped=False).source == "local"


def test_a_corrupt_shipped_judge_is_a_one_line_error_not_a_retraining(tmp_path, toy_data, shipped_toy):
    _, shipped = shipped_toy
    weights = shipped / "toy-digits.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(EvaluationError) as info:
        load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=quiet)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("shipped judge 'toy-digits.safetensors' is corrupt: its sha256 is ")
    assert message.endswith("; reinstall cganzoo")
    (shipped / "toy-digits.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"^shipped judge record 'toy-digits.json' is unreadable"):
        load_or_train_judge(toy_data, cache_root=tmp_path, recipe=TINY_RECIPE, log=quiet)


def test_every_report_says_which_judge_it_used(tmp_path, toy_data, shipped_toy):
    samples = toy_data.test_images[:20].float() / 127.5 - 1
    labels = toy_data.test_labels[:20]
    for use_shipped, source, text in ((True, "shipped", "judge: shipped reference judge toy-digits.safetensors"),
                                      (False, "local", "judge: local judge (trained on this machine): numbers "
                                                       "compare only with runs that used this same judge")):
        report = evaluate_samples(samples, labels, toy_data, metrics=["conditional-accuracy"], judge_recipe=TINY_RECIPE,
                                  cache_root=tmp_path, log=quiet, use_shipped_judge=use_shipped)
        assert report.protocol["judge"]["source"] == source
        assert report.results["conditional-accuracy"].protocol["judge"]["source"] == source
        assert json.loads(json.dumps(report.to_json()))["protocol"]["judge"]["source"] == source
        assert any(line.startswith(text) for line in report.format_table().splitlines())
