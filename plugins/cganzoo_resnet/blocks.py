"""Residual blocks, self-attention and initialisations shared by the ``resnet`` and ``biggan`` networks.

Imports only cganzoo's public API (and torch).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from cganzoo import ConditionalBatchNorm2d, IncompatibleError

Init = Literal["ortho", "N02", "xavier", "glorot-sngan"]


def generator_start(side: int, what: str) -> tuple[int, int]:
    """``(bottom, ups)``: the first feature map's side and the number of 2x upsamplings to ``side``.

    4 x 4 doubled to 32 (3 blocks, the CIFAR-10 networks), 64 (4) and any
    ``4 * 2**k``; 7 x 7 for 28 and ``7 * 2**k``.

    Raises:
        IncompatibleError: ``side`` is not ``4 * 2**k`` or ``7 * 2**k`` with ``k >= 1``.
    """
    for bottom in (4, 7):
        ups = math.log2(side / bottom) if side >= 2 * bottom else -1
        if ups >= 1 and ups == int(ups):
            return bottom, int(ups)
    raise IncompatibleError(f"{what} makes images whose side is 4 or 7 times a power of two (8, 14, 16, 28, 32, "
                            f"56, 64, ...), not {side}; use --img-size 32 or 28")


def initialise(module: nn.Module, scheme: str, *, keep_modulation: bool = False) -> None:
    """Initialise every Linear, Conv2d and Embedding weight of ``module`` (biases to zero).

    * ``ortho``: orthogonal (Saxe et al. 2014), BigGAN's (Brock et al. 2019, Sec. 3);
    * ``N02``: ``N(0, 0.02)``, the BigGAN release's CIFAR script;
    * ``xavier``: Glorot uniform;
    * ``glorot-sngan``: Glorot uniform with gain sqrt(2) in the residual
      branches and 1 elsewhere (shortcuts, first and last layers), as in the
      SNGAN / projection-discriminator authors' code (set per layer by the blocks).

    ``keep_modulation`` leaves the conditional BatchNorm layers' own
    initialisation (gain 1, bias 0 for every class) alone.
    """
    keep = {id(m) for cbn in module.modules() if isinstance(cbn, ConditionalBatchNorm2d) for m in cbn.modules()
            } if keep_modulation else set()
    for m in module.modules():
        if id(m) in keep:
            continue
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)) and m.weight.numel():
            if scheme == "ortho":
                nn.init.orthogonal_(m.weight)
            elif scheme == "N02":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight, gain=getattr(m, "_glorot_gain", 1.0)
                                        if scheme == "glorot-sngan" else 1.0)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def _conv(cin: int, cout: int, k: int, gain: float = 1.0, bias: bool = True) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)
    conv._glorot_gain = gain  # read by initialise("glorot-sngan")
    return conv


class GBlock(nn.Module):
    """Up residual block (Miyato et al. 2018, Fig. 8; Brock et al. 2019, Fig. 15a).

    ``cBN, ReLU, [up 2x], conv3x3, cBN, ReLU, conv3x3`` plus a shortcut
    ``[up 2x], conv1x1`` (the 1x1 conv only where the shape changes). Each cBN
    is driven by ``c (B, cbn_dim)``.
    """

    def __init__(self, cin: int, cout: int, cbn_dim: int, up: bool, *, cbn_bias: bool = False,
                 cbn_spectral_norm: bool = False) -> None:
        super().__init__()
        self.up = up
        self.bn1 = ConditionalBatchNorm2d(cin, cbn_dim, bias=cbn_bias, spectral_norm=cbn_spectral_norm)
        self.conv1 = _conv(cin, cout, 3, math.sqrt(2))
        self.bn2 = ConditionalBatchNorm2d(cout, cbn_dim, bias=cbn_bias, spectral_norm=cbn_spectral_norm)
        self.conv2 = _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1) if (cin != cout or up) else None

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(x, c))
        if self.up:
            h, x = F.interpolate(h, scale_factor=2.0), F.interpolate(x, scale_factor=2.0)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + (self.shortcut(x) if self.shortcut is not None else x)


class DBlock(nn.Module):
    """Down residual block (Miyato et al. 2018, Fig. 8; Brock et al. 2019, Fig. 15b).

    ``[ReLU], conv3x3, ReLU, conv3x3, [avg-pool 2x]`` plus a shortcut: the first
    block (no pre-activation, "optimized block") pools then convolves, later
    ones convolve then pool; the 1x1 conv only where the shape changes.
    """

    def __init__(self, cin: int, cout: int, down: bool, preactivation: bool) -> None:
        super().__init__()
        self.down, self.preactivation = down, preactivation
        self.conv1 = _conv(cin, cout, 3, math.sqrt(2))
        self.conv2 = _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1) if (cin != cout or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.shortcut is not None:
            if self.preactivation:
                x = self.shortcut(x)
                x = F.avg_pool2d(x, 2) if self.down else x
            else:
                x = self.shortcut(F.avg_pool2d(x, 2) if self.down else x)
        return h + x


class SelfAttention(nn.Module):
    """Self-attention over feature maps (Zhang et al. 2019, SAGAN, Sec. 3; as BigGAN uses it).

    ``x + gamma * o(softmax(theta(x)^T phi(x)) g(x))`` with 1x1 convs
    ``theta, phi: C -> C/8``, ``g: C -> C/2``, ``o: C/2 -> C``, ``phi`` and ``g``
    max-pooled 2x, and ``gamma`` a learned scalar starting at 0.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        key, value = max(1, channels // 8), max(1, channels // 2)
        self.theta = nn.Conv2d(channels, key, 1, bias=False)
        self.phi = nn.Conv2d(channels, key, 1, bias=False)
        self.g = nn.Conv2d(channels, value, 1, bias=False)
        self.o = nn.Conv2d(value, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pool = (lambda t: F.max_pool2d(t, 2)) if min(h, w) >= 2 else (lambda t: t)
        theta = self.theta(x).flatten(2)                                  # (B, C/8, HW)
        phi, g = pool(self.phi(x)).flatten(2), pool(self.g(x)).flatten(2)  # (B, C/8, HW/4), (B, C/2, HW/4)
        beta = torch.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # (B, HW, HW/4)
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(b, -1, h, w))
        return x + self.gamma * o
