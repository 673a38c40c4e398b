"""The main job end to end: real MNIST, the reference model, the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image


@pytest.mark.slow
def test_cganzoo_run_mlp_cgan_on_real_mnist(real_mnist, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "CGANZOO_DATA_DIR": str(real_mnist.cache_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "cganzoo", "run", "mlp-cgan", "--dataset", "mnist", "--max-steps", "200",
         "--device", "cpu", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads((out / "config.json").read_text())
    assert record["parameters"] == {"generator": 1_757_412, "discriminator": 1_055_845}
    assert record["dataset"]["train_size"] == 60_000 and record["steps_per_epoch"] == 937
    assert record["dataset"]["class_names"][7] == "seven"
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [50, 100, 150, 200]
    # Least-squares losses start near 0.25-1 and stay finite; D has learned something by step 200.
    assert all(0 < m["d_loss"] < 1 and 0 < m["g_loss"] < 5 for m in metrics)
    grid = Image.open(out / "samples" / "step_200.png")
    assert grid.size[1] == 342 and grid.size[0] > 342  # 10 rows of 32 px, a column of class names left of them
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_000000200"
