"""docs/example-plugin installs like any third-party distribution and works through `cganzoo run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example-plugin"


def test_the_example_plugin_installs_and_trains_through_the_cli(tmp_path):
    site = tmp_path / "site"
    source = shutil.copytree(EXAMPLE, tmp_path / "example-plugin",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    # A real install of its own distribution (a wheel built from its pyproject) into a private directory;
    # built from a copy, so the build leaves nothing in the source tree.
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stderr
    assert list(site.glob("cganzoo_example_plugin-0.1.0.dist-info"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("CGANZOO_DISABLE_PLUGIN_AUTOLOAD", None)

    def python(*args):
        proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = tmp_path / "run"
    # Its optimizer for D and its callback, through the CLI; stopped at 20 and resumed to 30.
    (tmp_path / "extra.yaml").write_text("model: example-gan\ndiscriminator_optimizer: {name: rmsprop, lr: 5.0e-4}\n")
    python("-m", "cganzoo", "run", "--config", "extra.yaml", "--callbacks", "loss-csv", "--max-steps", "20",
           "--log-interval", "10", "--device", "cpu", "--out", str(out), "--no-progress")
    python("-m", "cganzoo", "run", "--resume", str(out), "--max-steps", "30", "--no-progress")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 30
    assert [line.split(",")[0] for line in (out / "losses.csv").read_text().splitlines()] == ["10", "20", "30"]
    state = json.loads((out / "checkpoints" / "step_000000030" / "state.json").read_text())
    assert state["callbacks"]["loss-csv"] == {"rows": 3}  # 2 before the resume, restored, then one more
    assert "alpha" in state["optimizers"]["opt_d"]["param_groups"][0]  # RMSprop's, for D only
    assert "betas" in state["optimizers"]["opt_g"]["param_groups"][0]
    components = json.loads((out / "config.json").read_text())["components"]
    assert components["discriminator_optimizer"] == {"name": "rmsprop", "plugin": "example",
                                                     "distribution": "cganzoo-example-plugin", "version": "0.1.0"}

    # The rest in one interpreter (each start imports torch): list, plugins, a mixed run, sample.
    script = f"""
import json, sys
from cganzoo.cli import main
for argv in (["list", "--json"], ["plugins", "--json"]):
    assert main(argv) == 0
    print("@@")
# Third-party and built-in components combine: its discriminator exposes features for projection.
assert main(["run", "example-gan", "--conditioner", "projection", "--max-steps", "3", "--device", "cpu",
             "--out", {str(tmp_path / "projected")!r}, "--no-progress"]) == 0
assert main(["sample", {str(out)!r}, "--labels", "bar 2,7", "--n", "5", "-o", {str(tmp_path / "grid.png")!r}]) == 0
print("@@")
assert main(["eval", {str(out)!r}, "--metrics", "mean-intensity", "--per-class", "5", "--json"]) == 0
"""
    listing, plugin_list, _, evaluation = python("-c", script).split("@@")
    listed = {(c["kind"], c["name"]): c["plugin"] for c in json.loads(listing)}
    for kind, name in [("model", "example-gan"), ("dataset", "bars"), ("conditioner", "thermometer"),
                       ("generator", "linear"), ("discriminator", "linear"), ("loss", "bce-smoothed"),
                       ("metric", "mean-intensity"), ("optimizer", "rmsprop"), ("callback", "loss-csv")]:
        assert listed[(kind, name)] == "example", (kind, name)
    plugins = {p["name"]: p["hooks"] for p in json.loads(plugin_list)["plugins"]}
    assert plugins["example"] == ["register_callbacks", "register_conditioners", "register_datasets",
                                  "register_losses", "register_metrics", "register_models", "register_networks",
                                  "register_optimizers"]
    assert (tmp_path / "projected" / "checkpoints" / "latest").read_text().strip() == "step_000000003"
    width, height = Image.open(tmp_path / "grid.png").size
    assert height == 2 * 28 + 3 * 2 and 10 < width - (5 * 28 + 6 * 2) < 200  # a column of class names, then the grid
    # Its metric runs through `cganzoo eval` on 50 generated images (5 per class).
    report = json.loads(evaluation[evaluation.index("{"):])
    value = report["metrics"]["mean-intensity"]["values"]["mean_intensity"]
    assert -1 <= value <= 1 and report["protocol"]["num_samples"] == 50
