"""Hypothesis property tests over every registered conditioner, network and loss, and their combinations.

Parametrized from the registry, so a newly registered component is tested the
moment it is registered. A component whose optional dependency is missing is
skipped with the reason (``OptionalDependencyError``).
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cganzoo import (
    DatasetInfo,
    OptionalDependencyError,
    create_conditioner,
    create_discriminator,
    create_generator,
    create_loss,
)
from cganzoo.components.compatibility import check_combination
from cganzoo.config import RunConfig
from cganzoo.errors import IncompatibleError
from cganzoo.components.randomness import BatchNoise
from cganzoo.training.objective import Objective
from cganzoo.components.discovery import load_plugins

REGISTRY = load_plugins().registry
CONDITIONERS = REGISTRY.names("conditioner")
GENERATORS = REGISTRY.names("generator")
DISCRIMINATORS = REGISTRY.names("discriminator")
LOSSES = REGISTRY.names("loss")
ROLES = ("generator", "discriminator")
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: The combination product is large (conditioner x generator x discriminator x loss): fewer examples each.
COMBO_SETTINGS = settings(max_examples=3, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
#: Generator/discriminator pairs a plugin registered together (mlp+mlp, dcgan+dcgan, ...); a generator
#: without a partner in its plugin is paired with every discriminator.
_PLUGIN = {(kind, name): REGISTRY.get(kind, name).plugin
           for kind, names in (("generator", GENERATORS), ("discriminator", DISCRIMINATORS)) for name in names}
NETWORK_PAIRS = [(g, d) for g in GENERATORS for d in DISCRIMINATORS
                 if _PLUGIN["generator", g] == _PLUGIN["discriminator", d]
                 or not any(_PLUGIN["generator", g] == _PLUGIN["discriminator", e] for e in DISCRIMINATORS)]
#: Every conditioner x network pair x loss, and every conditioner x generator x discriminator (mixed
#: families) with the losses taken in turn: each component meets every other kind of component.
COMBINATIONS = sorted(
    {(c, g, d, loss) for c in CONDITIONERS for g, d in NETWORK_PAIRS for loss in LOSSES}
    | {(c, g, d, LOSSES[i % len(LOSSES)])
       for i, (c, g, d) in enumerate(itertools.product(CONDITIONERS, GENERATORS, DISCRIMINATORS))})


def info(num_classes: int, channels: int = 1, side: int = 28) -> DatasetInfo:
    return DatasetInfo("prop", num_classes, tuple(f"class {i}" for i in range(num_classes)), (channels, side, side))


def conditioner(name: str, data: DatasetInfo, role: str):
    try:
        return create_conditioner(name, info=data, role=role, registry=REGISTRY)
    except OptionalDependencyError as exc:
        pytest.skip(str(exc))


def test_registry_has_the_zoo():
    assert {"embedding", "one-hot", "word-vectors", "projection", "auxiliary-classifier"} <= set(CONDITIONERS)
    assert {"mlp", "dcgan"} <= set(GENERATORS) and {"mlp", "dcgan"} <= set(DISCRIMINATORS)
    assert {"mse", "bce", "minimax", "non-saturating", "hinge", "wasserstein-gp"} <= set(LOSSES)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", CONDITIONERS)
@SETTINGS
@given(num_classes=st.integers(1, 40), batch=st.integers(1, 33), data=st.data())
def test_conditioner_shapes(name, role, num_classes, batch, data):
    cond = conditioner(name, info(num_classes), role)
    y = torch.tensor(data.draw(st.lists(st.integers(0, num_classes - 1), min_size=batch, max_size=batch)))
    c = cond(y)
    assert c.shape == (batch, cond.cond_dim)
    assert c.dtype == torch.float32
    assert torch.isfinite(c).all()
    assert cond.num_classes == num_classes
    if role == "generator":
        assert cond.cond_dim >= 1 and not cond.reads_features


def _build_generator(name, cond, latent, img_shape):
    try:
        return create_generator(name, conditioner=cond, latent_dim=latent, img_shape=img_shape, registry=REGISTRY)
    except IncompatibleError:
        assume(False)


def _build_discriminator(name, cond, img_shape):
    try:
        return create_discriminator(name, conditioner=cond, img_shape=img_shape, registry=REGISTRY)
    except IncompatibleError:
        assume(False)


def refused(conditioner_name: str, discriminator_name: str) -> IncompatibleError | None:
    """The error if this discriminator network can never serve this conditioner (e.g. no features), else None."""
    data = info(10)
    cond = create_conditioner(conditioner_name, info=data, role="discriminator", registry=REGISTRY)
    net = REGISTRY.create("discriminator", discriminator_name, None, cond_dim=cond.cond_dim, img_shape=(1, 28, 28))
    if cond.reads_features and not getattr(net, "feature_dim", None):
        with pytest.raises(IncompatibleError) as err:
            create_discriminator(discriminator_name, conditioner=cond, img_shape=(1, 28, 28), registry=REGISTRY)
        return err.value
    return None


@pytest.mark.parametrize("conditioner_name", CONDITIONERS)
@pytest.mark.parametrize("name", GENERATORS)
@SETTINGS
@given(batch=st.integers(1, 17), latent=st.integers(1, 128), side=st.sampled_from([8, 16, 28, 32, 33]),
       channels=st.sampled_from([1, 3]), num_classes=st.integers(2, 12), training=st.booleans())
def test_generator_shapes(name, conditioner_name, batch, latent, side, channels, num_classes, training):
    data = info(num_classes, channels, side)
    cond = conditioner(conditioner_name, data, "generator")
    G = _build_generator(name, cond, latent, (channels, side, side))
    # Below its declared min_batch_size a network need not train (BatchNorm1d over one sample).
    assume(not training or batch >= G.net.min_batch_size)
    G.train(training)
    x = G(torch.randn(batch, latent), torch.randint(0, num_classes, (batch,)))
    assert x.shape == (batch, channels, side, side)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("conditioner_name", CONDITIONERS)
@pytest.mark.parametrize("name", DISCRIMINATORS)
@SETTINGS
@given(batch=st.integers(1, 17), side=st.sampled_from([8, 16, 28, 32, 33]), channels=st.sampled_from([1, 3]),
       num_classes=st.integers(2, 12), training=st.booleans())
def test_discriminator_shapes(name, conditioner_name, batch, side, channels, num_classes, training):
    data = info(num_classes, channels, side)
    cond = conditioner(conditioner_name, data, "discriminator")
    error = refused(conditioner_name, name)
    if error is not None:  # refused for every shape, in one line naming both
        assert "\n" not in str(error) and conditioner_name in str(error) and name in str(error)
        return
    D = _build_discriminator(name, cond, (channels, side, side))
    assume(not training or batch >= D.net.min_batch_size)
    D.train(training)
    x = torch.rand(batch, channels, side, side) * 2 - 1
    y = torch.randint(0, num_classes, (batch,))
    out = D(x, y, full=True)
    assert out.logits.shape == (batch,)
    assert out.logits.dtype == torch.float32 and torch.isfinite(out.logits).all()
    if out.class_logits is not None:
        assert out.class_logits.shape == (batch, num_classes) and torch.isfinite(out.class_logits).all()
    if not training:
        assert torch.equal(D(x, y), out.logits)  # the plain call gives the same logits


@pytest.mark.parametrize("conditioner_name", CONDITIONERS)
@pytest.mark.parametrize("name", GENERATORS)
def test_the_condition_reaches_the_generator_output(name, conditioner_name):
    data = info(10, 1, 28)
    torch.manual_seed(0)
    cond = conditioner(conditioner_name, data, "generator")
    G = _build_generator(name, cond, 16, (1, 28, 28)).eval()
    z = torch.randn(1, 16).repeat(2, 1)
    x = G(z, torch.tensor([1, 7]))
    assert not torch.allclose(x[0], x[1])


def _config(cond, gen, disc, loss, batch):
    return RunConfig(conditioner=cond, generator=gen, discriminator=disc, loss=loss, batch_size=batch)


@pytest.mark.parametrize("cond_name, gen_name, disc_name, loss_name", COMBINATIONS)
@COMBO_SETTINGS
@given(batch=st.sampled_from([1, 2, 5]), image=st.sampled_from([(1, 28), (3, 32)]),
       num_classes=st.sampled_from([2, 3, 10]), seed=st.integers(0, 2**16))
def test_every_combination_takes_a_training_step(cond_name, gen_name, disc_name, loss_name, batch, image,
                                                 num_classes, seed):
    """One G and one D objective, as the runner computes them: finite scalars, gradients where they belong.

    Checked for every conditioner x generator x discriminator x loss: the
    condition reaches G's output and G's loss (gradient w.r.t. ``c``), the
    D objective depends on the labels, both losses are finite scalars, and
    batches down to one work wherever the networks declare they can train on
    them. A combination that cannot train must be refused by the checks
    before training, in one line.
    """
    # A few fixed shapes (sizes and channels vary in the shape tests above): CPU kernels are
    # prepared once per shape, so reusing shapes keeps 120 combinations fast.
    channels, side = image
    torch.manual_seed(seed)
    data = info(num_classes, channels, side)
    img_shape = (channels, side, side)
    try:
        G = create_generator(gen_name, conditioner=conditioner(cond_name, data, "generator"), latent_dim=8,
                             img_shape=img_shape, registry=REGISTRY)
        D = create_discriminator(disc_name, conditioner=conditioner(cond_name, data, "discriminator"),
                                 img_shape=img_shape, registry=REGISTRY)
        loss = create_loss(loss_name, registry=REGISTRY)
        check_combination(_config(cond_name, gen_name, disc_name, loss_name, batch), G, D, loss)
    except IncompatibleError as exc:  # refused before training: one line naming a component involved
        assert "\n" not in str(exc)
        assert any(name in str(exc) for name in (cond_name, gen_name, disc_name, loss_name)), str(exc)
        return
    objective = Objective(loss, D, BatchNoise(torch.Generator().manual_seed(seed)))
    z = torch.randn(batch, 8)
    y = torch.randint(0, num_classes, (batch,))
    real = torch.rand(batch, *img_shape) * 2 - 1

    # Generator objective; gradient w.r.t. the condition tensor c proves the condition reaches G's loss.
    c = G.conditioner(y).detach().requires_grad_(True)
    fake = G.from_condition(z, c)
    assert fake.shape == (batch, *img_shape) and torch.isfinite(fake).all()
    D.requires_grad_(False)
    g_loss = objective.generator_loss(D, fake, y)
    assert g_loss.shape == () and torch.isfinite(g_loss)
    g_loss.backward()
    assert c.grad is not None and torch.isfinite(c.grad).all()
    if not c.grad.abs().sum() > 0:
        # A saturating loss (float32 sigmoid is exactly 0 or 1 beyond |logit| ~17, which a spectrally normalised ResNet D with sum
        # pooling can give at initialisation) has a gradient that underflows to zero; the condition
        # must still reach D's logits through G.
        logits = D(G.from_condition(z, c), y)
        (through_g,) = torch.autograd.grad(logits.sum(), c)
        assert logits.abs().max() > 15 and through_g.abs().sum() > 0, "the condition does not reach G's loss"
    D.requires_grad_(True)

    # Discriminator objective: finite, reaches D's parameters, and depends on the labels.
    d_loss = objective.discriminator_loss(D, real, y, fake.detach(), y)
    assert d_loss.shape == () and torch.isfinite(d_loss)
    d_loss.backward()
    grads = [p.grad for p in D.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    if not sum(g.abs().sum() for g in grads) > 0:
        # A loss can be exactly flat at initialisation: the hinge loss is 0 with every real logit >= 1
        # and every fake one <= -1, which a spectrally normalised ResNet D with sum pooling can give.
        # Then the loss must be at that flat point and D's logits must still reach its parameters.
        assert d_loss.item() == 0.0, "D's loss is not flat but has no gradient"
        D.zero_grad()
        D(real, y).sum().backward()
        assert sum(p.grad.abs().sum() for p in D.parameters() if p.grad is not None) > 0
    # The labels reach D's objective: through its logits, or through its auxiliary loss (AC-GAN).
    D.eval()  # no dropout, no batch statistics: only the labels change
    other = (y + 1) % num_classes
    with torch.no_grad():
        first, second = label_terms(D, real, y), label_terms(D, real, other)
    assert any(not torch.equal(a, b) for a, b in zip(first, second)), "the discriminator ignores the labels"


def label_terms(D, x, y):
    out = D(x, y, full=True)
    aux = D.conditioner.discriminator_loss(out, y, out, y)
    return [out.logits] + ([] if aux is None else [aux])
