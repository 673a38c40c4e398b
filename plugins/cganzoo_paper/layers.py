"""The pylearn2 pieces the CGAN paper's networks are made of: maxout, ``max_col_norm`` and ``irange`` initialisation.

Goodfellow et al. 2014's GAN code, on which Mirza & Osindero 2014 build, is
written in pylearn2; these are its layer, weight constraint and initialisation
in PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn


def max_col_norm_(module: nn.Module, limit: float) -> None:
    """pylearn2's ``max_col_norm``: rescale each unit's incoming weights to an L2 norm of at most ``limit``.

    For every ``nn.Linear`` in ``module`` (weight ``(out, in)``; pylearn2 stores
    its transpose, hence "column"), each row ``w`` becomes
    ``w * min(|w|, limit) / (1e-7 + |w|)``, as pylearn2's
    ``Linear._modify_updates`` / ``Maxout._modify_updates`` do after each
    update. Biases are not constrained. In place, under ``torch.no_grad()``.

    Args:
        module: The network whose linear layers are projected.
        limit: Largest allowed L2 norm of a unit's incoming weight vector.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                norms = layer.weight.norm(dim=1, keepdim=True)
                layer.weight.mul_(norms.clamp(max=limit) / (1e-7 + norms))


def init_uniform(module: nn.Module, bound: float) -> None:
    """pylearn2's ``irange``: every ``nn.Linear`` in ``module`` gets weights ``U(-bound, bound)`` and zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): ``max_k (W_k x + b_k)`` over ``pieces`` affine maps.

    Shapes:
        ``(B, in_features)`` -> ``(B, units)``.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.size(0), self.units, self.pieces).amax(dim=-1)
