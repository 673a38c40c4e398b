"""Tests for cganzoo.data.idx: IDX encoding, decoding and its error messages."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from cganzoo.data.idx import idx_bytes, read_idx
from cganzoo.errors import DataError


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_idx_bytes_matches_the_mnist_layout() -> None:
    labels = np.array([1, 2, 3], dtype=np.uint8)
    assert idx_bytes(labels) == b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + b"\x01\x02\x03"

    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    encoded = idx_bytes(images)
    assert encoded[:4] == b"\x00\x00\x08\x03"
    assert struct.unpack(">3i", encoded[4:16]) == (2, 3, 4)
    assert encoded[16:] == images.tobytes()


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (0, 28, 28)])
def test_round_trip_uint8(tmp_path: Path, shape: tuple[int, ...], compress: bool) -> None:
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    data = idx_bytes(array)
    path = _write(tmp_path / ("a.gz" if compress else "a"), gzip.compress(data) if compress else data)

    loaded = read_idx(path)

    assert loaded.dtype == np.uint8 and loaded.shape == shape
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable and loaded.flags.owndata


def test_gzip_is_detected_from_content_not_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    plain_named_gz = _write(tmp_path / "labels.gz", idx_bytes(array))
    gzipped_without_suffix = _write(tmp_path / "labels", gzip.compress(idx_bytes(array)))

    np.testing.assert_array_equal(read_idx(plain_named_gz), array)
    np.testing.assert_array_equal(read_idx(gzipped_without_suffix), array)


@pytest.mark.parametrize("dtype", [">i1", "<i2", ">i4", "<f4", ">f8"])
def test_round_trip_other_idx_types(tmp_path: Path, dtype: str) -> None:
    array = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    loaded = read_idx(_write(tmp_path / "a", idx_bytes(array)))

    assert loaded.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(loaded, array)


def test_idx_bytes_accepts_non_contiguous_arrays() -> None:
    array = np.arange(24, dtype=np.uint8).reshape(4, 6)[:, ::2]
    assert idx_bytes(array)[12:] == np.ascontiguousarray(array).tobytes()


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool)], ids=["int64", "bool"])
def test_idx_bytes_rejects_dtypes_without_idx_code(array: np.ndarray) -> None:
    with pytest.raises(DataError, match=rf"dtype {array.dtype}.*accepted dtypes: uint8"):
        idx_bytes(array)


def test_idx_bytes_rejects_scalars() -> None:
    with pytest.raises(DataError, match="0-D"):
        idx_bytes(np.uint8(3))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "truncated: 0 bytes"),
        (b"\x00\x00\x08", "truncated: 3 bytes"),
        (b"PK\x03\x04\x00\x00\x00\x01", "not an IDX file: magic 0x504b0304"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "not an IDX file: magic 0x00000701"),
        (b"\x00\x00\x08\x00", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header alone needs 16"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02", "truncated: 10 bytes, expected 12"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "longer than its header says"),
        (b"\x00\x00\x08\x01\xff\xff\xff\xff", "negative dimension"),
    ],
    ids=["empty", "short-magic", "zip", "bad-type", "zero-dims", "short-header", "short-body", "trailing", "negative"],
)
def test_read_idx_errors_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = _write(tmp_path / "train-images-idx3-ubyte", content)
    with pytest.raises(DataError, match=message) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    compressed = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8)))
    path = _write(tmp_path / "t10k-labels-idx1-ubyte.gz", compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere"
    with pytest.raises(DataError, match=f"cannot read IDX file {path}"):
        read_idx(path)
