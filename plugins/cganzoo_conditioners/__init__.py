"""Built-in conditioners: embedding, one-hot, word vectors, projection, auxiliary classifier.

Registered through the ``cganzoo`` entry-point group like any third-party
plugin, using only cganzoo's public API. Every factory takes the role it is
built for (``"generator"`` or ``"discriminator"``); ``projection`` and
``auxiliary-classifier`` give the generator a learned embedding and condition
the discriminator through its features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cganzoo import Conditioner, hookimpl


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


@hookimpl
def register_conditioners(register):
    from cganzoo_conditioners.auxiliary import AuxiliaryClassifierParams, make_auxiliary_classifier
    from cganzoo_conditioners.projection import ProjectionParams, make_projection
    from cganzoo_conditioners.word_vectors import WordVectorsParams, WordVectorsConditioner

    register("embedding", EmbeddingConditioner, params=EmbeddingParams,
             description="learned label embedding nn.Embedding(n_classes, cond_dim) (the reference's)")
    register("one-hot", OneHotConditioner,
             description="fixed one-hot label code (Mirza & Osindero 2014, Sec. 4.1)")
    register("word-vectors", WordVectorsConditioner, params=WordVectorsParams,
             description="class names as text: frozen text encoder (all-MiniLM-L6-v2 or a word2vec/GloVe file) "
                         "+ learned projection; samples from unseen phrasings")
    register("projection", make_projection, params=ProjectionParams,
             description="D: inner product of a class embedding with D's features (Miyato & Koyama 2018); "
                         "G: learned embedding")
    register("auxiliary-classifier", make_auxiliary_classifier, params=AuxiliaryClassifierParams,
             description="D predicts the class, cross-entropy in both losses (AC-GAN, Odena et al. 2017); "
                         "G: learned embedding")
