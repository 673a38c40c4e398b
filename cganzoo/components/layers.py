"""Layers that networks share: conditional BatchNorm (modulation) and spectral normalisation.

Public building blocks for network plugins (``from cganzoo import
ConditionalBatchNorm2d, spectral_norm_all``), so every network conditions by
modulation and spectrally normalises the same way.
"""

from __future__ import annotations

import torch
from torch import nn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are predicted from a condition vector: conditioning by modulation.

    ``out = (1 + W_g c [+ b_g]) * BN(x) + (W_b c [+ b_b])``, with ``BN`` a
    BatchNorm2d without its own affine parameters (de Vries et al. 2017,
    "Modulating early visual processing by language", Eq. 2-3; Miyato &
    Koyama 2018, Sec. 5; Brock et al. 2019, Sec. 3, whose ``c`` is the shared
    class embedding concatenated with a chunk of ``z``).

    With a one-hot ``c`` and no bias (the default), ``W_g c`` is column ``y`` of
    ``W_g``: exactly the per-class gain and bias tables of categorical
    conditional BatchNorm, with the same number of parameters
    (``2 * num_classes * C``). ``W`` starts ``N(0, init_std)``: every class
    starts near gain 1 and bias 0 (Miyato & Koyama's code starts exactly
    there; ``init_std=0`` does too), and the condition reaches the output
    from the first step. Any other vector (a learned embedding, word vectors)
    drives it the same way.

    Args:
        num_features: Channels ``C`` of ``x``.
        cond_dim: Width of ``c``; 0 gives a plain BatchNorm2d with a learned
            affine (an unconditional network).
        bias: Add a learned bias ``b_g``, ``b_b`` to the predictions (BigGAN's
            release uses none).
        eps, momentum: BatchNorm's (PyTorch's defaults 1e-5 and 0.1).
        spectral_norm: Spectrally normalise ``W_g`` and ``W_b`` (BigGAN's G).
        init_std: Standard deviation of ``W``'s initial values.

    Shapes:
        ``x`` float ``(B, C, H, W)``, ``c`` float ``(B, cond_dim)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, num_features: int, cond_dim: int, *, bias: bool = False, eps: float = 1e-5,
                 momentum: float = 0.1, spectral_norm: bool = False, init_std: float = 0.02) -> None:
        super().__init__()
        self.num_features, self.cond_dim = num_features, cond_dim
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=cond_dim == 0)
        self.gain: nn.Module | None = None
        self.shift: nn.Module | None = None
        if cond_dim > 0:
            gain, shift = nn.Linear(cond_dim, num_features, bias=bias), nn.Linear(cond_dim, num_features, bias=bias)
            for linear in (gain, shift):
                nn.init.normal_(linear.weight, 0.0, init_std)
                if bias:
                    nn.init.zeros_(linear.bias)
            if spectral_norm:
                # A zero matrix has no spectral norm to divide by: start from a small orthogonal one instead.
                for linear in (gain, shift):
                    nn.init.orthogonal_(linear.weight, gain=1e-2)
                gain, shift = (nn.utils.parametrizations.spectral_norm(m) for m in (gain, shift))
            self.gain, self.shift = gain, shift

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.bn(x)
        if self.gain is None or self.shift is None:
            return h
        gain = 1 + self.gain(c.to(h.dtype))
        shift = self.shift(c.to(h.dtype))
        return h * gain[:, :, None, None] + shift[:, :, None, None]


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Spectrally normalise every ``Linear``, ``Conv*`` and ``Embedding`` weight inside ``module``, in place.

    Miyato et al. 2018 ("Spectral Normalization for GANs", Eq. 8): ``W / sigma(W)``
    with ``sigma`` estimated by one power iteration per training forward pass
    (PyTorch's :func:`torch.nn.utils.parametrizations.spectral_norm`). Adds no
    parameters (the power-iteration vectors are buffers). A layer already
    normalised is left alone.

    Returns:
        ``module`` itself.
    """
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Embedding)
    for child in list(module.modules()):
        if isinstance(child, layers) and not nn.utils.parametrize.is_parametrized(child, "weight"):
            if child.weight.numel() == 0:
                continue
            nn.utils.parametrizations.spectral_norm(child)
    return module


def has_spectral_norm(module: nn.Module) -> bool:
    """Whether every ``Linear``/``Conv*`` weight in ``module`` is spectrally normalised (and there is one)."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
                                                           nn.ConvTranspose2d)) and m.weight.numel()]
    return bool(layers) and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
