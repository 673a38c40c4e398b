"""The reference MLP CGAN for MNIST, as networks and as the ``mlp-cgan`` model.

Networks ``mlp`` (generator and discriminator, :mod:`cganzoo_mlp.networks`,
which says what they reproduce and how the reference's BatchNorm differs from
what it meant) and the models ``mlp-cgan``, ``mlp-cgan-bce``,
``mlp-cgan-corrected-bn`` and ``mlp-cgan-one-hot``. Registered through the
``cganzoo`` entry-point group, using only cganzoo's public API.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_mlp.networks import MLPDiscriminator, MLPDiscriminatorParams, MLPGenerator, MLPGeneratorParams

#: The reference's choices; the other models change one of them.
_REFERENCE = {
    "generator": {"name": "mlp"},
    "discriminator": {"name": "mlp"},
    "conditioner": {"name": "embedding"},
    "loss": {"name": "mse"},
}


@hookimpl
def register_networks(register):
    register("mlp", MLPGenerator, kind="generator", params=MLPGeneratorParams,
             description="reference MLP generator 128-256-512-1024, BatchNorm, tanh")
    register("mlp", MLPDiscriminator, kind="discriminator", params=MLPDiscriminatorParams,
             description="reference MLP discriminator 512x3, dropout 0.4, logits")


@hookimpl
def register_models(register):
    register("mlp-cgan", dict(_REFERENCE),
             description="the reference PyTorch MLP CGAN: embedding conditioner, MSE loss, Adam 2e-4")
    register("mlp-cgan-bce", {**_REFERENCE, "loss": {"name": "bce"}},
             description="mlp-cgan with binary cross-entropy (non-saturating) loss")
    register("mlp-cgan-corrected-bn",
             {**_REFERENCE, "generator": {"name": "mlp", "params": {"batchnorm": "corrected"}}},
             description="mlp-cgan with the BatchNorm the reference meant (eps=1e-5, momentum=0.2)")
    register("mlp-cgan-one-hot", {**_REFERENCE, "conditioner": {"name": "one-hot"}},
             description="mlp-cgan conditioned on one-hot labels, as the paper (Mirza & Osindero 2014, Sec. 4.1)")
