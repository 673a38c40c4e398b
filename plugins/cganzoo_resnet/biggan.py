"""BigGAN at 32 x 32 (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis").

What makes it BigGAN rather than SNGAN (Sec. 3 and Appendix B):

* **shared embedding**: the generator's condition ``c`` (the conditioner's
  output, ``embedding`` with ``cond_dim 128`` in the preset: one table for
  every block) is not given to each block through its own class table but
  concatenated with a chunk of ``z`` and mapped by each conditional
  BatchNorm's own linear layers to its gain and bias;
* **hierarchical z**: ``z`` is split into ``blocks + 1`` equal chunks; the
  first goes into the first linear layer, each later one into one block's cBNs;
* **orthogonal initialisation** of every layer, spectral norm in G as well as D;
* an optional **self-attention** block (Zhang et al. 2019) at one resolution;
* an **EMA of G's weights** for sampling (the ``ema`` callback; the preset turns it on).

The 32 px layout is the BigGAN authors' release for CIFAR-10 (BigGAN-PyTorch,
``BigGAN.py`` ``G_arch[32]`` and ``D_arch[32]``): G ``4 x 4 x 4ch`` then three up
blocks of ``4ch``; D two down blocks and two plain blocks of ``4ch``, ReLU,
sum pooling, linear head plus projection. ``width`` is ``4ch`` (256 in the release).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import GeneratorNetwork, IncompatibleError, spectral_norm_all

from cganzoo_resnet.blocks import GBlock, SelfAttention, _conv, generator_start, initialise
from cganzoo_resnet.resnet import ResNetDiscriminator, ResNetDiscriminatorParams


class BigGANGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=1, le=2048, description="Channels of every block (the CIFAR release: 4 x G_ch = 256; "
                                                      "16 is sized for CPU tests).")
    hierarchical: bool = Field(True, description="Split z into one chunk per block plus one (hierarchical latent).")
    attention: int | None = Field(None, ge=2, description="Self-attention after the block whose output has this "
                                  "side (e.g. 16); the CIFAR release uses none.")
    spectral_norm: bool = Field(True, description="Spectral normalisation of every layer of G (BigGAN's G_param SN).")
    init: str = Field("ortho", pattern="^(ortho|N02|xavier)$",
                      description="Weight initialisation: ortho (the paper's), N02 (the CIFAR release script's), xavier.")


class BigGANGenerator(GeneratorNetwork):
    """BigGAN generator: hierarchical ``z``, conditional BatchNorm from ``[c, z_chunk]``.

    Args:
        latent_dim: Width of ``z`` (preset 128); split into ``blocks + 1`` chunks
            when ``hierarchical`` (the first chunk takes the remainder).
        cond_dim: Width of ``c``, the shared class embedding.
        img_shape: ``(C, H, W)``, ``H = W`` of the form ``4 * 2**k`` or ``7 * 2**k``.
        width, hierarchical, attention, spectral_norm, init: see :class:`BigGANGeneratorParams`.

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.

    Raises:
        IncompatibleError: an image side it cannot make, or an attention side it never reaches.
    """

    conditioning = frozenset({"modulation"})

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int], width: int = 16,
                 hierarchical: bool = True, attention: int | None = None, spectral_norm: bool = True,
                 init: str = "ortho") -> None:
        super().__init__()
        channels, side, other = img_shape
        if side != other:
            raise IncompatibleError(f"biggan generator makes square images, not {side}x{other}")
        self.bottom, ups = generator_start(side, "biggan generator")
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, (channels, side, side)
        self.width = width
        chunk = latent_dim // (ups + 1) if hierarchical else 0
        self.chunks = [latent_dim - chunk * ups] + [chunk] * ups
        self.linear = nn.Linear(self.chunks[0], self.bottom ** 2 * width)
        self.blocks = nn.ModuleList(GBlock(width, width, cond_dim + chunk, up=True) for _ in range(ups))
        sides = [self.bottom * 2 ** (i + 1) for i in range(ups)]
        if attention is not None and attention not in sides:
            raise IncompatibleError(f"biggan generator: attention at side {attention}, but its blocks output "
                                    f"{', '.join(map(str, sides))} px; pick one of those")
        self.attention_after = sides.index(attention) if attention is not None else -1
        self.attention = SelfAttention(width) if attention is not None else None
        self.bn = nn.BatchNorm2d(width)
        self.out = _conv(width, channels, 3)
        initialise(self, init)
        if spectral_norm:
            spectral_norm_all(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        zs = torch.split(z, self.chunks, dim=1)
        h = self.linear(zs[0]).view(z.shape[0], self.width, self.bottom, self.bottom)
        for i, block in enumerate(self.blocks):
            h = block(h, torch.cat((c.to(z.dtype), zs[i + 1]), dim=1))
            if i == self.attention_after and self.attention is not None:
                h = self.attention(h)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class BigGANDiscriminatorParams(ResNetDiscriminatorParams):
    init: str = "ortho"  # the paper's (Sec. 3); ResNet's params model otherwise

    model_config = ResNetDiscriminatorParams.model_config


def make_biggan_discriminator(cond_dim, img_shape, width=32, depth=2, spectral_norm=True, attention=None,
                              init="ortho"):
    """BigGAN's D at 32 px has the SNGAN D's layout (``D_arch[32]``); orthogonal init by default."""
    return ResNetDiscriminator(cond_dim, img_shape, width=width, depth=depth, spectral_norm=spectral_norm,
                               attention=attention, init=init)
