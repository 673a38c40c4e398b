"""The reference MLP CGAN's generator and discriminator (the ``mlp`` networks).

Reproduces the well-known PyTorch MLP CGAN (the ``cgan.py`` of the
PyTorch-GAN collection), itself a port of a Keras implementation of
Mirza & Osindero 2014. At 1x32x32, 10 classes, latent 100 and the
``embedding`` conditioner, the generator has 1,757,412 parameters and the
discriminator 1,055,845 (conditioner embeddings included).

BatchNorm: the reference writes ``nn.BatchNorm1d(out_feat, 0.8)``. The second
positional argument of ``BatchNorm1d`` is ``eps``, not ``momentum``, so the
reference trains with ``eps=0.8, momentum=0.1``; the Keras original meant
``BatchNormalization(momentum=0.8)``, i.e. PyTorch ``momentum=0.2`` with the
default ``eps=1e-5``. ``batchnorm="reference"`` (the default) keeps the
reference's arithmetic; ``batchnorm="corrected"`` uses the intended
``eps=1e-5, momentum=0.2`` (model ``mlp-cgan-corrected-bn``).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import DiscriminatorNetwork, GeneratorNetwork, spectral_norm_all

#: (eps, momentum) of BatchNorm1d for each ``batchnorm`` option.
BATCHNORM = {"reference": (0.8, 0.1), "corrected": (1e-5, 0.2)}


class MLPGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        (128, 256, 512, 1024), min_length=1,
        description="Hidden widths; the first block has no BatchNorm (the reference's 128, 256, 512, 1024).",
    )
    batchnorm: Literal["reference", "corrected"] = Field(
        "reference",
        description="'reference': BatchNorm1d(eps=0.8, momentum=0.1), what the reference computes; "
                    "'corrected': eps=1e-5, momentum=0.2, what it meant (Keras momentum 0.8).",
    )


class MLPGenerator(GeneratorNetwork):
    """Reference MLP generator: ``[c, z] -> 128 -> 256 -> 512 -> 1024 -> C*H*W -> tanh``.

    Each hidden block is ``Linear -> BatchNorm1d -> LeakyReLU(0.2)``, except the
    first, which has no BatchNorm. The condition is concatenated before the
    noise, in the reference's order ``cat((label_emb(y), z))``.

    Args:
        latent_dim: Width of ``z``.
        cond_dim: Width of the condition ``c``.
        img_shape: Output ``(C, H, W)``.
        hidden: Hidden widths.
        batchnorm: ``"reference"`` or ``"corrected"`` (see module docstring).

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.
        In training mode BatchNorm needs ``B >= 2``.
    """

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int],
                 hidden: tuple[int, ...] = (128, 256, 512, 1024), batchnorm: str = "reference") -> None:
        super().__init__()
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, tuple(img_shape)
        eps, momentum = BATCHNORM[batchnorm]
        layers: list[nn.Module] = []
        width = cond_dim + latent_dim
        for i, out in enumerate(hidden):
            layers.append(nn.Linear(width, out))
            if i > 0:
                layers.append(nn.BatchNorm1d(out, eps=eps, momentum=momentum))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width = out
        layers += [nn.Linear(width, math.prod(self.img_shape)), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        # BatchNorm1d over (B, features) has nothing to normalise with a batch of one.
        self.min_batch_size = 2 if len(hidden) > 1 else 1

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.model(torch.cat((c, z), dim=-1))
        return x.view(x.size(0), *self.img_shape)


class MLPDiscriminatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(512, ge=1, description="Width of the three hidden layers (reference: 512).")
    dropout: float = Field(0.4, ge=0, lt=1, description="Dropout after the 2nd and 3rd hidden layers (reference: 0.4).")
    spectral_norm: bool = Field(False, description="Spectral normalisation of every layer (Miyato et al. 2018); "
                                                   "the reference has none.")


class MLPDiscriminator(DiscriminatorNetwork):
    """Reference MLP discriminator: ``[flatten(x), c] -> 512 -> 512 -> 512 -> 1``.

    ``Linear 512, LeakyReLU(0.2); Linear 512, Dropout 0.4, LeakyReLU(0.2);
    Linear 512, Dropout 0.4, LeakyReLU(0.2); Linear 1``. Returns logits (no
    sigmoid): the ``mse`` loss regresses them to 0/1, as the reference does.
    ``features`` is everything before the last Linear (``feature_dim = hidden``),
    for output conditioners (projection, AC-GAN); ``cond_dim`` may be 0.

    Shapes:
        ``x (B, C, H, W)``, ``c (B, cond_dim)`` -> logits ``(B,)``;
        ``features``: ``(B, hidden)``.
    """

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int], hidden: int = 512,
                 dropout: float = 0.4, spectral_norm: bool = False) -> None:
        super().__init__()
        self.cond_dim, self.img_shape = cond_dim, tuple(img_shape)
        self.model = nn.Sequential(
            nn.Linear(math.prod(self.img_shape) + cond_dim, hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, hidden),
            nn.Dropout(dropout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, hidden),
            nn.Dropout(dropout),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, 1),
        )
        self.feature_dim = hidden
        if spectral_norm:
            spectral_norm_all(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat((x.flatten(1), c), dim=-1)).squeeze(-1)

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.model[:-1](torch.cat((x.flatten(1), c), dim=-1))

    def output(self, features: torch.Tensor) -> torch.Tensor:
        return self.model[-1](features).squeeze(-1)
