"""The data layer every data set shares: sources, verification, a checksummed tensor cache, batches.

A data set plugin (MNIST's included: ``plugins/cganzoo_datasets``) lists its
:class:`Source` objects and hands them to :func:`first_verified` with its
verification; stores what it read in a :class:`TensorCache` (one safetensors
file, sha256-checked, written atomically); decodes image files with
:mod:`cganzoo.data.decode`; refuses bad data with :func:`check_splits` and
oversized data with :func:`check_memory`; and returns
:meth:`ImageSplits.to_labelled`. The core then resizes once
(:func:`resize_images`) and serves shuffled batches (:class:`EpochBatches`).
``docs/datasets.md`` shows a plugin built on these in a few lines.

May import: :mod:`cganzoo.interfaces`, :mod:`cganzoo.conditions`, :mod:`cganzoo.io`,
:mod:`cganzoo.errors`. A data set's specifics live in its plugin, not here.
"""

from cganzoo.data.batches import EpochBatches, epoch_permutation, resize_images, to_unit_range
from cganzoo.data.cache import TensorCache, default_cache_dir, one_line
from cganzoo.data.idx import idx_bytes, read_idx
from cganzoo.data.decode import DECODER_VERSION, ImageRef, choose_channels, choose_size, decode, image_extensions, probe
from cganzoo.data.sources import Source, first_verified
from cganzoo.data.splits import ImageSplits, available_memory_bytes, check_memory, check_splits, format_bytes

__all__ = [
    "DECODER_VERSION",
    "EpochBatches",
    "ImageRef",
    "ImageSplits",
    "Source",
    "TensorCache",
    "available_memory_bytes",
    "check_memory",
    "check_splits",
    "choose_channels",
    "choose_size",
    "decode",
    "default_cache_dir",
    "epoch_permutation",
    "first_verified",
    "format_bytes",
    "idx_bytes",
    "image_extensions",
    "one_line",
    "probe",
    "read_idx",
    "resize_images",
    "to_unit_range",
]
