"""The training runner on the toy data set: outputs, the reference step, exact resume."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import cganzoo
from cganzoo.errors import CheckpointError, ConfigError
from cganzoo.training import Trainer
from cganzoo.training.sample_grids import SampleGrids


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 12, "device": "cpu", "log_interval": 4, "sample_interval": 6,
            "checkpoint_interval": 5, "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def quiet(_):
    pass


def test_a_run_writes_config_metrics_samples_and_checkpoints(tmp_path, registry):
    run_dir = cganzoo.train(toy_config(tmp_path), progress=False, log=quiet, registry=registry)
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["model"] == "toy-gan" and record["seed"] == 0
    assert record["versions"]["torch"] == torch.__version__
    assert record["parameters"]["generator"] > 0 and record["steps_per_epoch"] == 16
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [4, 8, 12]
    assert set(lines[0]) == {"epoch", "step", "d_loss", "g_loss", "images_per_s", "elapsed_s"}
    assert all(r["images_per_s"] > 0 for r in lines)
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == ["step_0.png", "step_12.png", "step_6.png"]
    grid = Image.open(run_dir / "samples" / "step_12.png")
    # 10x10 grid of 32 px images, 2 px padding, and a column of class names ("class 0" ...) on the left
    assert grid.size[1] == 10 * 32 + 11 * 2 and grid.size[0] > 10 * 32 + 11 * 2
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.is_dir())
    assert ckpts == ["step_000000010", "step_000000012"]  # keep_checkpoints=2
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == "step_000000012"


def test_sample_grid_rows_are_classes_and_generator_mode_is_restored(tmp_path, registry):
    trainer = Trainer(toy_config(tmp_path), tmp_path / "run", registry=registry, progress=False, log=quiet)
    assert torch.equal(trainer.state.fixed_y, torch.arange(10).repeat_interleave(10))
    assert torch.equal(trainer.state.fixed_z[:10], trainer.state.fixed_z[10:20])  # the same noise in every row
    trainer.generator.train()
    SampleGrids.draw(trainer)
    assert trainer.generator.training


def test_sample_at_start_writes_the_untrained_grid_once_and_leaves_training_as_it_was(tmp_path, registry):
    before_after = cganzoo.train(toy_config(tmp_path, "before", max_steps=6, sample_at_start=True), progress=False,
                                 log=quiet, registry=registry)
    samples = before_after / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["step_0.png", "step_6.png"]
    first, last = (Image.open(samples / name) for name in ("step_0.png", "step_6.png"))
    assert first.size == last.size and first.tobytes() != last.tobytes()
    # step_0.png is the untrained generator: what a freshly built trainer of this config draws.
    fresh = Trainer(toy_config(tmp_path, "fresh", max_steps=6), tmp_path / "fresh", registry=registry,
                    progress=False, log=quiet)
    assert Image.open(SampleGrids.draw(fresh)).tobytes() == first.tobytes()
    # Drawing it changes nothing the run trains: the losses equal those of a run without it.
    plain = cganzoo.train(toy_config(tmp_path, "plain", max_steps=6), progress=False, log=quiet, registry=registry)
    losses = lambda run: [(r["step"], r["d_loss"], r["g_loss"])
                          for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert losses(before_after) == losses(plain) and len(losses(plain)) == 2
    # A resumed run keeps the grids it has and draws no new "before" grid.
    (samples / "step_0.png").unlink()
    cganzoo.train(toy_config(tmp_path, "before", max_steps=12, sample_at_start=True), run_dir=before_after,
                  resume=True, progress=False, log=quiet, registry=registry)
    assert sorted(p.name for p in samples.iterdir()) == ["step_12.png", "step_6.png"]


def reference_loop(trainer: Trainer, steps: int) -> list[tuple[float, float]]:
    """The reference script's step, written plainly: no frozen D, plain zero_grad()."""
    G, D, loss, cfg = trainer.generator, trainer.discriminator, trainer.loss, trainer.config
    out = []
    batches = trainer.batches.epoch(0)
    for _ in range(steps):
        real, labels = next(batches)
        z = torch.randn(real.shape[0], cfg.latent_dim, generator=trainer.state.noise)
        gen_labels = torch.randint(0, trainer.info.num_classes, (real.shape[0],), generator=trainer.state.noise)
        trainer.state.optimizers.generator.optimizer.zero_grad()
        gen_imgs = G(z, gen_labels)
        g_loss = loss.generator_loss(D(gen_imgs, gen_labels))
        g_loss.backward()
        trainer.state.optimizers.generator.optimizer.step()
        trainer.state.optimizers.discriminator.optimizer.zero_grad()
        real_loss_logits = D(real, labels)
        fake_logits = D(gen_imgs.detach(), gen_labels)
        d_loss = loss.discriminator_loss(real_loss_logits, fake_logits)
        d_loss.backward()
        trainer.state.optimizers.discriminator.optimizer.step()
        out.append((d_loss.item(), g_loss.item()))
    return out


