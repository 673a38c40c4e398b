"""How images reach the judge classifier and the Parzen-window estimator.

Generators produce float images ``(B, C, img_size, img_size)`` in ``[-1, 1]``
(32x32 for ``mlp-cgan``, 28x28 for ``paper-cgan``); data sets hold uint8
``(N, C, H, W)`` at their native size (MNIST: 1x28x28). Both are brought to
the same place before anything is measured:

* **Judge input** (:func:`to_judge_input`): float32 ``(B, C, H, W)`` in
  ``[-1, 1]`` at the data set's native ``H x W``. Generated images are checked
  to lie in ``[-1, 1]`` (a tolerance of ``1e-4`` absorbs float rounding) and
  raise :class:`~cganzoo.errors.EvaluationError` otherwise; a different size is
  mapped with bilinear interpolation with antialiasing
  (``F.interpolate(mode="bilinear", antialias=True)``, a triangle filter over
  the source pixels, the inverse direction of the 28 -> 32 resize the training
  data went through; its weights are positive, so the range is kept). Real
  uint8 images are scaled exactly as for training, ``x / 127.5 - 1``.
* **Parzen input** (:func:`to_parzen_input`): the judge input mapped to
  ``[0, 1]`` by ``(x + 1) / 2`` and flattened to ``(B, C*H*W)`` (784 for
  MNIST), the pixel space of Goodfellow et al. 2014's ``parzen_ll.py`` (pylearn2's
  MNIST is ``uint8 / 255``). For real uint8 images this is exactly ``x / 255``.

A 32x32 generator is thus scored after a 32 -> 28 resize. The resize is not
lossless: MNIST test images sent on the round trip 28 -> 32 -> 28 that such a
generator's training data took differ from the originals by a mean absolute
pixel difference of 0.027 and a mean squared L2 distance of 3.0 per image (in
``[0, 1]`` pixel units, 784 pixels; measured on the 10,000 test images). It is
the same for every 32x32 model, and ``docs/results.md`` reports the metrics of
such round-tripped real images as a control.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cganzoo.errors import EvaluationError

#: Values outside ``[-1 - RANGE_TOLERANCE, 1 + RANGE_TOLERANCE]`` are rejected.
RANGE_TOLERANCE = 1e-4


def check_unit_range(images: torch.Tensor, *, what: str = "images") -> None:
    """Raise unless ``images`` is a float tensor ``(B, C, H, W)`` with values in ``[-1, 1]``.

    Args:
        images: The tensor to check.
        what: How to name it in the error message.

    Raises:
        EvaluationError: wrong dtype, rank, a NaN, or a value outside
            ``[-1, 1]`` (beyond :data:`RANGE_TOLERANCE`); the message gives
            the observed range and the expected one.
    """
    if not isinstance(images, torch.Tensor) or not images.dtype.is_floating_point:
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise EvaluationError(f"{what} must be a float tensor (B, C, H, W) in [-1, 1], got {kind}; "
                              "scale uint8 images with x / 127.5 - 1")
    if images.dim() != 4:
        raise EvaluationError(f"{what} must have shape (B, C, H, W), got {tuple(images.shape)}")
    if images.numel() == 0:
        return
    if bool(torch.isnan(images).any()):
        raise EvaluationError(f"{what} contain NaN values")
    low, high = float(images.min()), float(images.max())
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise EvaluationError(
            f"{what} have values in [{low:.4g}, {high:.4g}], but the judge expects generator outputs in "
            f"[-1, 1] (uint8 [0, 255] images: use x / 127.5 - 1; [0, 1] images: use 2x - 1)"
        )


def uint8_to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float32 ``[-1, 1]``, ``x / 127.5 - 1`` (the training scaling)."""
    if images.dtype != torch.uint8:
        raise EvaluationError(f"real images must be uint8 (N, C, H, W), got {images.dtype}")
    return images.float().div_(127.5).sub_(1.0)


def to_judge_input(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Map generated images to the judge's input.

    Args:
        images: float ``(B, C, h, w)`` in ``[-1, 1]`` (a generator's output), or
            uint8 ``(B, C, h, w)`` in ``[0, 255]`` (real data).
        size: The judge's ``(H, W)``, the data set's native size.

    Returns:
        float32 ``(B, C, H, W)`` in ``[-1, 1]``, on the input's device.

    Raises:
        EvaluationError: float images outside ``[-1, 1]`` (see :func:`check_unit_range`).
    """
    if images.dtype == torch.uint8:
        x = uint8_to_unit_range(images)
    else:
        check_unit_range(images, what="generated images")
        x = images.float()
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return x


def to_parzen_input(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Map images to the Parzen-window protocol's pixel space: ``[0, 1]``, native size, flattened.

    Args:
        images: float ``(B, C, h, w)`` in ``[-1, 1]``, or uint8 in ``[0, 255]``.
        size: Native ``(H, W)`` (28x28 for MNIST).

    Returns:
        float32 ``(B, C*H*W)`` in ``[0, 1]``; for uint8 input exactly ``x / 255``.
    """
    if images.dtype == torch.uint8:
        if tuple(images.shape[-2:]) == tuple(size):
            return images.flatten(1).float().div_(255.0)
    x = to_judge_input(images, size)
    return x.add(1.0).mul_(0.5).clamp_(0.0, 1.0).flatten(1)
