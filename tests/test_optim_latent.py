"""Optimizer choice (Adam as before, SGD with the CGAN paper's schedule) and the latent prior."""

from __future__ import annotations

import json
import math

import pytest
import torch

import cganzoo
from cganzoo.errors import ConfigError
from cganzoo.latent import sample_latent
from cganzoo.optim import SGDParams, create_optimizers, sgd_schedule, validate_optimizer
from cganzoo.runner import Trainer
from cganzoo.sampling import class_grid_inputs


def quiet(_):
    pass


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 6, "device": "cpu", "log_interval": 3, "sample_interval": 100, "checkpoint_interval": 4,
            "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def test_normal_latent_draws_the_same_numbers_as_before():
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(sample_latent(5, 7, "normal", generator=gen_a), torch.randn(5, 7, generator=gen_b))
    z = sample_latent(4000, 3, "uniform", generator=gen_a)
    assert z.min() >= 0 and z.max() < 1 and abs(float(z.mean()) - 0.5) < 0.02
    with pytest.raises(ValueError, match="choose one of: normal, uniform"):
        sample_latent(1, 1, "cauchy")
    z_grid, _ = class_grid_inputs(10, 4, seed=0, distribution="uniform")
    assert z_grid.min() >= 0


def test_default_optimizer_is_adam_from_lr_and_betas(tmp_path, registry):
    trainer = Trainer(toy_config(tmp_path, lr=3e-4, b1=0.4), tmp_path / "run", registry=registry, progress=False,
                      log=quiet)
    assert type(trainer.opt_g) is torch.optim.Adam and type(trainer.opt_d) is torch.optim.Adam
    group = trainer.opt_g.param_groups[0]
    assert group["lr"] == 3e-4 and group["betas"] == (0.4, 0.999)
    trainer.optimizers.before_step(1000)
    assert trainer.opt_d.param_groups[0]["lr"] == 3e-4  # constant


def test_sgd_schedule_follows_the_paper():
    p = SGDParams()
    assert sgd_schedule(0, 0.1, p) == (0.1, 0.5)
    lr, momentum = sgd_schedule(10_000, 0.1, p)
    assert lr == pytest.approx(0.1 / 1.00004 ** 10_000, rel=1e-12)
    assert momentum == pytest.approx(0.5 + 0.2 * 10_000 / 150_000)
    assert sgd_schedule(150_000, 0.1, p)[1] == pytest.approx(0.7)
    assert sgd_schedule(10**7, 0.1, p) == (1e-6, pytest.approx(0.7))  # decayed to the floor, ramp saturated
    assert math.isclose(sgd_schedule(1, 0.1, p)[0] * 1.00004, 0.1)


def test_sgd_optimizers_are_scheduled_every_step_and_resume_exactly(tmp_path, registry):
    sgd = {"optimizer": {"name": "sgd", "params": {"momentum_ramp_steps": 10}}, "lr": 0.05}
    straight = cganzoo.train(toy_config(tmp_path, "straight", **sgd), progress=False, log=quiet, registry=registry)
    trainer = Trainer(toy_config(tmp_path, "probe", **sgd), tmp_path / "probe", registry=registry, progress=False,
                      log=quiet)
    assert type(trainer.opt_g) is torch.optim.SGD
    batches = trainer.batches.epoch(0)
    for _ in range(3):
        trainer.train_step(*next(batches))
        trainer.step += 1
    group = trainer.opt_d.param_groups[0]
    assert group["lr"] == pytest.approx(0.05 / 1.00004 ** 2) and group["momentum"] == pytest.approx(0.5 + 0.2 * 2 / 10)

    split = cganzoo.train(toy_config(tmp_path, "split", max_steps=4, **sgd), progress=False, log=quiet,
                          registry=registry)
    cganzoo.train(toy_config(tmp_path, "split", **sgd), run_dir=split, resume=True, progress=False, log=quiet,
                  registry=registry)
    a, b = cganzoo.load(straight, registry=registry), cganzoo.load(split, registry=registry)
    for (k, p), q in zip(a.generator.state_dict().items(), b.generator.state_dict().values()):
        assert torch.equal(p, q), k
    record = json.loads((straight / "config.json").read_text())
    assert record["config"]["optimizer"]["name"] == "sgd"


def test_unknown_or_invalid_optimizer_is_a_config_error(tmp_path, registry):
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'; choose one of: adam, sgd"):
        validate_optimizer("rmsprop", {})
    with pytest.raises(ConfigError, match="optimizer 'sgd': lr_decay"):
        validate_optimizer("sgd", {"lr_decay": 0.5})
    with pytest.raises(ConfigError, match="optimizer 'adam': beta"):
        validate_optimizer("adam", {"beta": 0.5})
    with pytest.raises(ConfigError, match="unknown optimizer"):
        Trainer(toy_config(tmp_path, optimizer="rmsprop"), tmp_path / "x", registry=registry, progress=False,
                log=quiet)


def test_create_optimizers_is_usable_without_a_trainer():
    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    config = cganzoo.RunConfig(optimizer={"name": "sgd"}, lr=0.1)
    opts = create_optimizers(config, g, d)
    opts.before_step(0)
    assert opts.generator.param_groups[0]["momentum"] == 0.5
