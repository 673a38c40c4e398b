"""Image files (or encoded bytes) to one uint8 tensor, with Pillow, as an image viewer shows them.

Two passes: :func:`probe` reads only each image's header (mode and size), so
the channel count, the common size and the memory need are known before
anything is decoded; :func:`decode` then decodes, converts and resizes every
image.

What an image becomes (``docs/datasets.md`` lists the same for users):

* **Orientation**: the EXIF (or XMP) Orientation tag is applied (rotated or
  mirrored upright, as a viewer shows it), in the sizes :func:`probe` reports
  too (from a PNG's header probe sees an ``eXIf`` chunk only where writers put
  it, before the pixel data).
* **Alpha**, in any mode (``RGBA``, ``LA``, ``PA``, a palette or colour key
  with transparency, 16-bit PNGs with alpha, premultiplied ``RGBa``/``La``):
  composited onto black, as a viewer shows the image over a black
  background: a transparent pixel is black, white at half opacity is 128.
* **8-bit modes** (``1``, ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr``...):
  converted by Pillow to ``L`` or ``RGB`` (grey from colour by ITU-R 601-2 luma).
  16-bit colour PNGs arrive here already: Pillow keeps each value's high byte.
* **16-bit integers** (``I;16``, ``I;16B``, ``I;16L``, ``I;16N``): ``round(v / 257)``,
  so 0..65535 becomes 0..255.
* **32-bit integers** (``I``: 32-bit TIFFs, 16-bit data read by older Pillows):
  read as 16-bit values when every one lies in 0..65535; otherwise refused,
  naming the range found.
* **Floats** (``F``): ``x * 255`` when every value lies in [0, 1], kept when
  they lie in [0, 255], otherwise (or with NaN or infinity) refused, naming
  the range found.
* **Huge images**: more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's
  guard against decompression bombs, 89,478,485 by default) are refused,
  naming their size, including those Pillow itself would only warn about:
  no training size comes near it. Python callers who trust such files can
  raise that limit (or set it to None) before loading.
* Anything else Pillow cannot open, decode or convert is refused.

Every refusal is one :class:`~cganzoo.errors.DataError` line:
``NAME: cannot decode image ORIGIN: what is wrong[; what to do]``.
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from cganzoo.errors import DataError

__all__ = ["DECODER_VERSION", "ImageRef", "choose_channels", "choose_size", "decode", "image_extensions", "probe"]

#: Changes whenever the same file decodes to other pixels; data set caches key on it,
#: so images cached by an earlier rule are decoded again.
DECODER_VERSION = 2

#: Pillow modes without colour: decoded as one channel.
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
#: Modes holding more than 8 bits per pixel, scaled to 8 bits here rather than by Pillow,
#: whose conversion to ``L`` clips every value above 255 to 255.
_DEEP_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_ORIENTATION_TAG = 0x0112


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

    def stream(self) -> BinaryIO:
        """The encoded image as a binary file object; the caller closes it.

        Raises:
            OSError: the file cannot be opened.
        """
        return self.path.open("rb") if self.data is None else io.BytesIO(self.data)


class _Refused(Exception):
    """An image Pillow reads but whose pixels cganzoo will not guess at; the message says what to do."""


def image_extensions() -> frozenset[str]:
    """Lower-case file suffixes Pillow can open (``.png``, ``.jpg``, ``.webp``, ...)."""
    from PIL import Image

    return frozenset(ext.lower() for ext in Image.registered_extensions())


def _fail(name: str, ref: ImageRef, err: BaseException | str) -> DataError:
    reason = " ".join(str(err).split()) or type(err).__name__
    return DataError(f"{name}: cannot decode image {ref.origin}: {reason}")


def _too_large(name: str, ref: ImageRef, pixels: str, size: tuple[int, int] | None) -> DataError:
    from PIL import Image

    shape = f" ({size[0]}x{size[1]})" if size is not None else ""
    return _fail(name, ref, f"{pixels} pixels{shape} is more than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} "
                            "against decompression bombs; shrink it to the size you train at, or leave it out "
                            "(from Python, raise PIL.Image.MAX_IMAGE_PIXELS for files you trust)")


@contextmanager
def _opened(name: str, ref: ImageRef) -> Iterator:
    """The image ``ref`` opened (header only), refused in one line when Pillow cannot open it or it is too large."""
    from PIL import Image

    with ExitStack() as stack:
        try:
            # A file object, not a path: Pillow memory-maps a path, and its map of an
            # uncompressed TIFF turned by its Orientation tag scrambles the pixels (Pillow 13.0).
            stream = stack.enter_context(ref.stream())
            # Pillow warns between its limit and twice it and raises above; the size is checked
            # below against the limit itself, so its two-line warning never reaches stderr.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = stack.enter_context(Image.open(stream))
        except Image.DecompressionBombError as err:
            found = re.search(r"\((\d+) pixels\)", str(err))
            pixels = f"{int(found.group(1)):,}" if found else f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,}"
            raise _too_large(name, ref, pixels, None) from None
        except Exception as err:  # noqa: BLE001 - a malformed file can make a Pillow plugin raise nearly anything
            raise _fail(name, ref, err) from None
        width, height = image.size
        if Image.MAX_IMAGE_PIXELS is not None and width * height > Image.MAX_IMAGE_PIXELS:
            raise _too_large(name, ref, f"{width * height:,}", (width, height))
        yield image


def _orientation(image) -> int:
    """The image's EXIF (or XMP) Orientation still to apply: 1..8, 1 = as stored."""
    # On a PNG not yet loaded, getexif() would decode the pixels to look for an eXIf chunk
    # after them; one before them (where writers put it) was already read with the header.
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - viewers show an image whose EXIF cannot be read as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _shown_size(image) -> tuple[int, int]:
    """``(width, height)`` of the image once turned upright, from its header."""
    width, height = image.size
    if _orientation(image) < 5:  # 5..8 turn the image by a quarter
        return width, height
    # Newer Pillows turn a TIFF upright themselves when loading it and already report the
    # turned size; the TIFF's own width and height tags tell which size this Pillow reports.
    tags = getattr(image, "tag_v2", None)
    if tags is not None and (tags.get(256), tags.get(257)) == (height, width):
        return width, height
    return height, width


