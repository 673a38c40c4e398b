"""Validation of condition labels ``y``.

Out-of-range labels would otherwise surface as an opaque device-side assert
inside ``nn.Embedding`` (on CUDA) or as silently wrong one-hot codes, so the
core checks labels where they enter: data sets, sampling, the Python API.
"""

from __future__ import annotations

import torch

from cganzoo.errors import LabelError


def check_labels(y: torch.Tensor, num_classes: int, *, source: str = "labels") -> torch.Tensor:
    """Check that ``y`` holds valid class labels.

    Args:
        y: Labels, an integer tensor of shape ``(B,)``.
        num_classes: Valid labels are ``[0, num_classes)``.
        source: Where the labels came from, quoted in the error message.

    Returns:
        ``y`` unchanged.

    Raises:
        LabelError: ``y`` is not an integer tensor, not 1-D, or holds a label
            outside ``[0, num_classes)``; the message names the first bad label
            and its position.
    """
    if not isinstance(y, torch.Tensor):
        raise LabelError(f"{source}: labels must be a torch.Tensor of int64, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise LabelError(
            f"{source}: labels must be an integer tensor (int64), got dtype {y.dtype}"
        )
    if y.dim() != 1:
        raise LabelError(f"{source}: labels must have shape (B,), got {tuple(y.shape)}")
    if y.numel() == 0:
        return y
    bad = (y < 0) | (y >= num_classes)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise LabelError(
            f"{source}: label {int(y[index])} at position {index} is outside "
            f"[0, {num_classes}) (the data set has {num_classes} classes)"
        )
    return y
