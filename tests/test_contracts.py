"""Contract tests parametrized over the registry: what every component of a kind promises.

A component registered by any plugin is checked here the moment it is
registered; one whose optional dependency is missing is skipped with the reason.
"""

from __future__ import annotations

import pytest
import torch

from cganzoo import (
    ConditionalDiscriminator,
    Conditioner,
    DatasetInfo,
    DiscriminatorOutput,
    LabelError,
    OptionalDependencyError,
    create_conditioner,
    create_discriminator,
    create_generator,
    create_loss,
    model_preset,
)
from cganzoo.components.compatibility import check_combination
from cganzoo.components.randomness import BatchNoise
from cganzoo.config import validate_config
from cganzoo.components.discovery import load_plugins
from cganzoo.training import build_models

REGISTRY = load_plugins().registry
MNIST = DatasetInfo("mnist", 10, ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
                    (1, 28, 28))
ROLES = ("generator", "discriminator")


def make_conditioner(name, role, info=MNIST):
    try:
        return create_conditioner(name, info=info, role=role, registry=REGISTRY)
    except OptionalDependencyError as exc:
        pytest.skip(str(exc))


# -- conditioners --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", REGISTRY.names("conditioner"))
def test_conditioner_contract(name, role):
    cond = make_conditioner(name, role)
    assert isinstance(cond, Conditioner)
    assert isinstance(cond.cond_dim, int) and cond.cond_dim >= 0
    assert cond.num_classes == 10
    assert REGISTRY.get("conditioner", name).description
    y = torch.arange(10)
    assert cond(y).shape == (10, cond.cond_dim)
    # dtype follows the module (mixed precision, float64 checks): nothing hard-codes float32.
    assert cond.double()(y).dtype == torch.float64
    if role == "generator":
        assert cond.cond_dim >= 1, "a generator-side conditioner must feed the generator something"


@pytest.mark.parametrize("name", REGISTRY.names("conditioner"))
def test_free_text_is_encoded_or_refused_with_a_label_error(name):
    cond = make_conditioner(name, "generator")
    if cond.accepts_text:
        c = cond.encode_text(["the digit seven", "three"])
        assert c.shape == (2, cond.cond_dim) and torch.isfinite(c).all()
    else:
        with pytest.raises(LabelError, match="takes class labels only"):
            cond.encode_text(["the digit seven"])


@pytest.mark.parametrize("name", REGISTRY.names("conditioner"))
def test_output_conditioners_bind_to_features_and_return_a_discriminator_output(name):
    cond = make_conditioner(name, "discriminator")
    if not cond.reads_features:
        out = cond.condition_output(torch.randn(4, 7), torch.randn(4), torch.arange(4))
        assert isinstance(out, DiscriminatorOutput) and out.class_logits is None
        return
    cond.bind_features(7)
    h, logits, y = torch.randn(4, 7), torch.randn(4), torch.tensor([0, 3, 3, 9])
    out = cond.condition_output(h, logits, y)
    assert isinstance(out, DiscriminatorOutput) and out.logits.shape == (4,)
    if out.class_logits is not None:
        assert out.class_logits.shape == (4, 10)
    for extra in (cond.generator_loss(out, y), cond.discriminator_loss(out, y, out, y)):
        assert extra is None or (extra.shape == () and torch.isfinite(extra))


# -- networks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REGISTRY.names("generator"))
def test_generator_network_contract(name):
    cond = make_conditioner("one-hot", "generator")
    G = create_generator(name, conditioner=cond, latent_dim=12, img_shape=(1, 28, 28), registry=REGISTRY)
    assert isinstance(G.net.min_batch_size, int) and G.net.min_batch_size >= 1
    G.train()
    batch = max(G.net.min_batch_size, 2)
    x = G(torch.randn(batch, 12), torch.arange(batch) % 10)
    assert x.shape == (batch, 1, 28, 28) and x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    G.eval()
    assert G(torch.randn(1, 12), torch.tensor([4])).shape == (1, 1, 28, 28)  # one sample in eval mode


@pytest.mark.parametrize("name", REGISTRY.names("discriminator"))
def test_discriminator_network_contract(name):
    """``forward == output . features`` where features are exposed; ``cond_dim`` 0 is accepted."""
    for cond_dim in (0, 5):
        net = REGISTRY.create("discriminator", name, None, cond_dim=cond_dim, img_shape=(1, 28, 28))
        assert isinstance(net.min_batch_size, int) and net.min_batch_size >= 1
        net.eval()
        x, c = torch.rand(3, 1, 28, 28) * 2 - 1, torch.randn(3, cond_dim)
        logits = net(x, c)
        assert logits.shape == (3,)
        if net.feature_dim is not None:
            h = net.features(x, c)
            assert h.shape == (3, net.feature_dim)
            assert torch.equal(net.output(h), logits)


# -- losses --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REGISTRY.names("loss"))
def test_loss_contract_directions(name):
    """Between the fake and real targets (logits in (0, 1)) every loss pushes the right way.

    G's loss falls as its logits rise; D's loss falls as real logits rise and
    rises as fake logits rise. Losses are finite scalars even at extreme logits.
    """
    loss = create_loss(name, registry=REGISTRY)
    real = torch.linspace(0.05, 0.95, 8, requires_grad=True)
    fake = torch.linspace(0.05, 0.95, 8, requires_grad=True)
    g = loss.generator_loss(fake)
    assert g.shape == ()
    (g_grad,) = torch.autograd.grad(g, fake)
    assert (g_grad < 0).all()
    d = loss.discriminator_loss(real, fake)
    assert d.shape == ()
    d_real, d_fake = torch.autograd.grad(d, (real, fake))
    assert (d_real < 0).all() and (d_fake > 0).all()
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(loss.discriminator_loss(big, big)) and torch.isfinite(loss.generator_loss(big))


PENALISED = [n for n in REGISTRY.names("loss") if hasattr(create_loss(n, registry=REGISTRY), "discriminator_penalty")]


@pytest.mark.parametrize("name", PENALISED)
def test_a_penalty_is_a_nonnegative_scalar_with_a_graph_to_the_critic(name):
    penalty = create_loss(name, registry=REGISTRY).discriminator_penalty
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    value = penalty(lambda x: critic(x).squeeze(-1), real, fake, BatchNoise(torch.Generator().manual_seed(0)))
    assert value.shape == () and value >= 0
    value.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


# -- models (presets) ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", REGISTRY.names("model"))
def test_every_model_is_a_valid_combination(name):
    config = validate_config({**model_preset(name, registry=REGISTRY), "model": name})
    try:
        G, D = build_models(config, MNIST, REGISTRY)
    except OptionalDependencyError as exc:
        pytest.skip(str(exc))
    loss = create_loss(config.loss.name, config.loss.params, registry=REGISTRY)
    check_combination(config, G, D, loss)
    assert isinstance(D, ConditionalDiscriminator)
    assert G.img_shape == (1, config.img_size, config.img_size)
    assert REGISTRY.get("model", name).description
