"""The learned label embedding ``embedding``, the reference CGAN's conditioning."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import Conditioner


class EmbeddingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cond_dim: int | None = Field(
        None, ge=1, le=65536,
        description="Embedding width; default num_classes, as the reference (nn.Embedding(n_classes, n_classes)).",
    )


class EmbeddingConditioner(Conditioner):
    """A learned label embedding, ``c = E[y]``: the reference CGAN's conditioning.

    The reference MNIST CGAN gives the generator and the discriminator each an
    ``nn.Embedding(n_classes, n_classes)`` initialised ``N(0, 1)`` (PyTorch's
    default), concatenated to ``z`` (G) and to the flattened image (D).

    Args:
        num_classes: Labels accepted are ``[0, num_classes)``.
        class_names: Unused; part of the conditioner factory signature.
        role: ``"generator"`` or ``"discriminator"``; the same on both sides.
        cond_dim: Embedding width (default ``num_classes``).

    Shapes:
        ``y`` int64 ``(B,)`` -> ``c`` float32 ``(B, cond_dim)``.
    """

    def __init__(self, num_classes: int, class_names: tuple[str, ...] = (), role: str = "generator",
                 cond_dim: int | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.cond_dim = cond_dim or num_classes
        self.embedding = nn.Embedding(num_classes, self.cond_dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embedding(y)
