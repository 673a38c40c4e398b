"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

DiffAugment applies the same family of differentiable transforms ``T`` to the
real and the generated images before the discriminator, in both players'
updates (Sec. 3, Eq. 2-3 and Fig. 4c), so D cannot memorise the few real
images and G still gets gradients through ``T``. The three policies are the
authors' (``DiffAugment_pytorch.py``):

* ``color``: per image, brightness ``+ U[-0.5, 0.5)``, saturation (distance to
  the channel mean) ``x U[0, 2)``, contrast (distance to the image mean) ``x U[0.5, 1.5)``;
* ``translation``: per image, an integer shift in ``[-r H, r H]`` (``r = 1/8``) in
  each direction, the uncovered border filled with zeros;
* ``cutout``: per image, a zero square of half the side at a random place.

Every random number comes from the run's noise through
:class:`cganzoo.BatchNoise` (global-batch draws, this rank's shard kept), so a
resumed run repeats the augmentations exactly and ``--nproc N`` draws what one
process draws.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import BatchNoise

Policy = Literal["color", "translation", "cutout"]


class DiffAugmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    policy: list[Policy] = Field(["color", "translation", "cutout"], min_length=1,
                                 description="Transforms, applied in this order (the paper's CIFAR policy: all three).")
    translation_ratio: float = Field(0.125, ge=0, le=0.5, description="Largest shift as a fraction of the side (1/8).")
    cutout_ratio: float = Field(0.5, gt=0, le=1, description="Side of the cut-out square as a fraction of the image's.")


class DiffAugment:
    """``augment(x, noise)``: DiffAugment's ``color``, ``translation`` and ``cutout``.

    Args:
        policy: Transforms in order.
        translation_ratio: Largest shift, as a fraction of ``H`` and ``W``.
        cutout_ratio: Cut-out side, as a fraction of ``H`` and ``W``.

    Shapes:
        float ``(B, C, H, W)`` -> ``(B, C, H, W)``, differentiable in ``x``.
    """

    def __init__(self, policy: list[str] | tuple[str, ...] = ("color", "translation", "cutout"),
                 translation_ratio: float = 0.125, cutout_ratio: float = 0.5) -> None:
        self.policy = tuple(policy)
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio

    def __call__(self, x: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        for name in self.policy:
            x = getattr(self, name)(x, noise)
        return x

    @staticmethod
    def color(x: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        b = x.shape[0]
        x = x + (noise.rand(b, 1, 1, 1, dtype=x.dtype) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (noise.rand(b, 1, 1, 1, dtype=x.dtype) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (noise.rand(b, 1, 1, 1, dtype=x.dtype) + 0.5) + mean

    def translation(self, x: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        b, _, h, w = x.shape
        sh, sw = int(h * self.translation_ratio + 0.5), int(w * self.translation_ratio + 0.5)
        ty = noise.randint(2 * sh + 1, b, 1, 1).to(x.device) - sh
        tx = noise.randint(2 * sw + 1, b, 1, 1).to(x.device) - sw
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        # Index into the image padded by one zero pixel: a shift past the border reads zeros.
        src_y = torch.clamp(rows + ty + 1, 0, h + 1).expand(b, h, w)
        src_x = torch.clamp(cols + tx + 1, 0, w + 1).expand(b, h, w)
        padded = F.pad(x, [1, 1, 1, 1])
        batch = torch.arange(b, device=x.device)[:, None, None].expand(b, h, w)
        return padded.permute(0, 2, 3, 1)[batch, src_y, src_x].permute(0, 3, 1, 2).contiguous()

    def cutout(self, x: torch.Tensor, noise: BatchNoise) -> torch.Tensor:
        b, _, h, w = x.shape
        ch, cw = int(h * self.cutout_ratio + 0.5), int(w * self.cutout_ratio + 0.5)
        oy = noise.randint(h + (1 - ch % 2), b, 1, 1).to(x.device)
        ox = noise.randint(w + (1 - cw % 2), b, 1, 1).to(x.device)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        top, left = oy - ch // 2, ox - cw // 2
        inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
        return x * (~inside).unsqueeze(1).to(x.dtype)
