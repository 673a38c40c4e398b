"""ResNet conditional GANs: the SNGAN / projection-discriminator ResNets and BigGAN, at 32 px.

Networks ``resnet`` (generator and discriminator; Miyato et al. 2018,
Appendix B; Miyato & Koyama 2018) and ``biggan`` (generator and
discriminator; Brock et al. 2019), and the models people train with them:
``sngan-projection``, ``acgan-resnet`` and ``biggan-32``. Registered through
the ``cganzoo`` entry-point group, using only cganzoo's public API.

The presets carry the papers' widths, far too slow for a CPU test; each
registers ``smoke_params``, the small widths ``tests/test_zoo_mnist.py`` trains
it with instead (see docs/plugins.md, "Presets too large for CPU tests").
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_resnet.biggan import (
    BigGANDiscriminatorParams,
    BigGANGenerator,
    BigGANGeneratorParams,
    make_biggan_discriminator,
)
from cganzoo_resnet.resnet import (
    ResNetDiscriminator,
    ResNetDiscriminatorParams,
    ResNetGenerator,
    ResNetGeneratorParams,
)

#: Miyato et al. 2018 (Sec. 4 and Appendix B, the CIFAR-10 ResNet) and Miyato & Koyama 2018 (Sec. 5) train with
#: Adam lr 2e-4, betas (0, 0.9), n_dis 5, batch 64, z of 128 ~ N(0, I), hinge loss; G 256 channels, D 128.
SNGAN = {
    "generator": {"name": "resnet", "params": {"width": 256}},
    "discriminator": {"name": "resnet", "params": {"width": 128}},
    "generator_conditioner": {"name": "one-hot"},
    "loss": {"name": "hinge"},
    "lr": 2e-4, "b1": 0.0, "b2": 0.9, "d_steps_per_g_step": 5, "batch_size": 64, "latent_dim": 128, "img_size": 32,
}
SNGAN_SMOKE = {"generator": {"name": "resnet", "params": {"width": 8}},
               "discriminator": {"name": "resnet", "params": {"width": 8, "depth": 1}}}

#: BigGAN-PyTorch's CIFAR-10 release (scripts/launch_cifar_ema.sh): G_ch = D_ch = 64 (blocks of 4 x 64 = 256),
#: num_D_steps 4, G_lr = D_lr = 2e-4, betas (0, 0.999), batch 50, no attention, EMA from iteration 1000
#: (decay 0.9999), z of 128 and a shared embedding of 128. The paper's architecture tables (Appendix B) cover
#: 128 px and up; it gives no 32 px table, so the release's settings are the ones cited. Orthogonal init is the
#: paper's (Sec. 3); the release script uses N02 (generator/discriminator param `init`).
BIGGAN = {
    "generator": {"name": "biggan", "params": {"width": 256}},
    "discriminator": {"name": "biggan", "params": {"width": 256}},
    "conditioner": {"name": "projection", "params": {"spectral_norm": True, "cond_dim": 128}},
    "loss": {"name": "hinge"},
    "lr": 2e-4, "b1": 0.0, "b2": 0.999, "d_steps_per_g_step": 4, "batch_size": 50, "latent_dim": 128,
    "img_size": 32,
    "callbacks": [{"name": "ema", "params": {"decay": 0.9999, "start": 1000}}],
}
BIGGAN_SMOKE = {"generator": {"name": "biggan", "params": {"width": 8}},
                "discriminator": {"name": "biggan", "params": {"width": 8, "depth": 1}}}


@hookimpl
def register_networks(register):
    register("resnet", ResNetGenerator, kind="generator", params=ResNetGeneratorParams,
             description="SNGAN ResNet generator (Miyato et al. 2018, App. B): up residual blocks with conditional "
                         "BatchNorm (modulation); 32 px from 4x4, 28 px from 7x7")
    register("resnet", ResNetDiscriminator, kind="discriminator", params=ResNetDiscriminatorParams,
             description="SNGAN ResNet discriminator: down residual blocks, spectral norm on every layer, sum "
                         "pooling; exposes features for projection / AC-GAN")
    register("biggan", BigGANGenerator, kind="generator", params=BigGANGeneratorParams,
             description="BigGAN generator (Brock et al. 2019): shared embedding + hierarchical z into conditional "
                         "BatchNorm, orthogonal init, spectral norm, optional self-attention")
    register("biggan", make_biggan_discriminator, kind="discriminator", params=BigGANDiscriminatorParams,
             description="BigGAN discriminator at 32 px: residual blocks, spectral norm, orthogonal init, optional "
                         "self-attention; exposes features for projection")


@hookimpl
def register_models(register):
    register("sngan-projection",
             {**SNGAN, "conditioner": {"name": "projection", "params": {"spectral_norm": True}}},
             smoke_params=SNGAN_SMOKE,
             description="SNGAN with projection discriminator (Miyato & Koyama 2018): ResNet G with per-class "
                         "conditional BN, spectrally normalised ResNet D, hinge, Adam 2e-4 (0, 0.9), n_dis 5")
    register("acgan-resnet", {**SNGAN, "conditioner": {"name": "auxiliary-classifier"}},
             smoke_params=SNGAN_SMOKE,
             description="AC-GAN's class loss (Odena et al. 2017) on the SNGAN ResNets: per-class conditional BN in "
                         "G, D predicts the class; hinge, Adam 2e-4 (0, 0.9), n_dis 5")
    register("biggan-32", BIGGAN, smoke_params=BIGGAN_SMOKE,
             description="BigGAN at 32 px with the authors' CIFAR-10 settings: shared embedding, hierarchical z, cBN, "
                         "ortho init, projection D, hinge, n_dis 4, EMA of G (0.9999 from step 1000)")
