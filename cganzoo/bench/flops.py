"""Model FLOPs of one training step, counted and derived from layer shapes.

A FLOP here is one floating-point multiply or add in a matrix product or
convolution (a multiply-accumulate is 2 FLOPs), the usual "model FLOPs":
elementwise work (activations, BatchNorm, the loss, Adam) is not counted.

For the reference MLP CGAN at 1x32x32, latent 100, 10 classes, with
``F_G = 2 * 1,750,784 = 3.50 MFLOP`` (G forward per image) and
``F_D = 2 * 1,054,208 = 2.11 MFLOP`` (D forward per image):

* cganzoo's step (D frozen during the G update):
  G update ``F_G + F_D`` forward, ``F_D`` (D input gradients only) ``+ 2 F_G``
  backward; D update ``2 F_D`` forward (real and fake) ``+ 4 F_D`` backward;
  total ``3 F_G + 8 F_D = 27.37 MFLOP`` per image;
* the reference script's step also computes D's weight gradients during the
  G update (and throws them away): ``3 F_G + 9 F_D = 29.48 MFLOP`` per image.

The first layer's input gradient is always computed in full: its input
concatenates the label embedding, which is trained.

A convolution's forward pass costs ``2 * B * C_out * H_out * W_out * (C_in / groups) * k_h * k_w``
FLOPs, and its backward pass twice that (input and weight gradients), as for
a matrix product; :func:`conv2d_forward_flops` gives the formula and
:func:`counted_flops_by_kind` splits a step's count into convolutions and
matrix products, which decides the roof a row is measured against.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def counted_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matrix products and convolutions ``fn()`` runs (forward and backward).

    Uses ``torch.utils.flop_counter.FlopCounterMode``; ``fn`` really runs
    (one training step here updates the weights once).
    """
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


#: FlopCounterMode's convolution ops (forward, and backward with input and weight gradients).
_CONV_OPS = ("convolution", "_convolution", "convolution_backward", "cudnn_convolution",
             "cudnn_convolution_transpose", "mkldnn_convolution")


def counted_flops_by_kind(fn: Callable[[], Any]) -> dict[str, int]:
    """FLOPs ``fn()`` runs, split into ``{"conv": ..., "matmul": ...}`` (forward and backward).

    ``"conv"`` is every convolution and transposed convolution; ``"matmul"``
    every other counted op (matrix products: ``mm``, ``addmm``, ``bmm``...).
    ``fn`` really runs, as in :func:`counted_flops`.
    """
    with FlopCounterMode(display=False) as counter:
        fn()
    split = {"conv": 0, "matmul": 0}
    for op, flops in counter.get_flop_counts().get("Global", {}).items():
        name = str(op).split(".")[1] if str(op).startswith("aten.") else str(op)
        split["conv" if name in _CONV_OPS else "matmul"] += int(flops)
    return split


def conv2d_forward_flops(batch: int, in_channels: int, out_channels: int, out_size: tuple[int, int],
                         kernel: tuple[int, int], groups: int = 1) -> int:
    """Forward FLOPs of one 2-D convolution: ``2 * B * C_out * H_out * W_out * (C_in / groups) * k_h * k_w``.

    The same formula holds for a transposed convolution with ``in_channels`` and
    ``out_channels`` swapped and the *input* size in place of ``out_size`` (it is
    the backward pass of a convolution). Its backward pass costs twice this.

    Args:
        batch: ``B``.
        in_channels, out_channels: ``C_in``, ``C_out``.
        out_size: ``(H_out, W_out)`` of the output, pixels.
        kernel: ``(k_h, k_w)``.
        groups: Channel groups (``C_in`` and ``C_out`` divisible by it).
    """
    return 2 * batch * out_channels * out_size[0] * out_size[1] * (in_channels // groups) * kernel[0] * kernel[1]


def linear_forward_flops(module: torch.nn.Module) -> int:
    """Forward FLOPs per sample of every ``nn.Linear`` in ``module``: ``2 * in * out`` each."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))


def mlp_cgan_step_flops(generator: torch.nn.Module, discriminator: torch.nn.Module, *,
                        frozen_discriminator: bool = True) -> int:
    """Training-step FLOPs per image of an all-Linear CGAN, from its layer shapes.

    Args:
        generator: G, made of ``nn.Linear`` layers (plus parameter-free or elementwise ones).
        discriminator: D, likewise.
        frozen_discriminator: ``True`` for cganzoo's step, ``False`` for the
            reference's (D's weight gradients also computed during the G update).

    Returns:
        ``3 F_G + 8 F_D`` (frozen) or ``3 F_G + 9 F_D`` (see the module docstring).
    """
    f_g, f_d = linear_forward_flops(generator), linear_forward_flops(discriminator)
    return 3 * f_g + (8 if frozen_discriminator else 9) * f_d
