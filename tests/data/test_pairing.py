"""Images and labels stay paired through MNIST's cache (also a rebuilt one), the dataset plugin, resize and shuffle.

A tiny stand-in for MNIST whose every image encodes its own label (the toy
plugin's code) goes the whole way a run's data goes; decoding any batch must
give back its labels.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cganzoo import create_dataset
from cganzoo_datasets import mnist
from cganzoo.data.batches import EpochBatches, resize_images
from cganzoo.data.idx import idx_bytes
from cganzoo.errors import DataError
from toy_plugin import decode, encode

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _disabled():
    raise DataError("disabled in tests")


@pytest.fixture
def encoded(monkeypatch, tmp_path) -> tuple[Path, np.ndarray]:
    """Hand-placed IDX files of 96 images that encode their labels; checksums expected to match them."""
    labels = (np.arange(96) * 7 % 10).astype(np.uint8)
    test_labels = np.arange(20, dtype=np.uint8) % 10
    arrays = {
        NAMES[0]: encode(torch.from_numpy(labels).long())[:, 0].numpy(),
        NAMES[1]: labels,
        NAMES[2]: encode(torch.from_numpy(test_labels).long(), seed=1)[:, 0].numpy(),
        NAMES[3]: test_labels,
    }
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, array in arrays.items():
        (data_dir / name).write_bytes(idx_bytes(array))
    monkeypatch.setattr(mnist, "_EXPECTED_MD5", {n: hashlib.md5(idx_bytes(a)).hexdigest() for n, a in arrays.items()})
    monkeypatch.setattr(mnist, "_fetch_from_hub", _disabled)
    monkeypatch.setattr(mnist, "_fetch_from_pip_mirror", _disabled)
    return data_dir, labels


def _assert_paired(data, labels: np.ndarray) -> None:
    assert torch.equal(data.labels, torch.from_numpy(labels).long())
    assert torch.equal(decode(data.images), data.labels)
    images = resize_images(data.images, 32)
    batches = EpochBatches(images, data.labels, batch_size=16, seed=3)
    for epoch in range(2):
        for x, y in batches.epoch(epoch):
            assert torch.equal(decode(x), y)


def test_pairs_survive_the_cache_the_plugin_resize_and_shuffle(encoded):
    data_dir, labels = encoded
    lines = []
    first = create_dataset("mnist", data_dir=data_dir, log=lines.append)  # from the hand-placed files, then cached
    assert lines[-1] == f"mnist: cached at {data_dir / 'mnist' / 'v2'}"
    for path in data_dir.glob("*-ubyte"):
        path.unlink()  # from now on only the cache can answer
    lines.clear()
    second = create_dataset("mnist", data_dir=data_dir, log=lines.append)
    assert lines == []
    _assert_paired(first, labels)
    _assert_paired(second, labels)


def test_a_corrupted_cache_is_rebuilt_with_a_line_saying_so_and_pairs_survive(encoded):
    data_dir, labels = encoded
    create_dataset("mnist", data_dir=data_dir, log=lambda line: None)
    arrow = data_dir / "mnist" / "v2" / "tensors.safetensors"
    content = bytearray(arrow.read_bytes())
    offset = content.find(labels[:3].astype("<i8").tobytes())  # the label column, as stored (int64)
    assert offset > 0
    content[offset] = (content[offset] + 1) % 10  # one label silently changed: images and labels now disagree
    arrow.write_bytes(bytes(content))
    lines = []
    data = create_dataset("mnist", data_dir=data_dir, log=lines.append)
    assert lines[0] == f"mnist: cache at {data_dir / 'mnist' / 'v2'} failed its checksum; rebuilding from sources"
    assert lines[-1] == f"mnist: cached at {data_dir / 'mnist' / 'v2'}"
    _assert_paired(data, labels)
