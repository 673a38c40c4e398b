"""Training batches from tensors held in memory: no per-sample work in the loop.

The reference pipeline runs every image through PIL ``Resize``, ``ToTensor``
and ``Normalize`` on every epoch. Here a split is resized once (uint8 in,
uint8 out, like PIL), kept resident on the training device, and each batch is
a gather plus one fused scale to ``[-1, 1]``.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

#: Mixed into the run seed for the per-epoch shuffle, so it never shares a
#: stream with the noise generator.
_SHUFFLE_STREAM = 0x5EED_5_0FF1E


def resize_images(images: torch.Tensor, img_size: int) -> torch.Tensor:
    """Resize uint8 images once, the way the reference's ``transforms.Resize`` does.

    Bilinear interpolation with antialiasing on the uint8 tensor, rounded back
    to uint8: torchvision's tensor resize is written to match PIL's
    ``Image.resize(BILINEAR)``, which the reference applies per sample
    (``transforms.Resize(img_size)`` on a PIL image). For MNIST 28 -> 32 the
    results agree with PIL to within one grey level on a few pixels (see
    ``tests/data/test_batches.py``).

    Args:
        images: uint8 ``(N, C, H, W)``.
        img_size: Output height and width in pixels.

    Returns:
        uint8 ``(N, C, img_size, img_size)`` (the input itself if already that size).
    """
    if images.shape[-2:] == (img_size, img_size):
        return images
    out = []
    for chunk in images.split(8192):  # bounds the float workspace of large sets
        out.append(TF.resize(chunk, [img_size, img_size], interpolation=InterpolationMode.BILINEAR, antialias=True))
    return torch.cat(out)


def to_unit_range(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]``: ``x / 127.5 - 1``.

    Equal to the reference's ``Normalize([0.5], [0.5])(ToTensor()(img))``,
    i.e. ``(x / 255 - 0.5) / 0.5``, up to float rounding.
    """
    return images.to(dtype).div_(127.5).sub_(1.0)


def epoch_permutation(num_items: int, seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The shuffle order of one epoch, a pure function of ``(seed, epoch)``.

    Deriving it afresh for each epoch (instead of carrying one generator's state
    across epochs) makes resuming mid-epoch exact: the position in the epoch
    is all a checkpoint needs.

    Returns:
        int64 ``(num_items,)`` permutation on ``device``.
    """
    gen = torch.Generator(device="cpu").manual_seed((seed * 1_000_003 + _SHUFFLE_STREAM + epoch) % 2**63)
    return torch.randperm(num_items, generator=gen).to(device)


class EpochBatches:
    """Shuffled ``(x, y)`` batches from device-resident uint8 images.

    Images and labels are indexed with the same permutation, so pairs never
    separate.

    Args:
        images: uint8 ``(N, C, H, W)``, already at the training size.
        labels: int64 ``(N,)``.
        batch_size: Images per batch.
        seed: Run seed; the shuffle of epoch ``e`` is ``epoch_permutation(N, seed, e)``.
        drop_last: Skip the epoch's last incomplete batch (default: yes; a
            batch of one breaks BatchNorm in training mode).
        device: Where batches live (the data is moved there once).
        dtype: Floating dtype of the returned images.
        min_batch: With ``drop_last=False``, a last batch smaller than this
            is skipped anyway (2 for models with BatchNorm, which cannot
            normalise a batch of one in training mode); see :attr:`skipped_tail`.
        batches_per_step: Batches a training step takes (``d_steps_per_g_step``,
            one per D update): each item yielded is that many consecutive
            batches of the epoch, concatenated; an epoch's last incomplete
            group is skipped.

    Raises:
        ValueError: ``batch_size`` exceeds the data set with ``drop_last``, or
            images and labels disagree in length.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int,
                 drop_last: bool = True, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, min_batch: int = 1, batches_per_step: int = 1) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        if drop_last and batch_size > images.shape[0]:
            raise ValueError(
                f"batch_size {batch_size} is larger than the data set ({images.shape[0]} images); "
                f"use a batch size of at most {images.shape[0]}"
            )
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size, self.seed, self.drop_last, self.dtype = batch_size, seed, drop_last, dtype
        self.min_batch = min_batch
        self.batches_per_step = batches_per_step

    @property
    def skipped_tail(self) -> int:
        """Images of each epoch that no batch holds (the dropped last batch or group), 0 if none."""
        n = self.images.shape[0]
        return n - min(n, len(self) * self.batch_size * self.batches_per_step)

    def __len__(self) -> int:
        """Training steps per epoch (batches, or groups of ``batches_per_step`` batches)."""
        n = self.images.shape[0]
        if self.batches_per_step > 1:
            return n // (self.batch_size * self.batches_per_step)
        tail = n % self.batch_size
        if self.drop_last or 0 < tail < self.min_batch:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def epoch(self, epoch: int, start: int = 0):
        """Yield the batches of ``epoch`` from batch index ``start`` on.

        Yields:
            ``(x, y)``: float ``(k * B, C, H, W)`` in ``[-1, 1]`` and int64 ``(k * B,)``,
            ``k = batches_per_step`` (1 unless the step makes several D updates).
        """
        perm = epoch_permutation(self.images.shape[0], self.seed, epoch, self.device)
        k = self.batches_per_step
        for i in range(start, len(self)):
            if k == 1:
                idx = perm[self.batch_slice(i)]
            else:
                idx = torch.cat([perm[self.batch_slice(i * k + j)] for j in range(k)])
            yield to_unit_range(self.images[idx], self.dtype), self.labels[idx]

    def batch_slice(self, i: int) -> slice:
        """Positions of batch ``i`` in the epoch's permutation."""
        return slice(i * self.batch_size, (i + 1) * self.batch_size)
