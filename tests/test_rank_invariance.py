"""Random draws inside a step do not depend on the number of processes, for every registered loss and conditioner.

Under ``--nproc N`` each rank computes the objective on its shard of the global
batch with a :class:`cganzoo.BatchNoise` over the shared noise generator. Here
the ranks are simulated in one process: the shards' losses must average to the
one-process loss on the whole batch (every built-in loss is a mean over
samples), and every rank's noise generator must end where the single process's
does, so the next draw (``z`` of the next step) is the same everywhere. A
``tests/test_distributed.py`` case checks the same with real torchrun ranks.
"""

from __future__ import annotations

import pytest
import torch

from cganzoo import BatchNoise, DatasetInfo, IncompatibleError
from cganzoo.components.factory import create_augmentation, create_conditioner, create_discriminator, create_loss
from cganzoo.training.objective import Objective
from cganzoo.components.discovery import load_plugins

REGISTRY = load_plugins().registry
INFO = DatasetInfo("digits", 10, tuple(f"class {k}" for k in range(10)), (1, 8, 8))
PAIRS = [(loss, cond) for loss in REGISTRY.names("loss") for cond in REGISTRY.names("conditioner")]


def objective_on(loss_name, cond_name, noise):
    torch.manual_seed(0)
    cond = create_conditioner(cond_name, info=INFO, role="discriminator", registry=REGISTRY)
    D = create_discriminator("mlp", {"hidden": 16, "dropout": 0.0}, conditioner=cond, img_shape=(1, 8, 8),
                             registry=REGISTRY)
    return Objective(create_loss(loss_name, registry=REGISTRY), D, noise), D


@pytest.mark.parametrize("loss_name, cond_name", PAIRS)
def test_two_simulated_ranks_draw_what_one_process_draws(loss_name, cond_name):
    batch = 8
    gen = torch.Generator().manual_seed(11)
    real, fake = torch.rand(batch, 1, 8, 8) * 2 - 1, torch.rand(batch, 1, 8, 8) * 2 - 1
    y_real, y_fake = torch.arange(batch) % 10, (torch.arange(batch) + 3) % 10
    try:
        objective, D = objective_on(loss_name, cond_name, BatchNoise(gen))
    except IncompatibleError:
        pytest.skip(f"{cond_name} does not condition an MLP discriminator")
    whole = objective.discriminator_loss(D, real, y_real, fake, y_fake)
    after_whole = gen.get_state()

    shards, states = [], []
    for rank in range(2):
        g = torch.Generator().manual_seed(11)
        objective, D = objective_on(loss_name, cond_name, BatchNoise(g, world_size=2, rank=rank))
        part = slice(rank * batch // 2, (rank + 1) * batch // 2)
        shards.append(objective.discriminator_loss(D, real[part], y_real[part], fake[part], y_fake[part]))
        states.append(g.get_state())
    torch.testing.assert_close((shards[0] + shards[1]) / 2, whole, rtol=1e-5, atol=1e-6)
    assert torch.equal(states[0], after_whole) and torch.equal(states[1], after_whole)


@pytest.mark.parametrize("name", REGISTRY.names("augmentation"))
def test_each_simulated_rank_augments_its_shard_as_one_process_augments_the_batch(name):
    augment = create_augmentation(name, registry=REGISTRY)
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    gen = torch.Generator().manual_seed(11)
    whole = augment(x, BatchNoise(gen))
    for rank in range(2):
        g = torch.Generator().manual_seed(11)
        shard = augment(x[rank * 4:(rank + 1) * 4], BatchNoise(g, world_size=2, rank=rank))
        assert torch.equal(shard, whole[rank * 4:(rank + 1) * 4])
        assert torch.equal(g.get_state(), gen.get_state())


@pytest.mark.parametrize("name", REGISTRY.names("augmentation"))
def test_two_simulated_ranks_with_an_augmentation_average_to_the_one_process_loss(name):
    batch = 8
    real, fake = torch.rand(batch, 1, 8, 8) * 2 - 1, torch.rand(batch, 1, 8, 8) * 2 - 1
    y = torch.arange(batch) % 10
    augment = create_augmentation(name, registry=REGISTRY)

    def objective(noise):
        o, D = objective_on("hinge", "embedding", noise)
        return Objective(o.loss, D, noise, augmentation=augment, r1_gamma=1.0), D

    gen = torch.Generator().manual_seed(2)
    obj, D = objective(BatchNoise(gen))
    whole = obj.discriminator_loss(D, real, y, fake, y) + obj.generator_loss(D, fake, y)
    shards = []
    for rank in range(2):
        g = torch.Generator().manual_seed(2)
        obj, D = objective(BatchNoise(g, world_size=2, rank=rank))
        part = slice(rank * batch // 2, (rank + 1) * batch // 2)
        shards.append(obj.discriminator_loss(D, real[part], y[part], fake[part], y[part])
                      + obj.generator_loss(D, fake[part], y[part]))
        assert torch.equal(g.get_state(), gen.get_state())
    torch.testing.assert_close((shards[0] + shards[1]) / 2, whole, rtol=1e-5, atol=1e-5)


def test_batch_noise_keeps_each_ranks_contiguous_shard():
    full = BatchNoise(torch.Generator().manual_seed(3)).rand(6, 2)
    parts = [BatchNoise(torch.Generator().manual_seed(3), world_size=3, rank=r).rand(2, 2) for r in range(3)]
    assert torch.equal(torch.cat(parts), full)
    with pytest.raises(ValueError, match="rank 3 is not in"):
        BatchNoise(torch.Generator(), world_size=3, rank=3)
