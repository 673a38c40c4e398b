"""Read and write IDX files, the format of MNIST's original distribution.

An IDX file is a big-endian header followed by the raw array:

* 4 bytes magic: two zero bytes, one type byte, one byte giving the number of
  dimensions ``ndim`` (MNIST images are ``0x00000803``: uint8, 3-D; labels
  ``0x00000801``: uint8, 1-D);
* ``ndim`` big-endian int32 sizes;
* the values in C order, big-endian.

Files are often distributed gzipped (``*.gz``); :func:`read_idx` recognises
gzip by its magic bytes, not by the file name. Reference: Y. LeCun, C. Cortes,
C. Burges, "The MNIST database of handwritten digits",
http://yann.lecun.com/exdb/mnist/ (section "File formats").
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from cganzoo.errors import DataError

__all__ = ["idx_bytes", "read_idx"]

# IDX type byte -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_BYTES: dict[np.dtype, int] = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _accepted_dtypes() -> str:
    return ", ".join(str(dtype) for dtype in _TYPE_BYTES)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzipped or not.

    Args:
        path: The file. Gzip compression is detected from the content, so
            ``train-images-idx3-ubyte`` and ``train-images-idx3-ubyte.gz`` may
            each be compressed or not.

    Returns:
        The array, with the shape stored in the header and the native-endian
        dtype named by its type byte (uint8 for MNIST: images ``(N, 28, 28)``,
        values 0..255; labels ``(N,)``, values 0..9). The array owns its memory
        and is writable.

    Raises:
        DataError: The file cannot be read, is not gzip/IDX (bad magic), is
            truncated, or has bytes after the array. The message names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except OSError as err:  # includes gzip.BadGzipFile
        raise DataError(f"cannot read IDX file {path}: {err}") from err
    except (EOFError, zlib.error) as err:
        raise DataError(f"IDX file {path} is a truncated or corrupt gzip stream: {err}") from err

    if len(raw) < 4:
        raise DataError(f"IDX file {path} is truncated: {len(raw)} bytes, shorter than the 4-byte magic number")
    zero, type_byte, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_byte not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{path} is not an IDX file: magic 0x{raw[:4].hex()}; expected 0x0000TTNN with type byte TT in "
            f"{{{', '.join(f'0x{code:02x}' for code in _IDX_DTYPES)}}} and NN >= 1 dimensions "
            "(MNIST: 0x00000803 images, 0x00000801 labels)"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"IDX file {path} is truncated: {len(raw)} bytes, the header alone needs {header_size}")
    shape = struct.unpack(f">{ndim}i", raw[4:header_size])
    if any(size < 0 for size in shape):
        raise DataError(f"IDX file {path} has a negative dimension in its header: shape {shape}")
    dtype = _IDX_DTYPES[type_byte]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"IDX file {path} is {problem}: {len(raw)} bytes, expected {expected} for shape {shape} of {dtype.name}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as an uncompressed IDX file.

    This is also the canonical form MNIST checksums are computed on: the bytes
    of ``train-images-idx3-ubyte`` (uncompressed) equal ``idx_bytes(images)``.

    Args:
        array: At least 1-D, at most 255-D, of dtype uint8 (MNIST; magic
            ``0x00000801`` for 1-D, ``0x00000803`` for 3-D), int8, int16,
            int32, float32 or float64, any byte order, any memory layout.

    Returns:
        The header (magic, big-endian int32 sizes) followed by the values in C
        order, big-endian.

    Raises:
        DataError: The dtype has no IDX type code, the array is 0-D, or a size
            does not fit an int32.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _TYPE_BYTES:
        raise DataError(f"cannot write dtype {array.dtype} as IDX; accepted dtypes: {_accepted_dtypes()}")
    if not 1 <= array.ndim <= 255:
        raise DataError(f"cannot write a {array.ndim}-D array as IDX; accepted: 1 to 255 dimensions")
    if any(size > 2**31 - 1 for size in array.shape):
        raise DataError(f"cannot write shape {array.shape} as IDX: sizes must fit a signed 32-bit integer")
    header = struct.pack(f">HBB{array.ndim}i", 0, _TYPE_BYTES[native], array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    return header + body
