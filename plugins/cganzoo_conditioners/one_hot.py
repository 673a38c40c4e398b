"""The fixed one-hot label code ``one-hot``, the CGAN paper's conditioning."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cganzoo import Conditioner


class OneHotConditioner(Conditioner):
    """A fixed one-hot code of the label, ``c = onehot(y)``, ``cond_dim = num_classes``.

    Mirza & Osindero 2014, Sec. 4.1: "conditioned on their class labels,
    encoded as one-hot vectors". It has no parameters.

    Shapes:
        ``y`` int64 ``(B,)`` -> ``c`` float32 ``(B, num_classes)``, values in ``{0, 1}``.
    """

    def __init__(self, num_classes: int, class_names: tuple[str, ...] = (), role: str = "generator") -> None:
        super().__init__()
        self.num_classes = num_classes
        self.cond_dim = num_classes
        # Follows the module's dtype and device, so .to(...) moves the codes too.
        self.register_buffer("_dtype_anchor", torch.zeros(()), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.num_classes).to(self._dtype_anchor.dtype)
