"""Mirza & Osindero 2014's MNIST networks (Sec. 4.1): the generator ``paper-mlp``, the discriminator ``paper-maxout``.

Every setting, its source in the paper or in the GAN code it builds on, and
the choices neither states are in :mod:`cganzoo_paper`'s docstring.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import DiscriminatorNetwork, GeneratorNetwork, IncompatibleError, spectral_norm_all
from cganzoo_paper.layers import Maxout, init_uniform, max_col_norm_


class PaperGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    z_hidden: int = Field(200, ge=1, description="ReLU units on z (paper: 200).")
    y_hidden: int = Field(1000, ge=1, description="ReLU units on y (paper: 1000).")
    joint_hidden: int = Field(1200, ge=1, description="Combined ReLU layer (paper: 1200).")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout after each hidden layer (paper: 0.5).")
    init_range: float = Field(0.05, gt=0, description="Weights start U(-init_range, init_range) (GAN code: 0.05).")
    y_init_range: float | None = Field(None, gt=0, description="Weights of the y layer start U(-y_init_range, "
                                       "y_init_range); None: init_range (not in the paper or the GAN code).")
    max_col_norm: float | None = Field(None, gt=0, description="After each update, every unit's incoming weight "
                                       "vector is rescaled to L2 norm <= this (pylearn2 max_col_norm); None: off "
                                       "(the GAN code's mnist.yaml has none; its TFD models use 1.9365).")
    output_bias: Literal["marginals", "zero"] = Field(
        "zero", description="Sigmoid output biases start at the logit of the data's mean pixels "
                                 "(GAN code's init_sigmoid_bias_from_marginals), or at 0.")


#: The GAN code clips the pixel marginals to [eps, 1 - eps] before taking their logit.
MARGINAL_EPS = 1e-7


class PaperGenerator(GeneratorNetwork):
    """Mirza & Osindero 2014's MNIST generator.

    ``h_z = ReLU(W_z z)`` (200), ``h_y = ReLU(W_y c)`` (1000),
    ``h = ReLU(W_h [h_z, h_y])`` (1200), ``x = 2 sigmoid(W_x h) - 1`` (784 for 1x28x28),
    dropout after each hidden layer. See :mod:`cganzoo_paper` for the output mapping.

    Args:
        latent_dim: Width of ``z`` (paper: 100).
        cond_dim: Width of the condition (one-hot: ``num_classes``).
        img_shape: Output ``(C, H, W)``.

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.
    """

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int], z_hidden: int = 200,
                 y_hidden: int = 1000, joint_hidden: int = 1200, dropout: float = 0.5,
                 init_range: float = 0.05, y_init_range: float | None = None, max_col_norm: float | None = None,
                 output_bias: str = "zero") -> None:
        super().__init__()
        self.max_col_norm = max_col_norm
        self.output_bias = output_bias
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, tuple(img_shape)
        self.z_layer = nn.Linear(latent_dim, z_hidden)
        self.y_layer = nn.Linear(cond_dim, y_hidden)
        self.joint = nn.Linear(z_hidden + y_hidden, joint_hidden)
        self.out = nn.Linear(joint_hidden, math.prod(self.img_shape))
        self.drop = nn.Dropout(dropout)
        init_uniform(self, init_range)
        if y_init_range is not None:
            init_uniform(self.y_layer, y_init_range)

    def init_from_data(self, images: torch.Tensor) -> None:
        """With ``output_bias="marginals"``, start the sigmoid biases at the data's pixel marginals.

        ``b = logit(clip(mean_n x_n, 1e-7, 1 - 1e-7))`` with ``x`` in ``[0, 1]``, so that
        ``sigmoid(b)`` is the mean training image: the GAN code's
        ``init_sigmoid_bias_from_marginals`` (pylearn2), used by Goodfellow et al.
        2014's ``mnist.yaml``. Deterministic; the weights are untouched.

        Args:
            images: uint8 ``(N, C, H, W)`` in ``[0, 255]``, ``(C, H, W) == img_shape``.

        Raises:
            IncompatibleError: the images do not have this generator's shape.
        """
        if self.output_bias != "marginals":
            return
        if tuple(images.shape[1:]) != self.img_shape:
            raise IncompatibleError(f"paper-mlp: training images have shape {tuple(images.shape[1:])}, "
                                    f"the generator makes {self.img_shape}")
        total = torch.zeros(math.prod(self.img_shape), dtype=torch.float64)
        for chunk in images.flatten(1).split(8192):  # bounded memory: no float copy of the whole set
            total += chunk.to(torch.float64).sum(dim=0)
        mean = total / (255.0 * max(1, images.shape[0]))
        bias = torch.logit(mean.clamp(MARGINAL_EPS, 1 - MARGINAL_EPS))
        with torch.no_grad():
            self.out.bias.copy_(bias.to(self.out.bias.device, self.out.bias.dtype))

    def constrain_(self) -> None:
        """With ``max_col_norm``, the max-norm projection of every layer (:func:`max_col_norm_`)."""
        if self.max_col_norm is not None:
            max_col_norm_(self, self.max_col_norm)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h_z = self.drop(torch.relu(self.z_layer(z)))
        h_y = self.drop(torch.relu(self.y_layer(c)))
        h = self.drop(torch.relu(self.joint(torch.cat((h_z, h_y), dim=-1))))
        x = 2 * torch.sigmoid(self.out(h)) - 1
        return x.view(x.size(0), *self.img_shape)


class PaperDiscriminatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x_units: int = Field(240, ge=1, description="Maxout units on x (paper: 240).")
    x_pieces: int = Field(5, ge=1, description="Pieces per x unit (paper: 5).")
    y_units: int = Field(50, ge=1, description="Maxout units on y (paper: 50).")
    y_pieces: int = Field(5, ge=1, description="Pieces per y unit (paper: 5).")
    joint_units: int = Field(240, ge=1, description="Joint maxout units (paper: 240).")
    joint_pieces: int = Field(4, ge=1, description="Pieces per joint unit (paper: 4).")
    dropout: float = Field(0.5, ge=0, lt=1, description="Dropout after each maxout layer (paper: 0.5).")
    input_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the input pixels (GAN code: 0.2).")
    unit_pixels: bool = Field(False, description="Map x from [-1, 1] to [0, 1] before the first layer.")
    init_range: float = Field(0.005, gt=0, description="Weights start U(-init_range, init_range) (GAN code: 0.005).")
    y_init_range: float | None = Field(None, gt=0, description="Weights of the y maxout layer start U(-y_init_range, "
                                       "y_init_range); None: init_range (not in the paper or the GAN code).")
    max_col_norm: float | None = Field(None, gt=0, description="After each update, every unit's (and maxout "
                                       "piece's) incoming weight vector is rescaled to L2 norm <= this (pylearn2 "
                                       "max_col_norm); None: off (mnist.yaml has none; its TFD models use 1.9365).")
    spectral_norm: bool = Field(False, description="Spectral normalisation of every layer (Miyato et al. 2018); "
                                                   "the paper has none.")


class PaperDiscriminator(DiscriminatorNetwork):
    """Mirza & Osindero 2014's MNIST discriminator.

    ``h_x = maxout(x; 240 x 5)``, ``h_y = maxout(c; 50 x 5)``,
    ``h = maxout([h_x, h_y]; 240 x 4)``, logit ``= w . h + b``; dropout after each
    maxout layer. The paper's sigmoid output is the ``bce`` loss's sigmoid: the
    network returns the logit.

    Shapes:
        ``x (B, C, H, W)`` in ``[-1, 1]``, ``c (B, cond_dim)`` -> logits ``(B,)``.
    """

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int], x_units: int = 240, x_pieces: int = 5,
                 y_units: int = 50, y_pieces: int = 5, joint_units: int = 240, joint_pieces: int = 4,
                 dropout: float = 0.5, input_dropout: float = 0.0, unit_pixels: bool = False,
                 init_range: float = 0.005, y_init_range: float | None = None, max_col_norm: float | None = None,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        if max_col_norm is not None and spectral_norm:
            raise IncompatibleError(f"paper-maxout: max_col_norm={max_col_norm} and spectral_norm=True constrain the "
                                    "same weights; choose one")
        self.max_col_norm = max_col_norm
        self.cond_dim, self.img_shape = cond_dim, tuple(img_shape)
        self.x_layer = Maxout(math.prod(self.img_shape), x_units, x_pieces)
        # cond_dim 0: an output conditioner (projection, AC-GAN) conditions D instead; no y branch.
        self.y_layer = Maxout(cond_dim, y_units, y_pieces) if cond_dim > 0 else None
        self.joint = Maxout(x_units + (y_units if cond_dim > 0 else 0), joint_units, joint_pieces)
        self.out = nn.Linear(joint_units, 1)
        self.drop = nn.Dropout(dropout)
        self.input_drop = nn.Dropout(input_dropout)
        self.unit_pixels = unit_pixels
        self.feature_dim = joint_units
        init_uniform(self, init_range)
        if y_init_range is not None and self.y_layer is not None:
            init_uniform(self.y_layer, y_init_range)
        if spectral_norm:
            spectral_norm_all(self)

    def constrain_(self) -> None:
        """With ``max_col_norm``, the max-norm projection of every layer (:func:`max_col_norm_`)."""
        if self.max_col_norm is not None:
            max_col_norm_(self, self.max_col_norm)

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The joint maxout layer's output after dropout, ``(B, joint_units)``."""
        x = x.flatten(1)
        if self.unit_pixels:
            x = (x + 1) / 2
        h = self.drop(self.x_layer(self.input_drop(x)))
        if self.y_layer is not None:
            h = torch.cat((h, self.drop(self.y_layer(c))), dim=-1)
        return self.drop(self.joint(h))

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """The paper's last layer: ``w . h + b``, logits ``(B,)``."""
        return self.out(features).squeeze(-1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x, c))
