"""The SNGAN / projection-discriminator ResNets for 32 x 32 images (and 28, 64, ...).

Miyato et al. 2018 ("Spectral Normalization for GANs", Appendix B, Table 4,
the CIFAR-10 ResNet) and Miyato & Koyama 2018 ("cGANs with Projection
Discriminator", Sec. 5 and their released code), conditioned on the class:

* generator: ``z -> Linear -> (w, 4, 4) -> 3 x ResBlock up (w) -> BN, ReLU ->
  conv3x3 -> tanh``, every block's two BatchNorms conditional
  (:class:`cganzoo.ConditionalBatchNorm2d`: per-class gain and bias with a
  one-hot condition, or predicted from any condition vector); the last BN is
  unconditional, as in the authors' code. Paper: ``w = 256``, ``z`` of 128.
* discriminator: ``ResBlock down (w, optimized) -> ResBlock down (w) ->
  2 x ResBlock (w) -> ReLU -> global sum pooling -> Linear -> logit``, spectral
  norm on every layer, the pooled ``(B, w)`` vector as features for the
  projection head (``--conditioner projection``) or an AC-GAN classifier.
  Paper: ``w = 128``.

``width`` and ``depth`` are parameters (the defaults are sized for CPU tests;
the presets set the paper's); other image sides change the number of up or
down blocks (4 x 4 start to 32 or 64 px; 7 x 7 to 28 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import DiscriminatorNetwork, GeneratorNetwork, IncompatibleError, spectral_norm_all

from cganzoo_resnet.blocks import DBlock, GBlock, SelfAttention, _conv, generator_start, initialise


class ResNetGeneratorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=1, le=2048, description="Channels of every block (paper, CIFAR-10: 256; 16 is "
                                                      "sized for CPU tests).")
    depth: int = Field(1, ge=1, le=8, description="Residual blocks per resolution; the first of each doubles "
                                                  "the size (paper: 1).")


class ResNetGenerator(GeneratorNetwork):
    """SNGAN ResNet generator conditioned by modulation (conditional BatchNorm).

    Args:
        latent_dim: Width of ``z``.
        cond_dim: Width of ``c``, which drives every block's BatchNorm gains and biases.
        img_shape: ``(C, H, W)``, ``H = W`` of the form ``4 * 2**k`` or ``7 * 2**k``.
        width: Channels ``w`` of every block.
        depth: Blocks per resolution.

    Shapes:
        ``z (B, latent_dim)``, ``c (B, cond_dim)`` -> ``(B, C, H, W)`` in ``[-1, 1]``.

    Raises:
        IncompatibleError: an image side it cannot make.
    """

    conditioning = frozenset({"modulation"})

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int], width: int = 16,
                 depth: int = 1) -> None:
        super().__init__()
        channels, side, other = img_shape
        if side != other:
            raise IncompatibleError(f"resnet generator makes square images, not {side}x{other}")
        self.bottom, ups = generator_start(side, "resnet generator")
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, (channels, side, side)
        self.width = width
        self.linear = nn.Linear(latent_dim, self.bottom ** 2 * width)
        self.blocks = nn.ModuleList(GBlock(width, width, cond_dim, up=(i % depth == 0))
                                    for i in range(ups * depth))
        self.bn = nn.BatchNorm2d(width)
        self.out = _conv(width, channels, 3)
        initialise(self, "glorot-sngan", keep_modulation=True)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.width, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, c)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminatorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=1, le=2048, description="Channels of every block (paper, CIFAR-10: 128; 16 is "
                                                      "sized for CPU tests).")
    depth: int = Field(2, ge=0, le=8, description="Blocks after the last downsampling one (paper: 2).")
    spectral_norm: bool = Field(True, description="Spectral normalisation of every layer (Miyato et al. 2018).")
    attention: int | None = Field(None, ge=2, description="Self-attention (Zhang et al. 2019) after the block "
                                  "whose output has this side, e.g. 16; none by default.")
    init: str = Field("glorot-sngan", pattern="^(ortho|N02|xavier|glorot-sngan)$",
                      description="Weight initialisation: glorot-sngan (the SNGAN code's), ortho (BigGAN), N02, xavier.")


class ResNetDiscriminator(DiscriminatorNetwork):
    """SNGAN ResNet discriminator with features for a projection head.

    Args:
        cond_dim: Width of ``c``, stacked onto the image as constant maps (0:
            none, the usual case with ``projection`` or ``auxiliary-classifier``).
        img_shape: ``(C, H, W)``, any side of at least 8.
        width: Channels ``w`` of every block.
        depth: Blocks after the downsampling ones.
        spectral_norm: Spectrally normalise every convolution and linear layer.
        attention: Side at which to insert self-attention, or ``None``.
        init: Weight initialisation scheme.

    Shapes:
        ``x (B, C, H, W)``, ``c (B, cond_dim)`` -> logits ``(B,)``;
        ``features``: ``(B, w)``, ReLU then a sum over the final feature map.

    Raises:
        IncompatibleError: a side below 8, or an attention side it never reaches.
    """

    def __init__(self, cond_dim: int, img_shape: tuple[int, int, int], width: int = 16, depth: int = 2,
                 spectral_norm: bool = True, attention: int | None = None, init: str = "glorot-sngan") -> None:
        super().__init__()
        channels, side, _ = img_shape
        if side < 8 or img_shape[2] < 8:
            raise IncompatibleError(f"resnet discriminator needs images of at least 8x8, not {side}x{img_shape[2]}")
        self.cond_dim, self.img_shape = cond_dim, tuple(img_shape)
        # Downsample to 8 x 8 or less (32 -> 16 -> 8 as in the CIFAR-10 network), then `depth` plain blocks.
        layers: list[nn.Module] = []
        size, cin = side, channels + cond_dim
        while True:
            layers.append(DBlock(cin, width, down=True, preactivation=bool(layers)))
            size, cin = size // 2, width
            if size == attention:
                layers.append(SelfAttention(width))
            if size <= 8:
                break
        for _ in range(depth):
            layers.append(DBlock(width, width, down=False, preactivation=True))
        if attention is not None and not any(isinstance(m, SelfAttention) for m in layers):
            raise IncompatibleError(f"resnet discriminator: attention at side {attention}, but its feature maps "
                                    f"are {side // 2} down to {size} px; pick one of those sides")
        self.blocks = nn.Sequential(*layers)
        self.linear = nn.Linear(width, 1)
        initialise(self, init)
        if spectral_norm:
            spectral_norm_all(self)
        self.feature_dim = width

    def features(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.cond_dim:
            maps = c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat((x, maps.to(x.dtype)), dim=1)
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def output(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features).squeeze(-1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(x, c))
