"""Built-in adversarial losses: least squares, cross-entropy (minimax and non-saturating), hinge, WGAN-GP.

Pure functions of discriminator logits (plus, for WGAN-GP, a gradient
penalty computed from a critic the runner hands in); none of them touches an
optimizer.

One module each: :mod:`cganzoo_losses.least_squares`,
:mod:`cganzoo_losses.cross_entropy`, :mod:`cganzoo_losses.hinge` and
:mod:`cganzoo_losses.wasserstein`; this module registers them.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_losses.cross_entropy import BCEParams, BinaryCrossEntropyLoss, make_minimax, make_non_saturating
from cganzoo_losses.hinge import HingeLoss
from cganzoo_losses.least_squares import LeastSquaresLoss
from cganzoo_losses.wasserstein import WassersteinGPLoss, WassersteinGPParams


@hookimpl
def register_losses(register):
    register("mse", LeastSquaresLoss,
             description="least squares on logits (the reference's nn.MSELoss; LSGAN a=0, b=c=1)")
    register("bce", BinaryCrossEntropyLoss, params=BCEParams,
             description="binary cross-entropy on logits; non-saturating G loss by default")
    register("minimax", make_minimax,
             description="binary cross-entropy, saturating G loss log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1)")
    register("non-saturating", make_non_saturating,
             description="binary cross-entropy, non-saturating G loss -log D(G(z)) (Goodfellow et al. 2014, Sec. 3)")
    register("hinge", HingeLoss,
             description="hinge loss (Lim & Ye 2017; Miyato et al. 2018)")
    register("wasserstein-gp", WassersteinGPLoss, params=WassersteinGPParams,
             description="Wasserstein loss with gradient penalty, lambda=10 (WGAN-GP, Gulrajani et al. 2017)")
