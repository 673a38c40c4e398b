"""Auxiliary-classifier conditioning (AC-GAN; Odena, Olah & Shlens 2017, "Conditional Image
Synthesis with Auxiliary Classifier GANs").

The discriminator takes no condition as input; it predicts the class of
every image with a linear head on its features, ``P(C | X)``. With the
log-likelihood of the correct class

    L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]      (Eq. 3)

the discriminator maximises ``L_S + L_C`` and the generator ``L_C - L_S``
(Sec. 3), ``L_S`` being the adversarial (source) term. As minimised losses:
the adversarial loss plus ``weight * CE`` for each, where CE is the class
cross-entropy. The discriminator's CE is the mean over the real and the fake
batch (mirroring the halved adversarial discriminator losses); the
generator's is on its own batch. The generator side is a learned label
embedding fed as input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import Conditioner, DiscriminatorOutput
from cganzoo_conditioners.embedding import EmbeddingConditioner


class AuxiliaryClassifierParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cond_dim: int | None = Field(
        None, ge=1, le=65536,
        description="Width of the generator side's learned label embedding (default num_classes).")
    weight: float = Field(1.0, ge=0, description="Weight of the class cross-entropy in both losses (paper: 1).")
    fake_class_loss: bool = Field(
        True, description="Train D's classifier on generated images too (the paper's L_C); "
                          "false: on real images only.")


class AuxiliaryClassifier(Conditioner):
    """The discriminator side of AC-GAN: a class head on D's features.

    Args:
        num_classes: Number of classes the head predicts.
        weight: Weight of the cross-entropy terms.
        fake_class_loss: Whether D's class loss includes the generated batch.

    Shapes:
        ``forward(y)``: int64 ``(B,)`` -> float32 ``(B, 0)`` (no input conditioning);
        ``condition_output(h (B, F), logits (B,), y)`` -> logits ``(B,)`` and
        class logits ``(B, num_classes)``.
    """

    reads_features = True

    def __init__(self, num_classes: int, weight: float = 1.0, fake_class_loss: bool = True) -> None:
        super().__init__()
        self.num_classes, self.cond_dim = num_classes, 0
        self.weight, self.fake_class_loss = weight, fake_class_loss
        self.classifier: nn.Linear | None = None
        self.register_buffer("_dtype_anchor", torch.zeros(()), persistent=False)

    def bind_features(self, feature_dim: int) -> None:
        self.classifier = nn.Linear(feature_dim, self.num_classes)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return torch.zeros(y.shape[0], 0, dtype=self._dtype_anchor.dtype, device=y.device)

    def condition_output(self, features: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> DiscriminatorOutput:
        if self.classifier is None:
            raise RuntimeError("AuxiliaryClassifier.bind_features was never called (it needs D's feature width)")
        return DiscriminatorOutput(logits, self.classifier(features))

    def generator_loss(self, fake: DiscriminatorOutput, y: torch.Tensor) -> torch.Tensor:
        """``weight * CE(class_logits(G(z, y)), y)``: G makes images D classifies as ``y``."""
        return self.weight * F.cross_entropy(fake.class_logits, y)

    def discriminator_loss(self, real: DiscriminatorOutput, y_real: torch.Tensor,
                           fake: DiscriminatorOutput, y_fake: torch.Tensor) -> torch.Tensor:
        """``weight * (CE(real) + CE(fake)) / 2``, or ``weight * CE(real)`` without ``fake_class_loss``."""
        real_ce = F.cross_entropy(real.class_logits, y_real)
        if not self.fake_class_loss:
            return self.weight * real_ce
        return self.weight * (real_ce + F.cross_entropy(fake.class_logits, y_fake)) / 2


def make_auxiliary_classifier(num_classes: int, class_names: tuple[str, ...], role: str,
                              cond_dim: int | None = None, weight: float = 1.0,
                              fake_class_loss: bool = True) -> Conditioner:
    """``auxiliary-classifier`` for one side: a learned embedding for G, the class head for D."""
    if role == "generator":
        return EmbeddingConditioner(num_classes, class_names, role, cond_dim=cond_dim)
    return AuxiliaryClassifier(num_classes, weight=weight, fake_class_loss=fake_class_loss)
