"""The conditional DCGAN generator and discriminator, for 28x28, 32x32 and 64x64 images, 1 or 3 channels.

Radford, Metz & Chintala 2016 ("Unsupervised Representation Learning with
Deep Convolutional GANs", Sec. 3): strided (transposed) convolutions instead
of pooling, BatchNorm in both networks (not on D's input layer), ReLU in G
with a tanh output, LeakyReLU(0.2) in D, weights initialised N(0, 0.02)
(Sec. 4). Conditioning as in the conditional DCGANs that followed Mirza &
Osindero 2014: G takes ``[c, z]`` into its first (linear) layer; D takes the
condition as ``cond_dim`` constant feature maps stacked onto the image.

Sizes (``s = H / 4``, 7 for 28 px, 8 for 32 px, 16 for 64 px; ``w = width``;
``f = ceil(s / 2)``, 4 for 28 and 32 px, 8 for 64 px):

* generator: ``[c, z] -> Linear -> (4w, s, s) -> ConvT 4w->2w (2s) -> ConvT
  2w->w (4s) -> Conv3x3 w->C -> tanh``;
* discriminator: ``[x, c tiled] -> Conv4x4/2 w -> Conv4x4/2 2w -> Conv3x3/2 4w
  (f x f) -> features (4w * f * f) -> Linear -> logit``.

D's ``norm`` can be ``batch`` (DCGAN), ``layer`` (per-sample, for WGAN-GP,
Gulrajani et al. 2017, Sec. 4) or ``none``; ``spectral_norm`` wraps every
D layer (Miyato et al. 2018), as the projection model does.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import DiscriminatorNetwork, GeneratorNetwork, IncompatibleError

SIDES = (28, 32, 64)
#: What both networks declare (``cganzoo list`` shows it).
SHAPES = {"channels": (1, 3), "sizes": SIDES}


def _check_shape(img_shape: tuple[int, int, int], what: str) -> tuple[int, int, int]:
    channels, height, width = img_shape
    if height != width or height not in SIDES:
        raise IncompatibleError(
            f"dcgan {what} handles 28x28, 32x32 or 64x64 images, not {height}x{width}; use --img-size 28, 32 or 64")
    if channels not in (1, 3):
        raise IncompatibleError(f"dcgan {what} handles 1 or 3 channels, not {channels}")
    return channels, height, width


def _dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) weights, BatchNorm scale N(1, 0.02) (Radford et al. 2016, Sec. 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=1, le=1024,
                       description="Channels of the last hidden feature map; the earlier ones have 2x and 4x "
                                   "(16: sized for CPU training; the DCGAN paper's networks are far wider).")


class DCGANGenerator(GeneratorNetwork):
    """Conditional DCGAN generator.

    Args:
        latent_dim: Width of ``z``.
        cond_dim: Width of ``c``.
        img_shape: ``(C, H, W)`` with ``C`` in {1, 3} and ``H = W`` in {28, 32, 64}.
        width: Base channel count ``w``.

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.
        BatchNorm2d normalises over ``B * H * W`` values, so batches of one train.

    Raises:
        IncompatibleError: another image size or channel count.
    """

    supported_shapes = SHAPES

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int], width: int = 16) -> None:
        super().__init__()
        channels, side, _ = _check_shape(tuple(img_shape), "generator")
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, (channels, side, side)
        self.start = (4 * width, side // 4, side // 4)
        self.project = nn.Linear(cond_dim + latent_dim, 4 * width * (side // 4) ** 2, bias=False)
        self.body = nn.Sequential(
            nn.BatchNorm2d(4 * width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )
        _dcgan_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat((c, z), dim=1))
        return self.body(h.view(h.shape[0], *self.start))


class DCGANDiscriminatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=1, le=1024, description="Channels of the first feature map; then 2x and 4x "
                                                       "(16: sized for CPU training).")
    norm: Literal["batch", "layer", "none"] = Field(
        "batch", description="Normalisation after the 2nd and 3rd convolutions: 'batch' (DCGAN), "
                             "'layer' (GroupNorm with one group; per-sample, for WGAN-GP) or 'none'.")
    spectral_norm: bool = Field(False, description="Spectral normalisation of every layer (Miyato et al. 2018).")


class DCGANDiscriminator(DiscriminatorNetwork):
    """Conditional DCGAN discriminator with features for output conditioners.

    Args:
        cond_dim: Width of ``c``, stacked onto the image as constant maps (0: none).
        img_shape: ``(C, H, W)`` with ``C`` in {1, 3} and ``H = W`` in {28, 32, 64}.
        width: Base channel count ``w``.
        norm: ``"batch"``, ``"layer"`` or ``"none"``.
        spectral_norm: Spectrally normalise every convolution and the last layer.

    Shapes:
        ``x (B, C, H, W)``, ``c (B, cond_dim)`` -> logits ``(B,)``;
        ``features``: ``(B, 4w * f * f)``, the flattened ``f x f`` feature maps (``f`` 4, or 8 at 64 px).

    Raises:
        IncompatibleError: another image size or channel count.
    """

    supported_shapes = SHAPES

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int], width: int = 16,
                 norm: str = "batch", spectral_norm: bool = False) -> None:
        super().__init__()
        channels, side, _ = _check_shape(tuple(img_shape), "discriminator")
        self.cond_dim, self.img_shape = cond_dim, (channels, side, side)

        def normalise(ch: int) -> nn.Module:
            return {"batch": lambda: nn.BatchNorm2d(ch), "layer": lambda: nn.GroupNorm(1, ch),
                    "none": nn.Identity}[norm]()

        convs = [nn.Conv2d(channels + cond_dim, width, 4, stride=2, padding=1),        # -> H/2
                 nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),                   # -> H/4 (7 or 8)
                 nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)]               # -> f (4, or 8 at 64 px)
        final = (side // 4 + 1) // 2
        head = nn.Linear(4 * width * final * final, 1)
        _dcgan_init(nn.ModuleList(convs + [head]))
        if spectral_norm:
            convs = [nn.utils.parametrizations.spectral_norm(m) for m in convs]
            head = nn.utils.parametrizations.spectral_norm(head)
        self.body = nn.Sequential(
            convs[0], nn.LeakyReLU(0.2, inplace=True),
            convs[1], normalise(2 * width), nn.LeakyReLU(0.2, inplace=True),
            convs[2], normalise(4 * width), nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
        )
        self.head = head
        _dcgan_init(nn.ModuleList([m for m in self.body if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]))
        self.feature_dim = 4 * width * final * final

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        maps = c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.body(torch.cat((x, maps.to(x.dtype)), dim=1))

    def output(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features).squeeze(-1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x, c))
