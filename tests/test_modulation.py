"""Conditioning by modulation (conditional BatchNorm) and the ResNet / BigGAN networks built on it.

Parameter counts of the presets are checked against counts derived by hand
from the published layer tables (arithmetic written out below, not read from
the code): Miyato et al. 2018, Appendix B, Table 4 (the CIFAR-10 ResNet), with
the categorical conditional BatchNorm of Miyato & Koyama 2018 (their code:
per-class gain and bias in each block, the last BatchNorm unconditional); and
BigGAN's 32 px layout of the authors' release (BigGAN-PyTorch ``G_arch[32]``,
``D_arch[32]`` with ``ch = 64``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cganzoo
from cganzoo import (
    ConditionalBatchNorm2d,
    Conditioner,
    DatasetInfo,
    IncompatibleError,
    OptionalDependencyError,
    create_conditioner,
    create_discriminator,
    create_generator,
    has_spectral_norm,
)
from cganzoo.config import validate_config
from cganzoo.components.discovery import load_plugins
from cganzoo.training import build_models
from cganzoo.training.build import count_parameters

REGISTRY = load_plugins().registry
CIFAR = DatasetInfo("cifar-like", 10, tuple(f"class {k}" for k in range(10)), (3, 32, 32))
VECTOR_CONDITIONERS = ["embedding", "one-hot", "word-vectors"]
MODULATED = [g for g in REGISTRY.names("generator")
             if "modulation" in getattr(REGISTRY.create("generator", g, None, latent_dim=8, cond_dim=4,
                                                        img_shape=(1, 32, 32)), "conditioning", ())]


def conv(cin, cout, k):
    return cin * cout * k * k + cout


def sngan_counts(classes=10, channels=3, z=128, g_ch=256, d_ch=128):
    """Miyato et al. 2018, Table 4 (CIFAR-10 ResNet), conditional as in Miyato & Koyama 2018."""
    linear = z * 4 * 4 * g_ch + 4 * 4 * g_ch
    cbn = 2 * classes * g_ch                                   # per-class gain and bias
    up_block = 2 * conv(g_ch, g_ch, 3) + conv(g_ch, g_ch, 1) + 2 * cbn
    g = linear + 3 * up_block + 2 * g_ch + conv(g_ch, channels, 3)
    optimized = conv(channels, d_ch, 3) + conv(d_ch, d_ch, 3) + conv(channels, d_ch, 1)
    down = 2 * conv(d_ch, d_ch, 3) + conv(d_ch, d_ch, 1)
    plain = 2 * conv(d_ch, d_ch, 3)
    d = optimized + down + 2 * plain + (d_ch + 1)
    return g, d


def test_derived_sngan_counts_match_the_published_sizes():
    # Unconditional: the well-known 4.28M / 1.05M of the SNGAN CIFAR-10 ResNet.
    g, d = sngan_counts(classes=0)
    g += 6 * 2 * 256  # an unconditional BatchNorm has its own gain and bias
    assert (g, d) == (4_276_739, 1_053_825)


@pytest.mark.parametrize("model, projection", [("sngan-projection", 10 * 128), ("acgan-resnet", 10 * 128 + 10)])
def test_sngan_presets_have_the_papers_parameter_counts(model, projection):
    config = validate_config({**cganzoo.model_preset(model, registry=REGISTRY), "model": model})
    G, D = build_models(config, CIFAR, REGISTRY)
    g, d = sngan_counts()
    assert count_parameters(G) == g == 4_304_387
    # projection: V (10 x 128); AC-GAN: a linear classifier 128 -> 10 on the same features.
    assert count_parameters(D) == d + projection
    assert has_spectral_norm(D.net), "every D layer is spectrally normalised"
    assert config.loss.name == "hinge" and (config.lr, config.b1, config.b2) == (2e-4, 0.0, 0.9)
    assert config.d_steps_per_g_step == 5


def test_biggan_32_has_the_releases_parameter_counts():
    config = validate_config({**cganzoo.model_preset("biggan-32", registry=REGISTRY), "model": "biggan-32"})
    G, D = build_models(config, CIFAR, REGISTRY)
    ch, z, shared, classes = 256, 128, 128, 10          # blocks of 4 x G_ch, G_ch = 64
    chunk = z // 4                                       # hierarchical z: 3 blocks + 1 slots
    ccbn = 2 * (shared + chunk) * ch                     # gain and bias linears, no bias
    g = (chunk * 16 * ch + 16 * ch) + 3 * (2 * conv(ch, ch, 3) + conv(ch, ch, 1) + 2 * ccbn) \
        + 2 * ch + conv(ch, 3, 3) + classes * shared     # ..., output BN and conv, shared embedding
    d = (conv(3, ch, 3) + conv(ch, ch, 3) + conv(3, ch, 1)) + (2 * conv(ch, ch, 3) + conv(ch, ch, 1)) \
        + 2 * (2 * conv(ch, ch, 3)) + (ch + 1) + classes * ch
    assert (count_parameters(G), count_parameters(D)) == (g, d) == (4_373_251, 4_207_361)
    assert has_spectral_norm(D.net) and has_spectral_norm(G.net)
    assert [cb.name for cb in config.callbacks] == ["ema"]


def test_conditional_batchnorm_with_one_hot_is_a_per_class_table():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, 3).eval()
    assert count_parameters(cbn) == 2 * 3 * 4
    x = torch.randn(3, 4, 5, 5)
    y = torch.tensor([0, 2, 1])
    out = cbn(x, nn.functional.one_hot(y, 3).float())
    normed = cbn.bn(x)
    gain, bias = 1 + cbn.gain.weight.T[y], cbn.shift.weight.T[y]
    torch.testing.assert_close(out, normed * gain[:, :, None, None] + bias[:, :, None, None])


@pytest.mark.parametrize("generator", MODULATED)
@pytest.mark.parametrize("conditioner", VECTOR_CONDITIONERS)
def test_every_vector_conditioner_drives_a_modulated_generator(generator, conditioner):
    """The label changes the image only through the BatchNorm gains and biases, for each vector conditioner."""
    torch.manual_seed(0)
    try:
        cond = create_conditioner(conditioner, info=CIFAR, registry=REGISTRY)
    except OptionalDependencyError as exc:
        pytest.skip(str(exc))
    assert "modulation" in cond.mechanisms
    G = create_generator(generator, conditioner=cond, latent_dim=16, img_shape=(3, 32, 32), registry=REGISTRY)
    assert G.net.conditioning == frozenset({"modulation"})
    G.train()
    z = torch.randn(1, 16).repeat(4, 1)
    x = G(z, torch.tensor([1, 7, 1, 7]))
    assert not torch.allclose(x[0], x[1])
    # Only the modulation layers see c: with their predictions zeroed, the label has no effect.
    for m in G.net.modules():
        if isinstance(m, ConditionalBatchNorm2d):
            nn.init.zeros_(m.gain.weight if not hasattr(m.gain, "parametrizations") else
                           m.gain.parametrizations.weight.original)
            nn.init.zeros_(m.shift.weight if not hasattr(m.shift, "parametrizations") else
                           m.shift.parametrizations.weight.original)
    if generator == "resnet":  # (biggan's z chunks also enter through them; spectral norm of 0 is undefined)
        G.eval()
        x = G(z[:2], torch.tensor([1, 7]))
        torch.testing.assert_close(x[0], x[1])


class InputOnly(Conditioner):
    """A code that only makes sense concatenated to z (a plugin may narrow its mechanisms so)."""

    def __init__(self):
        super().__init__()
        self.num_classes, self.cond_dim = 10, 10

    @property
    def mechanisms(self):
        return frozenset({"input"})

    def forward(self, y):
        return nn.functional.one_hot(y, 10).float()


@pytest.mark.parametrize("generator", MODULATED)
def test_an_impossible_pairing_is_refused_in_one_line(generator):
    cond = InputOnly()
    cond.component_name = "input-only"
    with pytest.raises(IncompatibleError) as err:
        create_generator(generator, conditioner=cond, latent_dim=8, img_shape=(3, 32, 32), registry=REGISTRY)
    message = str(err.value)
    assert "\n" not in message and generator in message and "input-only" in message and "modulation" in message


def test_networks_refuse_sizes_they_cannot_make_in_one_line():
    cond = create_conditioner("one-hot", info=CIFAR, registry=REGISTRY)
    for name in ("resnet", "biggan"):
        with pytest.raises(IncompatibleError, match="not 33"):
            create_generator(name, conditioner=cond, latent_dim=8, img_shape=(3, 33, 33), registry=REGISTRY)
        G = create_generator(name, conditioner=cond, latent_dim=8, img_shape=(1, 64, 64), registry=REGISTRY)
        assert G(torch.randn(2, 8), torch.tensor([0, 1])).shape == (2, 1, 64, 64)
    with pytest.raises(IncompatibleError, match="attention at side 5"):
        create_discriminator("biggan", {"attention": 5}, conditioner=create_conditioner(
            "projection", info=CIFAR, role="discriminator", registry=REGISTRY), img_shape=(3, 32, 32),
            registry=REGISTRY)


@pytest.mark.parametrize("attention", [16, 32])
def test_biggan_with_self_attention_runs_and_starts_as_the_identity(attention):
    torch.manual_seed(0)
    cond = create_conditioner("embedding", {"cond_dim": 8}, info=CIFAR, registry=REGISTRY)
    G = create_generator("biggan", {"attention": attention}, conditioner=cond, latent_dim=16, img_shape=(3, 32, 32),
                         registry=REGISTRY)
    assert G.net.attention is not None and G.net.attention.gamma.item() == 0.0
    x = G(torch.randn(3, 16), torch.tensor([0, 1, 2]))
    assert x.shape == (3, 3, 32, 32)
    x.mean().backward()
    assert G.net.attention.o.parametrizations.weight.original.grad is not None