def probe(name: str, refs: Sequence[ImageRef]) -> list[tuple[str, tuple[int, int]]]:
    """Each image's Pillow mode and ``(width, height)`` as shown (EXIF orientation applied), from its header only.

    Raises:
        DataError: an image cannot be opened, or has more pixels than
            ``PIL.Image.MAX_IMAGE_PIXELS`` (the file named).
    """
    out = []
    for ref in refs:
        with _opened(name, ref) as image:
            out.append((image.mode, _shown_size(image)))
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


def _to_8_bit(values: np.ndarray, mode: str) -> np.ndarray:
    """uint8 ``(H, W)`` from the pixel values of a 16-bit, 32-bit integer or float image (rules: module docstring)."""
    if mode == "F":
        if not np.isfinite(values).all():
            raise _Refused("float pixels include NaN or infinity; save the image with finite values in 0..1 or 0..255")
        low, high = float(values.min()), float(values.max())
        if low >= 0.0 and high <= 1.0:
            return np.rint(values * 255.0).astype(np.uint8)
        if low >= 0.0 and high <= 255.0:
            return np.rint(values).astype(np.uint8)
        raise _Refused(f"float pixels range from {low:g} to {high:g}, neither within 0..1 nor 0..255; save the "
                       "image scaled into one of those (or as 8- or 16-bit integers)")
    values = values.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 65535:
        raise _Refused(f"32-bit integer pixels range from {low} to {high}, outside 0..65535 (cganzoo reads them as "
                       "16-bit values); save the image as 8- or 16-bit")
    return ((values + 128) // 257).astype(np.uint8)


def _keyed_out(image) -> np.ndarray | None:
    """bool ``(H, W)``: pixels hidden by a colour-key transparency (PNG ``tRNS`` on a grey or RGB image), or None."""
    key = image.info.get("transparency")
    if key is None or image.mode in ("P", "PA") or "A" in image.getbands() or "a" in image.getbands():
        return None  # a palette's transparency is mapped by Pillow's conversion to RGBA
    values = np.asarray(image)
    if values.ndim == 2 and isinstance(key, int):
        return values == key
    if values.ndim == 3 and isinstance(key, tuple) and len(key) == values.shape[2]:
        return np.all(values == np.asarray(key), axis=2)
    return None  # a key that fits no pixel format: viewers ignore it too


def _has_alpha(image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return True
    palette = getattr(image, "palette", None)
    return image.mode == "P" and ("transparency" in image.info or getattr(palette, "mode", "") == "RGBA")


def _viewed(image, mode: str):
    """``image`` (loaded) as an 8-bit Pillow image of ``mode`` (``L`` or ``RGB``), alpha composited onto black."""
    from PIL import Image

    hidden = _keyed_out(image)
    source = image.mode
    if source in _DEEP_MODES:
        image = Image.fromarray(_to_8_bit(np.asarray(image), source))
    elif source == "La":  # premultiplied alpha: the colour is already composited onto black
        image = image.getchannel(0)
    elif source == "RGBa":
        image = Image.merge("RGB", image.split()[:3])
    elif _has_alpha(image):
        image = image.convert("LA" if source == "LA" else "RGBA")
        pixels = np.asarray(image).astype(np.uint16)
        shown = ((pixels[..., :-1] * pixels[..., -1:] + 127) // 255).astype(np.uint8)
        image = Image.fromarray(shown[..., 0] if shown.shape[2] == 1 else shown)
    elif source not in ("L", "RGB"):
        try:
            image = image.convert("L" if source == "1" else "RGB")
        except ValueError as err:
            raise _Refused(f"Pillow cannot convert its mode {source} to RGB ({err}); save it as RGB or "
                           "grayscale") from None
    if hidden is not None:
        pixels = np.array(image)
        pixels[hidden] = 0
        image = Image.fromarray(pixels)
    return image if image.mode == mode else image.convert(mode)


def decode(name: str, refs: Sequence[ImageRef], channels: int, size: tuple[int, int],
           progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """Decode every image as a viewer shows it, convert to ``channels`` and resize (bilinear, antialiased).

    Orientation, alpha, bit depth and size limits follow the rules of the
    module docstring.

    Args:
        name: Data set name (for errors).
        refs: The images.
        channels: 1 (Pillow mode ``L``) or 3 (``RGB``); alpha is composited
            onto black before the conversion.
        size: ``(height, width)``; images of another size (after orientation)
            are resized with Pillow's ``BILINEAR`` filter, which antialiases
            when shrinking.
        progress: Called with the number of images decoded so far, every 1000.

    Returns:
        uint8 ``(len(refs), channels, height, width)``, 0..255.

    Raises:
        DataError: an image fails to open or decode, is too large, or holds
            values no rule maps to 8 bits (the file or row named, in one line).
    """
    from PIL import Image, ImageOps

    height, width = size
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(refs), height, width, channels), dtype=np.uint8)
    for i, ref in enumerate(refs):
        with _opened(name, ref) as image:
            try:
                image.load()
                # Pillow turns a TIFF upright itself while loading it; older Pillows keep the tag
                # afterwards, and turning again would undo it (python-pillow/Pillow#7381).
                if image.format != "TIFF" and _orientation(image) != 1:
                    image = ImageOps.exif_transpose(image)
                shown = _viewed(image, mode)
                if shown.size != (width, height):
                    shown = shown.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(shown, dtype=np.uint8)
            except Exception as err:  # noqa: BLE001 - _Refused, or whatever a malformed file makes Pillow raise
                raise _fail(name, ref, err) from None
        out[i] = pixels.reshape(height, width, channels)
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
