from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from cganzoo.data.batches import EpochBatches, epoch_permutation, resize_images, to_unit_range
from toy_plugin import decode, encode


def test_resize_matches_the_reference_pil_pipeline_within_one_grey_level():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8, generator=gen)
    ours = resize_images(images, 32)
    assert ours.dtype == torch.uint8 and ours.shape == (16, 1, 32, 32)
    ref = torch.stack([
        torch.from_numpy(np.array(transforms.Resize(32)(Image.fromarray(img[0].numpy(), mode="L"))))
        for img in images
    ]).unsqueeze(1)
    diff = (ours.int() - ref.int()).abs()
    assert diff.max() <= 1
    assert (diff > 0).float().mean() < 0.05


def test_unit_range_equals_totensor_then_normalize():
    x = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    ref = transforms.Normalize([0.5], [0.5])(x[0].float() / 255)
    assert torch.allclose(to_unit_range(x)[0], ref, atol=1e-6)
    assert to_unit_range(x).min() == -1 and to_unit_range(x).max() == 1


def test_permutation_is_a_pure_function_of_seed_and_epoch():
    a = epoch_permutation(100, seed=3, epoch=5)
    assert torch.equal(a, epoch_permutation(100, seed=3, epoch=5))
    assert not torch.equal(a, epoch_permutation(100, seed=3, epoch=6))
    assert not torch.equal(a, epoch_permutation(100, seed=4, epoch=5))
    assert torch.equal(a.sort().values, torch.arange(100))


def test_images_and_labels_stay_paired_through_resize_and_shuffle():
    labels = torch.arange(200) % 10
    images = resize_images(encode(labels), 32)
    assert torch.equal(decode(images), labels)
    batches = EpochBatches(images, labels, batch_size=32, seed=0)
    seen = 0
    for x, y in batches.epoch(0):
        assert torch.equal(decode(x), y)
        seen += y.numel()
    assert seen == 192  # drop_last: 6 full batches of 32


def test_drop_last_and_resume_position():
    labels = torch.arange(10)
    images = torch.zeros(10, 1, 8, 8, dtype=torch.uint8)
    assert len(EpochBatches(images, labels, 4, 0)) == 2
    keep = EpochBatches(images, labels, 4, 0, drop_last=False)
    assert len(keep) == 3 and [y.numel() for _, y in keep.epoch(0)] == [4, 4, 2]
    full = [y for _, y in keep.epoch(1)]
    tail = [y for _, y in keep.epoch(1, start=1)]
    assert all(torch.equal(a, b) for a, b in zip(full[1:], tail))
    with pytest.raises(ValueError, match="batch_size 11 is larger than the data set"):
        EpochBatches(images, labels, 11, 0)
