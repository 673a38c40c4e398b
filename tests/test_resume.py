"""Exact resume: 2N steps straight == N steps, stop, resume, N more; every piece of state restored.

Also: resuming with another architecture or other data fails and names the difference.
"""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import torch

import cganzoo
import toy_plugin
from cganzoo import DatasetInfo, LabelledImages
from cganzoo.errors import CheckpointError
from cganzoo.components.discovery import load_plugins
from cganzoo.training import Trainer


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: fast on a shared 2-core machine, and the same arithmetic in every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 12, "device": "cpu", "log_interval": 4, "sample_interval": 1000,
            "checkpoint_interval": 5, "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def quiet(_):
    pass


def trainer(tmp_path, registry, name, resume=False, log=quiet, **overrides):
    return Trainer(toy_config(tmp_path, name, **overrides), tmp_path / name, resume=resume, registry=registry,
                   progress=False, log=log)


def snapshot(t: Trainer) -> dict[str, object]:
    """Everything that must survive a resume, as plain comparable values."""
    def opt(o):
        sd = o.state_dict()
        return {i: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in e.items()}
                for i, e in sd["state"].items()}

    return {
        "generator": {k: v.clone() for k, v in t.generator.state_dict().items()},
        "discriminator": {k: v.clone() for k, v in t.discriminator.state_dict().items()},
        "opt_g": opt(t.state.optimizers.generator.optimizer), "opt_d": opt(t.state.optimizers.discriminator.optimizer),
        "lr": [g["lr"] for g in t.state.optimizers.generator.optimizer.param_groups + t.state.optimizers.discriminator.optimizer.param_groups],
        "rng.torch": torch.get_rng_state(), "rng.noise": t.state.noise.get_state(),
        "rng.python": random.getstate(), "rng.numpy": np.random.get_state(),
        "fixed_z": t.state.fixed_z.clone(), "fixed_y": t.state.fixed_y.clone(),
        "step": t.step, "window": t.state.losses.state().clone(),
    }


def assert_same(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture
def draws_python_and_numpy_random(monkeypatch):
    """Make every step also draw from Python's and NumPy's global generators, as a plugin might."""
    original = Trainer.train_step

    def train_step(self, real, labels):
        random.random()
        np.random.rand()
        return original(self, real, labels)

    monkeypatch.setattr(Trainer, "train_step", train_step)


def scramble_global_rngs():
    torch.manual_seed(987)
    random.seed(987)
    np.random.seed(987)


def metrics(run_dir):
    return {r["step"]: (r["d_loss"], r["g_loss"])
            for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())}


@pytest.mark.usefixtures("draws_python_and_numpy_random")
def test_resume_restores_every_piece_of_state_and_continues_bit_identically(tmp_path, registry):
    # 16 steps per epoch: the split at step 10 is in the middle of epoch 0, and the log window
    # (steps 9-12) straddles it.
    straight = trainer(tmp_path, registry, "straight", max_steps=24)
    straight.run()

    first = trainer(tmp_path, registry, "split", max_steps=10)
    first.run()
    at_stop = snapshot(first)
    assert at_stop["step"] == 10 and at_stop["window"].shape == (2, 2)
    assert all(e["step"] == 10 for e in at_stop["opt_g"].values())  # Adam's step counts
    scramble_global_rngs()  # a fresh process would start from other global RNG states

    second = trainer(tmp_path, registry, "split", resume=True, max_steps=24)
    assert_same(snapshot(second), at_stop, "restored")
    second.run()
    assert_same(snapshot(second), snapshot(straight), "after 24 steps")

    got, want = metrics(tmp_path / "split"), metrics(tmp_path / "straight")
    assert sorted(want) == [4, 8, 12, 16, 20, 24]
    assert sorted(got) == [4, 8, 10, 12, 16, 20, 24]  # 10: the partial window logged when the first part ended
    for step in want:
        assert got[step] == want[step], step  # bit-identical logged losses, step 12 included


def test_a_resume_across_an_epoch_boundary_is_exact(tmp_path, registry):
    straight = trainer(tmp_path, registry, "straight", max_steps=20)
    straight.run()
    first = trainer(tmp_path, registry, "split", max_steps=16)  # the end of epoch 0
    first.run()
    scramble_global_rngs()
    second = trainer(tmp_path, registry, "split", resume=True, max_steps=20)
    second.run()
    assert_same(snapshot(second), snapshot(straight))


