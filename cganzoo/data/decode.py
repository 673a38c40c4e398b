"""Image files (or encoded bytes) to one uint8 tensor, with Pillow: any format Pillow reads.

Two passes: :func:`probe` reads only each image's header (mode and size), so
the channel count, the common size and the memory need are known before
anything is decoded; :func:`decode` then decodes, converts and resizes every
image. An image that fails to open or decode is named in one line.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cganzoo.errors import DataError

__all__ = ["ImageRef", "choose_channels", "choose_size", "decode", "image_extensions", "probe"]

#: Pillow modes without colour: decoded as one channel.
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


@dataclass(frozen=True)
class ImageRef:
    """One encoded image: a file, or bytes from a data set column.

    Attributes:
        origin: How to name it in an error (a path, or ``"train row 12 of /data/x"``).
        path: The file, or None.
        data: The encoded bytes, or None.
    """

    origin: str
    path: Path | None = None
    data: bytes | None = None

    def open(self):
        from PIL import Image

        return Image.open(self.path if self.data is None else io.BytesIO(self.data))


def image_extensions() -> frozenset[str]:
    """Lower-case file suffixes Pillow can open (``.png``, ``.jpg``, ``.webp``, ...)."""
    from PIL import Image

    return frozenset(ext.lower() for ext in Image.registered_extensions())


def _fail(name: str, ref: ImageRef, err: BaseException) -> DataError:
    reason = " ".join(str(err).split()) or type(err).__name__
    return DataError(f"{name}: cannot decode image {ref.origin}: {reason}")


def probe(name: str, refs: Sequence[ImageRef]) -> list[tuple[str, tuple[int, int]]]:
    """Each image's Pillow mode and ``(width, height)``, from its header only.

    Raises:
        DataError: an image cannot be opened (the file named).
    """
    from PIL import UnidentifiedImageError

    out = []
    for ref in refs:
        try:
            with ref.open() as image:
                out.append((image.mode, image.size))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            raise _fail(name, ref, err) from None
    return out


def choose_channels(modes: Sequence[str], requested: int | None) -> int:
    """``requested`` if given, else 1 when every image is grayscale, else 3."""
    if requested is not None:
        return requested
    return 1 if all(mode in _GRAY_MODES for mode in modes) else 3


def choose_size(name: str, sizes: Sequence[tuple[int, int]], requested: int | None,
                img_size: int | None) -> tuple[int, int]:
    """The ``(height, width)`` every image is held at.

    ``requested`` (the data set's ``size`` parameter) wins; else the common size
    when every image has the same one; else ``img_size`` (the run's image size).

    Raises:
        DataError: sizes differ and neither ``requested`` nor ``img_size`` is given.
    """
    if requested is not None:
        return requested, requested
    counts = Counter(sizes)
    if len(counts) == 1:
        width, height = next(iter(counts))
        return height, width
    if img_size is not None:
        return img_size, img_size
    common = ", ".join(f"{w}x{h} ({n})" for (w, h), n in counts.most_common(3))
    raise DataError(f"{name}: images come in {len(counts)} sizes (most common: {common}); give the size to resize "
                    "them to with --dataset-param size=N (or train through cganzoo run, which passes --img-size)")


def decode(name: str, refs: Sequence[ImageRef], channels: int, size: tuple[int, int],
           progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Decode, convert to ``channels`` and resize (bilinear, antialiased) every image.

    Args:
        name: Data set name (for errors).
        refs: The images.
        channels: 1 (Pillow mode ``L``) or 3 (``RGB``; an alpha channel is
            composited onto black, as Pillow's ``convert`` does).
        size: ``(height, width)``; images of another size are resized with
            Pillow's ``BILINEAR`` filter, which antialiases when shrinking.
        progress: Called with the number of images decoded so far, every 1000.

    Returns:
        uint8 ``(len(refs), channels, height, width)``.

    Raises:
        DataError: an image fails to decode (the file or row named).
    """
    from PIL import Image, UnidentifiedImageError

    height, width = size
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(refs), height, width, channels), dtype=np.uint8)
    for i, ref in enumerate(refs):
        try:
            with ref.open() as image:
                image.load()
                if image.mode != mode:
                    image = image.convert(mode)
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            raise _fail(name, ref, err) from None
        out[i] = pixels.reshape(height, width, channels)
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
