"""Every registered model trains 200 steps on real MNIST on the CPU (slow; CI runs it).

Parametrized from the registry: a newly registered model preset is trained
here the moment it is registered. A preset whose optional dependency is
missing is skipped with the reason. A preset registered with ``smoke_params``
(the ResNet and BigGAN presets, whose paper widths take minutes per step on a
CPU) is trained with those settings merged over it: the same components and
schedule, narrower networks.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image

import cganzoo
from cganzoo import OptionalDependencyError
from cganzoo.cli import main
from cganzoo.components.discovery import load_plugins

REGISTRY = load_plugins().registry
MODELS = REGISTRY.names("model")
STEPS = 200


def quiet(_):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_200_steps_on_real_mnist(model, real_mnist, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CGANZOO_DATA_DIR", str(real_mnist.cache_dir))
    config = cganzoo.resolve_config(model, overrides={
        **REGISTRY.get("model", model).extra.get("smoke_params", {}), "max_steps": STEPS, "batch_size": 64, "device": "cpu", "out": str(tmp_path / "run"),
        "log_interval": 50, "sample_interval": STEPS, "checkpoint_interval": STEPS})
    try:
        run = cganzoo.train(config, progress=False, log=quiet)
    except OptionalDependencyError as exc:
        pytest.skip(str(exc))

    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [50, 100, 150, 200]
    assert all(math.isfinite(m["d_loss"]) and math.isfinite(m["g_loss"]) for m in metrics)
    side = config.img_size
    width, height = Image.open(run / "samples" / f"step_{STEPS}.png").size
    assert height == 10 * side + 22 and width > 10 * side + 22  # 10x10 images and a column of class names

    trained = cganzoo.load(run)
    images = trained.sample(list(range(10)), n=8, seed=0).view(10, 8, -1)
    assert torch.isfinite(images).all()
    assert images.std() > 0.05, "the generator's output is (nearly) constant"
    class_means = images.mean(dim=1)
    assert (class_means[:, None] - class_means[None]).abs().mean() > 1e-3, "the class does not change the output"

    if trained.conditioner.accepts_text:
        grid = tmp_path / "unseen.png"
        assert main(["sample", str(run), "--labels", "seven,digit three", "--n", "6", "-o", str(grid)]) == 0
        width, height = Image.open(grid).size
        assert height == 2 * side + 6 and 10 < width - (6 * side + 14) < 200  # the labels' column, then the grid
        assert "12 images" in capsys.readouterr().out
