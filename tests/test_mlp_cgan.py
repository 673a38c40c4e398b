"""The reference MLP CGAN, checked against the reference's exact architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cganzoo import DatasetInfo, create_conditioner, create_discriminator, create_generator
from cganzoo.training import build_models
import cganzoo

MNIST = DatasetInfo("mnist", 10, tuple(str(i) for i in range(10)), (1, 28, 28))


def reference_models():
    config = cganzoo.resolve_config("mlp-cgan")
    return build_models(config, MNIST)


def test_parameter_counts_equal_the_reference():
    G, D = reference_models()
    assert sum(p.numel() for p in G.parameters()) == 1_757_412
    assert sum(p.numel() for p in D.parameters()) == 1_055_845


def test_generator_layers_follow_the_reference():
    G, _ = reference_models()
    assert isinstance(G.conditioner.embedding, nn.Embedding)
    assert tuple(G.conditioner.embedding.weight.shape) == (10, 10)
    linears = [m for m in G.net.model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(110, 128), (128, 256), (256, 512), (512, 1024), (1024, 1024)]
    bns = [m for m in G.net.model if isinstance(m, nn.BatchNorm1d)]
    assert [m.num_features for m in bns] == [256, 512, 1024]
    # The reference's BatchNorm1d(out, 0.8): 0.8 is eps; momentum stays PyTorch's 0.1.
    assert all(m.eps == 0.8 and m.momentum == 0.1 for m in bns)
    acts = [m for m in G.net.model if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 4 and all(a.negative_slope == 0.2 for a in acts)
    assert isinstance(G.net.model[-1], nn.Tanh)


def test_corrected_batchnorm_is_a_named_option():
    config = cganzoo.resolve_config("mlp-cgan-corrected-bn")
    G, _ = build_models(config, MNIST)
    bns = [m for m in G.net.model if isinstance(m, nn.BatchNorm1d)]
    assert all(m.eps == 1e-5 and m.momentum == 0.2 for m in bns)
    assert sum(p.numel() for p in G.parameters()) == 1_757_412


def test_discriminator_layers_follow_the_reference():
    _, D = reference_models()
    layers = list(D.net.model)
    kinds = [type(m).__name__ for m in layers]
    assert kinds == ["Linear", "LeakyReLU", "Linear", "Dropout", "LeakyReLU", "Linear", "Dropout", "LeakyReLU", "Linear"]
    assert (layers[0].in_features, layers[0].out_features) == (1024 + 10, 512)
    assert layers[-1].out_features == 1
    assert all(m.p == 0.4 for m in layers if isinstance(m, nn.Dropout))


def test_generator_concatenates_condition_then_noise_like_the_reference():
    G, _ = reference_models()
    G.eval()
    z = torch.randn(4, 100)
    y = torch.tensor([0, 1, 2, 3])
    first = G.net.model[0]
    captured = {}
    first.register_forward_pre_hook(lambda m, inp: captured.update(x=inp[0].clone()))
    G(z, y)
    assert torch.equal(captured["x"][:, :10], G.conditioner.embedding(y))
    assert torch.equal(captured["x"][:, 10:], z)


def test_shapes_and_ranges():
    G, D = reference_models()
    z, y = torch.randn(5, 100), torch.randint(0, 10, (5,))
    x = G(z, y)
    assert x.shape == (5, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    logits = D(x, y)
    assert logits.shape == (5,)


def test_g_and_d_own_separate_conditioners():
    G, D = reference_models()
    assert G.conditioner is not D.conditioner
    assert G.conditioner.embedding.weight.data_ptr() != D.conditioner.embedding.weight.data_ptr()


def test_same_seed_same_weights():
    a, _ = reference_models()
    b, _ = reference_models()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
