from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cganzoo import create_loss
from cganzoo.errors import ConfigError


def test_mse_equals_the_reference_formulas():
    loss = create_loss("mse")
    real, fake = torch.tensor([0.9, 1.2, -0.1]), torch.tensor([0.2, -0.3, 0.5])
    expected_d = (((real - 1) ** 2).mean() + (fake ** 2).mean()) / 2
    assert torch.allclose(loss.discriminator_loss(real, fake), expected_d)
    assert torch.allclose(loss.generator_loss(fake), ((fake - 1) ** 2).mean())


def test_bce_on_logits_and_both_generator_forms():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    d = create_loss("bce").discriminator_loss(real, fake)
    expected = (-(torch.log(sig(real))).mean() - torch.log(1 - sig(fake)).mean()) / 2
    assert torch.allclose(d, expected, atol=1e-6)
    ns = create_loss("bce").generator_loss(fake)
    assert torch.allclose(ns, -torch.log(sig(fake)).mean(), atol=1e-6)
    sat = create_loss("bce", {"generator_loss": "saturating"}).generator_loss(fake)
    assert torch.allclose(sat, torch.log(1 - sig(fake)).mean(), atol=1e-6)


def test_bce_is_finite_for_extreme_logits():
    loss = create_loss("bce")
    big = torch.tensor([1e4, -1e4])
    assert math.isfinite(loss.discriminator_loss(big, big).item())
    assert math.isfinite(loss.generator_loss(big).item())


def test_losses_do_not_touch_parameters():
    logits = torch.randn(8, requires_grad=True)
    for name in ("mse", "bce"):
        out = create_loss(name).generator_loss(logits)
        assert out.dim() == 0 and out.requires_grad


def test_unknown_loss_param_is_rejected():
    with pytest.raises(ConfigError, match="generator_loss"):
        create_loss("bce", {"generator_loss": "wobbly"})
