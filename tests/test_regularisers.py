"""R1, spectral norm on every discriminator, and DiffAugment: what each promises, and exact resume with all of them on.

Everything trains on the toy data set with tiny networks (seconds on a CPU).
"""

from __future__ import annotations

import json

import pytest
import torch

import cganzoo
from cganzoo import BatchNoise, DatasetInfo, create_augmentation, create_conditioner, create_discriminator, has_spectral_norm
from cganzoo.components.factory import create_loss
from cganzoo.training.objective import Objective
from cganzoo.components.discovery import load_plugins

REGISTRY = load_plugins().registry
INFO = DatasetInfo("toy", 10, tuple(f"class {k}" for k in range(10)), (3, 16, 16))


@pytest.mark.parametrize("name", REGISTRY.names("discriminator"))
def test_every_discriminator_offers_spectral_norm_on_all_its_layers(name):
    net = REGISTRY.create("discriminator", name, {"spectral_norm": True}, cond_dim=4, img_shape=(1, 28, 28))
    assert has_spectral_norm(net)
    before = sum(p.numel() for p in net.parameters())
    plain = REGISTRY.create("discriminator", name, {"spectral_norm": False}, cond_dim=4, img_shape=(1, 28, 28))
    assert not has_spectral_norm(plain) and sum(p.numel() for p in plain.parameters()) == before


def _d(seed=0):
    torch.manual_seed(seed)
    cond = create_conditioner("embedding", info=INFO, role="discriminator", registry=REGISTRY)
    return create_discriminator("resnet", {"width": 8, "depth": 1}, conditioner=cond, img_shape=(3, 16, 16),
                                registry=REGISTRY)


def test_r1_is_half_gamma_times_the_mean_squared_gradient_norm_at_real_images():
    D = _d().eval()  # spectral norm's power iteration would change D between the calls compared
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    y = torch.tensor([0, 1, 2, 3])
    loss = create_loss("hinge", registry=REGISTRY)
    plain = Objective(loss, D).discriminator_loss(D, real, y, fake, y)
    with_r1 = Objective(loss, D, r1_gamma=10.0).discriminator_loss(D, real, y, fake, y)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, y).sum(), x)
    expected = 10.0 / 2 * (grad ** 2).sum(dim=(1, 2, 3)).mean()
    torch.testing.assert_close(with_r1 - plain, expected, rtol=1e-4, atol=1e-6)
    # Lazy: every 4th D update only, scaled by 4 (StyleGAN2, Appendix B).
    lazy = Objective(loss, D, r1_gamma=10.0, r1_interval=4)
    assert [lazy.r1_due(u) for u in range(6)] == [True, False, False, False, True, False]
    torch.testing.assert_close(lazy.discriminator_loss(D, real, y, fake, y, update=8) - plain, 4 * expected,
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(lazy.discriminator_loss(D, real, y, fake, y, update=9), plain)
    # It has a graph to D's parameters (double backward).
    with_r1.backward()
    assert all(p.grad is not None for p in D.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", REGISTRY.names("augmentation"))
def test_augmentations_are_differentiable_shape_keeping_and_drawn_from_the_run_noise(name):
    augment = create_augmentation(name, registry=REGISTRY)
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(0)
    global_before = torch.get_rng_state()
    out = augment(x, BatchNoise(gen))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert torch.equal(torch.get_rng_state(), global_before), "drew from torch's global generator"
    assert not torch.equal(gen.get_state(), torch.Generator().manual_seed(5).get_state())
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = augment(x.detach(), BatchNoise(torch.Generator().manual_seed(5)))
    assert torch.equal(again, out.detach()), "the same noise state gives the same augmentation"


def test_diffaugment_policies_do_what_the_paper_says():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    noise = BatchNoise(torch.Generator().manual_seed(1))
    cut = create_augmentation("diffaugment", {"policy": ["cutout"]}, registry=REGISTRY)(x, noise)
    zeros = (cut == 0).all(dim=1).flatten(1).sum(dim=1)
    assert ((zeros > 0) & (zeros <= 64)).all()  # a square of at most 8 x 8 zeroed per image
    shift = create_augmentation("diffaugment", {"policy": ["translation"]}, registry=REGISTRY)(x, noise)
    for a, b in zip(x, shift):  # each image is a shifted copy: some integer shift matches its interior
        assert any(torch.equal(b[:, max(dy, 0):16 + min(dy, 0), max(dx, 0):16 + min(dx, 0)],
                               a[:, max(-dy, 0):16 + min(-dy, 0), max(-dx, 0):16 + min(-dx, 0)])
                   for dy in range(-2, 3) for dx in range(-2, 3))


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _trainer(tmp_path, registry, name, steps, resume=False):
    from cganzoo.training import Trainer

    config = cganzoo.resolve_config(None, registry=registry, overrides={
        "dataset": "toy-digits", "generator": {"name": "resnet", "params": {"width": 8}},
        "discriminator": {"name": "resnet", "params": {"width": 8, "depth": 1}}, "conditioner": "projection",
        "loss": "hinge", "augmentation": "diffaugment", "r1_gamma": 1.0, "r1_interval": 2, "d_steps_per_g_step": 2,
        "callbacks": [{"name": "ema", "params": {"decay": 0.9}}], "img_size": 16, "batch_size": 8,
        "latent_dim": 16, "max_steps": steps, "device": "cpu", "seed": 3, "log_interval": 2,
        "sample_interval": 100, "checkpoint_interval": 3, "out": str(tmp_path / name)})
    return Trainer(config, tmp_path / name, resume=resume, registry=registry, progress=False, log=lambda _: None)


@pytest.mark.usefixtures("one_thread")
def test_resume_is_bit_exact_with_diffaugment_r1_and_ema(tmp_path, registry):
    straight = _trainer(tmp_path, registry, "straight", 6)
    straight.run()
    _trainer(tmp_path, registry, "split", 3).run()
    split = _trainer(tmp_path, registry, "split", 6, resume=True)
    split.run()
    for a, b in ((straight.state.generator, split.state.generator),
                 (straight.state.discriminator, split.state.discriminator),
                 (straight.sampling_generator(), split.sampling_generator())):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key
    assert straight.sampling_generator() is not straight.state.generator  # the EMA is what samples
    assert torch.equal(straight.state.noise.get_state(), split.state.noise.get_state())
    losses = [{r["step"]: (r["d_loss"], r["g_loss"])
               for r in map(json.loads, (t.run_dir / "metrics.jsonl").read_text().splitlines())}
              for t in (straight, split)]
    # (the first half also logged its last step, 3, when it stopped)
    assert sorted(losses[0]) == [2, 4, 6] and all(losses[1][step] == losses[0][step] for step in losses[0])
