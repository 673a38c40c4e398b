"""Conditional DCGAN networks for 28x28, 32x32 and 64x64 images, 1 or 3 channels, and the convolutional models.

Networks ``dcgan`` (generator and discriminator; Radford, Metz & Chintala
2016, conditioned as in the conditional DCGANs that followed Mirza &
Osindero 2014), in :mod:`cganzoo_dcgan.networks` with their layers and
sizes, and the models built on them: ``dcgan``, ``cdcgan``,
``cdcgan-word-vectors``, ``acgan``, ``projection-gan`` and ``wgan-gp``.
Registered through the ``cganzoo`` entry-point group, using only cganzoo's
public API.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_dcgan.networks import DCGANDiscriminator, DCGANDiscriminatorParams, DCGANGenerator, DCGANGeneratorParams


def _dcgan(conditioner: str | dict, loss: str | dict, *, g: dict | None = None, d: dict | None = None,
           **extra) -> dict:
    """A model preset on the ``dcgan`` networks at 28 px; ``g`` and ``d`` are their params, ``extra`` run settings."""
    return {"generator": {"name": "dcgan", "params": g or {}},
            "discriminator": {"name": "dcgan", "params": d or {}},
            "conditioner": conditioner, "loss": loss, "img_size": 28, **extra}


@hookimpl
def register_networks(register):
    register("dcgan", DCGANGenerator, kind="generator", params=DCGANGeneratorParams,
             description="conditional DCGAN generator, 28, 32 or 64 px, 1 or 3 channels (Radford et al. 2016)")
    register("dcgan", DCGANDiscriminator, kind="discriminator", params=DCGANDiscriminatorParams,
             description="conditional DCGAN discriminator, 28, 32 or 64 px; norm batch|layer|none, optional "
                         "spectral norm; exposes features")


@hookimpl
def register_models(register):
    register("dcgan", _dcgan("embedding", "mse"),
             description="DCGAN networks at 28 px with mlp-cgan's other choices: learned embedding, least squares")
    register("cdcgan", _dcgan("embedding", "non-saturating"),
             description="conditional DCGAN at 28 px: learned embedding on both sides, non-saturating BCE")
    register("cdcgan-word-vectors",
             _dcgan({"name": "word-vectors", "params": {"template": "the digit {name}"}}, "non-saturating"),
             description="cdcgan with labels as text (all-MiniLM-L6-v2, 'the digit {name}'): samples from unseen "
                         "phrasings; needs cganzoo[text]")
    register("acgan", _dcgan("auxiliary-classifier", "non-saturating"),
             description="AC-GAN (Odena et al. 2017): DCGAN networks, D predicts the class, non-saturating BCE")
    register("projection-gan", _dcgan({"name": "projection", "params": {"spectral_norm": True}}, "hinge",
                                      d={"norm": "none", "spectral_norm": True}),
             description="projection discriminator (Miyato & Koyama 2018): spectral norm, hinge loss, DCGAN networks")
    # Gulrajani et al. 2017, Algorithm 1: n_critic = 5, Adam lr 1e-4, betas (0, 0.9), lambda = 10.
    register("wgan-gp", _dcgan("embedding", "wasserstein-gp", d={"norm": "layer"}, lr=1e-4, b1=0.0, b2=0.9,
                               d_steps_per_g_step=5),
             description="conditional WGAN-GP (Gulrajani et al. 2017, Alg. 1): layer-normed DCGAN critic, 5 critic "
                         "steps per G step, Adam 1e-4 (0, 0.9)")
