"""Hypothesis property tests on tensor shapes, over every registered conditioner and network.

Parametrized from the registry, so a newly registered component is tested the
moment it is registered.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cganzoo import DatasetInfo, create_conditioner, create_discriminator, create_generator
from cganzoo.errors import IncompatibleError
from cganzoo.plugins import load_plugins

REGISTRY = load_plugins().registry
CONDITIONERS = REGISTRY.names("conditioner")
GENERATORS = REGISTRY.names("generator")
DISCRIMINATORS = REGISTRY.names("discriminator")
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def info(num_classes: int, channels: int = 1, side: int = 28) -> DatasetInfo:
    return DatasetInfo("prop", num_classes, tuple(f"class {i}" for i in range(num_classes)), (channels, side, side))


def test_registry_has_the_reference_components():
    assert "embedding" in CONDITIONERS and "mlp" in GENERATORS and "mlp" in DISCRIMINATORS


@pytest.mark.parametrize("name", CONDITIONERS)
@SETTINGS
@given(num_classes=st.integers(1, 40), batch=st.integers(1, 33), data=st.data())
def test_conditioner_shapes(name, num_classes, batch, data):
    conditioner = create_conditioner(name, info=info(num_classes), registry=REGISTRY)
    y = torch.tensor(data.draw(st.lists(st.integers(0, num_classes - 1), min_size=batch, max_size=batch)))
    c = conditioner(y)
    assert c.shape == (batch, conditioner.cond_dim)
    assert c.dtype == torch.float32
    assert torch.isfinite(c).all()
    assert conditioner.num_classes == num_classes


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


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("name", GENERATORS)
@SETTINGS
@given(batch=st.integers(1, 17), latent=st.integers(1, 128), side=st.sampled_from([8, 16, 28, 32, 33]),
       channels=st.sampled_from([1, 3]), num_classes=st.integers(2, 12), training=st.booleans())
def test_generator_shapes(name, conditioner, batch, latent, side, channels, num_classes, training):
    assume(not (training and batch == 1))  # BatchNorm needs two samples in training mode
    data = info(num_classes, channels, side)
    cond = create_conditioner(conditioner, info=data, registry=REGISTRY)
    G = _build_generator(name, cond, latent, (channels, side, side))
    G.train(training)
    x = G(torch.randn(batch, latent), torch.randint(0, num_classes, (batch,)))
    assert x.shape == (batch, channels, side, side)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("name", DISCRIMINATORS)
@SETTINGS
@given(batch=st.integers(1, 17), side=st.sampled_from([8, 16, 28, 32, 33]), channels=st.sampled_from([1, 3]),
       num_classes=st.integers(2, 12))
def test_discriminator_shapes(name, conditioner, batch, side, channels, num_classes):
    data = info(num_classes, channels, side)
    cond = create_conditioner(conditioner, info=data, registry=REGISTRY)
    D = _build_discriminator(name, cond, (channels, side, side))
    x = torch.rand(batch, channels, side, side) * 2 - 1
    logits = D(x, torch.randint(0, num_classes, (batch,)))
    assert logits.shape == (batch,)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


@pytest.mark.parametrize("conditioner", CONDITIONERS)
@pytest.mark.parametrize("name", GENERATORS)
def test_the_condition_reaches_the_generator_output(name, conditioner):
    data = info(10, 1, 28)
    torch.manual_seed(0)
    cond = create_conditioner(conditioner, info=data, registry=REGISTRY)
    G = _build_generator(name, cond, 16, (1, 28, 28)).eval()
    z = torch.randn(1, 16).repeat(2, 1)
    x = G(z, torch.tensor([1, 7]))
    assert not torch.allclose(x[0], x[1])