def test_train_step_computes_exactly_what_the_reference_step_computes(tmp_path, registry):
    a = Trainer(toy_config(tmp_path, "a"), tmp_path / "a", registry=registry, progress=False, log=quiet)
    b = Trainer(toy_config(tmp_path, "b"), tmp_path / "b", registry=registry, progress=False, log=quiet)
    torch.manual_seed(5)
    expected = reference_loop(a, 6)
    torch.manual_seed(5)
    got = []
    batches = b.batches.epoch(0)
    for _ in range(6):
        d, g = b.train_step(*next(batches))
        got.append((d.item(), g.item()))
    assert got == expected
    for p, q in zip(a.generator.state_dict().values(), b.generator.state_dict().values()):
        assert torch.equal(p, q)
    for p, q in zip(a.discriminator.state_dict().values(), b.discriminator.state_dict().values()):
        assert torch.equal(p, q)


def test_resume_is_bit_identical_to_training_straight_through(tmp_path, registry):
    # 24 steps straight; 10 (mid-epoch, checkpoint at 10), then resume to 24.
    straight = cganzoo.train(toy_config(tmp_path, "straight", max_steps=24), progress=False, log=quiet, registry=registry)
    split = cganzoo.train(toy_config(tmp_path, "split", max_steps=10), progress=False, log=quiet, registry=registry)
    config = toy_config(tmp_path, "split", max_steps=24)
    cganzoo.train(config, run_dir=split, resume=True, progress=False, log=quiet, registry=registry)

    a = cganzoo.load(straight, registry=registry)
    b = cganzoo.load(split, registry=registry)
    assert a.step == b.step == 24
    for (k, p), q in zip(a.generator.state_dict().items(), b.generator.state_dict().values()):
        assert torch.equal(p, q), k
    losses = lambda d: {r["step"]: (r["d_loss"], r["g_loss"]) for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())}
    assert losses(straight)[24] == losses(split)[24]
    assert losses(straight)[16] == losses(split)[16]


def test_resume_with_a_changed_architecture_names_the_difference(tmp_path, registry):
    run = cganzoo.train(toy_config(tmp_path, max_steps=5), progress=False, log=quiet, registry=registry)
    changed = toy_config(tmp_path, max_steps=10, latent_dim=7)
    with pytest.raises(CheckpointError, match="latent_dim was 100 in the checkpoint but is 7 now"):
        cganzoo.train(changed, run_dir=run, resume=True, progress=False, log=quiet, registry=registry)


def test_an_existing_run_is_never_overwritten(tmp_path, registry):
    run = cganzoo.train(toy_config(tmp_path, max_steps=2), progress=False, log=quiet, registry=registry)
    with pytest.raises(ConfigError, match="is not empty; choose another --out, or continue it with --resume"):
        cganzoo.train(toy_config(tmp_path, max_steps=2), progress=False, log=quiet, registry=registry)
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_000000002"


def test_load_and_sample_by_index_and_name(tmp_path, registry):
    run = cganzoo.train(toy_config(tmp_path, max_steps=3), progress=False, log=quiet, registry=registry)
    model = cganzoo.load(run, registry=registry)
    images = model.sample("3,class 7", n=4, seed=1)
    assert images.shape == (8, 1, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, model.sample([3, 7], n=4, seed=1))
    with pytest.raises(cganzoo.LabelError, match=r"label 12 at position 0 is outside \[0, 10\)"):
        model.sample([12])
    with pytest.raises(cganzoo.LabelError, match="label 'eleven' at position 0 is not a class index"):
        model.sample("eleven")
