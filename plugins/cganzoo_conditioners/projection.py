"""Projection discriminator conditioning (Miyato & Koyama 2018, "cGANs with Projection Discriminator").

The discriminator's logit for image ``x`` of class ``y`` is its unconditional
output plus the inner product of a learned class embedding with its features:

    D(x, y) = psi(phi(x)) + <V[y], phi(x)>                    (Eq. 3)

with ``phi`` the network's penultimate features (``features``), ``psi`` its
last layer (``output``) and ``V`` an ``(n_classes, F)`` embedding. The
discriminator takes no condition as input (``cond_dim = 0``). The generator
side is a learned label embedding fed to the generator as input (the paper's
generator uses conditional BatchNorm; concatenation keeps every generator
network usable).
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import Conditioner, DiscriminatorOutput
from cganzoo_conditioners.embedding import EmbeddingConditioner


class ProjectionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cond_dim: int | None = Field(
        None, ge=1, le=65536,
        description="Width of the generator side's learned label embedding (default num_classes).")
    spectral_norm: bool = Field(
        False, description="Spectral normalisation of the class embedding V (Miyato & Koyama 2018 use it "
                           "with a spectrally normalised discriminator).")


class ProjectionConditioner(Conditioner):
    """The discriminator side of projection conditioning: ``logits + <V[y], h>``.

    Args:
        num_classes: Labels accepted are ``[0, num_classes)``.
        spectral_norm: Spectrally normalise ``V``.

    Shapes:
        ``forward(y)``: int64 ``(B,)`` -> float32 ``(B, 0)`` (no input conditioning);
        ``condition_output(h (B, F), logits (B,), y (B,))`` -> logits ``(B,)``.
    """

    reads_features = True

    def __init__(self, num_classes: int, spectral_norm: bool = False) -> None:
        super().__init__()
        self.num_classes, self.cond_dim = num_classes, 0
        self.spectral_norm = spectral_norm
        self.embedding: nn.Embedding | None = None
        self.register_buffer("_dtype_anchor", torch.zeros(()), persistent=False)

    def bind_features(self, feature_dim: int) -> None:
        embedding = nn.Embedding(self.num_classes, feature_dim)
        # The authors' code initialises V with Xavier-uniform (chainer's SNEmbedID, initialW=xavier).
        nn.init.xavier_uniform_(embedding.weight)
        if self.spectral_norm:
            embedding = nn.utils.parametrizations.spectral_norm(embedding)
        self.embedding = embedding

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.zeros(y.shape[0], 0, dtype=self._dtype_anchor.dtype, device=y.device)

    def condition_output(self, features: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> DiscriminatorOutput:
        if self.embedding is None:
            raise RuntimeError("ProjectionConditioner.bind_features was never called (it needs D's feature width)")
        return DiscriminatorOutput(logits + (self.embedding(y) * features).sum(dim=1))


def make_projection(num_classes: int, class_names: tuple[str, ...], role: str, cond_dim: int | None = None,
                    spectral_norm: bool = False) -> Conditioner:
    """``projection`` for one side: a learned embedding for G, the projection for D."""
    if role == "generator":
        return EmbeddingConditioner(num_classes, class_names, role, cond_dim=cond_dim)
    return ProjectionConditioner(num_classes, spectral_norm=spectral_norm)
