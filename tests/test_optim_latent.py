"""Optimizer choice (Adam as before, SGD with the CGAN paper's schedule) and the latent prior."""

from __future__ import annotations

import json
import math

import pytest
import torch

import cganzoo
from cganzoo.errors import ConfigError, UnknownComponentError
from cganzoo.components.randomness import sample_latent
from cganzoo.training import Trainer, build_optimizers
from cganzoo_training.optimizers import SGDParams, sgd_schedule
from cganzoo.components.sampling import class_grid_inputs


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
    opt_g, opt_d = trainer.state.optimizers.generator, trainer.state.optimizers.discriminator
    assert type(opt_g.optimizer) is torch.optim.Adam and type(opt_d.optimizer) is torch.optim.Adam
    group = opt_g.optimizer.param_groups[0]
    assert group["lr"] == 3e-4 and group["betas"] == (0.4, 0.999)
    opt_d.schedule(opt_d.optimizer, 1000)
    assert opt_d.optimizer.param_groups[0]["lr"] == 3e-4  # constant


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
    assert type(trainer.state.optimizers.generator.optimizer) is torch.optim.SGD
    batches = trainer.batches.epoch(0)
    for _ in range(3):
        trainer.train_step(*next(batches))
        trainer.state.step += 1
    group = trainer.state.optimizers.discriminator.optimizer.param_groups[0]
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
    with pytest.raises(UnknownComponentError, match="unknown optimizer 'rmsprop'; choose one of: adam, sgd"):
        registry.validate_params("optimizer", "rmsprop", {})
    with pytest.raises(ConfigError, match="optimizer 'sgd': lr_decay"):
        registry.validate_params("optimizer", "sgd", {"lr_decay": 0.5})
    with pytest.raises(ConfigError, match="optimizer 'adam': beta"):
        registry.validate_params("optimizer", "adam", {"beta": 0.5})
    with pytest.raises(UnknownComponentError, match="unknown optimizer"):
        Trainer(toy_config(tmp_path, optimizer="rmsprop"), tmp_path / "x", registry=registry, progress=False,
                log=quiet)
    with pytest.raises(UnknownComponentError, match="unknown optimizer 'rmsprop'"):
        Trainer(toy_config(tmp_path, discriminator_optimizer={"name": "rmsprop"}), tmp_path / "y", registry=registry,
                progress=False, log=quiet)


def test_build_optimizers_is_usable_without_a_trainer(registry):
    g, d = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    config = cganzoo.RunConfig(optimizer={"name": "sgd"}, lr=0.1)
    opts = build_optimizers(config, g, d, registry=registry)
    opts.generator.schedule(opts.generator.optimizer, 0)
    assert opts.generator.optimizer.param_groups[0]["momentum"] == 0.5


def test_each_player_has_its_own_optimizer_settings(tmp_path, registry):
    """TTUR (Heusel et al. 2017): one config line per player; --lr/--b1/--b2 still mean both."""
    config = toy_config(tmp_path, lr=3e-4, generator_optimizer={"lr": 1e-4},
                        discriminator_optimizer={"lr": 4e-4, "betas": [0.0, 0.9], "weight_decay": 1e-5})
    trainer = Trainer(config, tmp_path / "run", registry=registry, progress=False, log=quiet)
    g = trainer.state.optimizers.generator.optimizer.param_groups[0]
    d = trainer.state.optimizers.discriminator.optimizer.param_groups[0]
    assert (g["lr"], g["betas"], g["weight_decay"]) == (1e-4, (0.5, 0.999), 0.0)
    assert (d["lr"], d["betas"], d["weight_decay"]) == (4e-4, (0.0, 0.9), 1e-5)
    # Another optimizer for one player only: its own params, the other keeps the run's.
    mixed = toy_config(tmp_path, "mixed", discriminator_optimizer={"name": "sgd", "params": {"momentum": 0.3}})
    trainer = Trainer(mixed, tmp_path / "mixed", registry=registry, progress=False, log=quiet)
    assert type(trainer.state.optimizers.generator.optimizer) is torch.optim.Adam
    d = trainer.state.optimizers.discriminator.optimizer
    assert type(d) is torch.optim.SGD and d.param_groups[0]["momentum"] == 0.3