def test_seed_seeds_python_and_numpy_random_too(tmp_path, registry):
    trainer(tmp_path, registry, "a", seed=3)
    a = (random.random(), np.random.rand())
    trainer(tmp_path, registry, "b", seed=3)
    assert (random.random(), np.random.rand()) == a


def test_records_logged_after_the_checkpoint_are_dropped_on_resume(tmp_path, registry):
    # A run killed after logging step 8 but before its next checkpoint: the checkpoint at
    # step 5 is the newest; steps 6-8 are trained again, so their records go.
    straight = trainer(tmp_path, registry, "straight", max_steps=12)
    straight.run()
    killed = trainer(tmp_path, registry, "killed", max_steps=10)
    killed.run()
    checkpoints = tmp_path / "killed" / "checkpoints"
    shutil.rmtree(checkpoints / "step_000000010")
    (checkpoints / "latest").write_text("step_000000005\n")
    with open(tmp_path / "killed" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 0, "step": 1')  # a line cut short by the kill
    lines = []
    resumed = trainer(tmp_path, registry, "killed", resume=True, log=lines.append, max_steps=12)
    assert resumed.step == 5
    assert "cganzoo: metrics.jsonl: dropped 3 record(s) written after step 5, the checkpoint resumed from" in lines
    assert sorted(metrics(tmp_path / "killed")) == [4]
    resumed.run()
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "straight")


@pytest.mark.parametrize("change, message", [
    ({"latent_dim": 7}, "latent_dim was 100 in the checkpoint but is 7 now"),
    ({"generator": {"name": "mlp", "params": {"hidden": [32, 32]}}},
     "generator was {'name': 'mlp', 'params': {'hidden': [32, 64]}} in the checkpoint but is "
     "{'name': 'mlp', 'params': {'hidden': [32, 32]}} now"),
    ({"loss": "mse"}, "loss was {'name': 'bce', 'params': {}} in the checkpoint but is {'name': 'mse', 'params': {}} now"),
    ({"dataset": {"name": "toy-digits", "params": {"size": 256}}}, "dataset was {'name': 'toy-digits', 'params': {}}"),
])
def test_resume_with_a_changed_config_names_the_difference(tmp_path, registry, change, message):
    trainer(tmp_path, registry, "run", max_steps=5).run()
    with pytest.raises(CheckpointError, match="cannot resume .*: " + _escape(message)):
        trainer(tmp_path, registry, "run", resume=True, max_steps=10, **change)


def _escape(text):
    import re

    return re.escape(text)


def _toy_variant(num_classes=10, side=28, size=512, seed=0):
    """A toy-digits data set that a plugin upgrade changed under the same name and params."""
    def make_toy(data_dir=None, log=print, size_=None, **params):
        labels = torch.arange(size) % num_classes
        names = tuple(f"class {k}" for k in range(num_classes))
        info = DatasetInfo("toy-digits", num_classes, names, (1, side, side))
        return LabelledImages(toy_plugin.encode(labels, side, seed=seed), labels, info)
    return make_toy


@pytest.mark.parametrize("variant, message", [
    (dict(num_classes=5), "the data set's num_classes was 10 in the checkpoint but is 5 now"),
    (dict(side=24), r"the data set's shape was \[1, 28, 28\] in the checkpoint but is \[1, 24, 24\] now"),
    (dict(size=480), "the data set's train_size was 512 in the checkpoint but is 480 now"),
    (dict(seed=5), "the data set 'toy-digits' has the same size and classes as in the checkpoint but other content"),
])
def test_resume_on_a_changed_data_set_names_the_difference(tmp_path, registry, monkeypatch, variant, message):
    monkeypatch.setattr(toy_plugin, "make_toy", _toy_variant())
    before = load_plugins().registry
    trainer(tmp_path, before, "run", max_steps=5).run()
    monkeypatch.setattr(toy_plugin, "make_toy", _toy_variant(**variant))
    after = load_plugins().registry  # the same dataset name and params, other data
    with pytest.raises(CheckpointError, match="cannot resume .*: " + message):
        trainer(tmp_path, after, "run", resume=True, max_steps=10)


def test_config_json_records_the_data_set_checksum(tmp_path, registry):
    trainer(tmp_path, registry, "run", max_steps=1)
    record = json.loads((tmp_path / "run" / "config.json").read_text())["dataset"]
    assert record["train_size"] == 512 and len(record["sha256"]) == 64
