"""Image splits as tensors, the checks every labelled data set gets, and the memory estimate.

:class:`ImageSplits` is what a data set plugin builds from whatever source it
read; :func:`check_splits` refuses, in one line each, what would make
training fail later or silently (no training image for a class, a label out
of range, an empty split, inconsistent shapes); :func:`check_memory` refuses
a split that would not fit in memory before it is decoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from cganzoo.errors import DataError
from cganzoo.interfaces import DatasetInfo, LabelledImages
from cganzoo.conditions.labels import check_labels

__all__ = ["ImageSplits", "available_memory_bytes", "check_memory", "check_splits", "format_bytes"]

#: Share of the available memory a training split may take (the rest: the models, the batches, the OS).
MEMORY_SHARE = 0.5


@dataclass(frozen=True, eq=False)
class ImageSplits:
    """A labelled image data set held as tensors.

    Attributes:
        train_images: uint8 ``(N, C, H, W)``, 0..255.
        train_labels: int64 ``(N,)`` in ``[0, len(class_names))``.
        test_images: uint8 ``(M, C, H, W)`` or None.
        test_labels: int64 ``(M,)`` or None.
        class_names: Name of each label, ``class_names[k]`` for label ``k``.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor | None
    test_labels: torch.Tensor | None
    class_names: tuple[str, ...]

    def tensors(self) -> dict[str, torch.Tensor]:
        """The tensors by name, for :class:`cganzoo.data.cache.TensorCache`."""
        out = {"train_images": self.train_images, "train_labels": self.train_labels}
        if self.test_images is not None and self.test_labels is not None:
            out.update(test_images=self.test_images, test_labels=self.test_labels)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], class_names: tuple[str, ...] | list[str]) -> ImageSplits:
        """Inverse of :meth:`tensors`.

        Raises:
            DataError: a training tensor is missing.
        """
        try:
            return cls(tensors["train_images"], tensors["train_labels"], tensors.get("test_images"),
                       tensors.get("test_labels"), tuple(class_names))
        except KeyError as err:
            raise DataError(f"cached tensors lack {err.args[0]!r}") from None

    def to_labelled(self, name: str, judge_recipe: dict[str, Any] | None = None) -> LabelledImages:
        """Wrap as the :class:`LabelledImages` a dataset factory returns."""
        info = DatasetInfo(name=name, num_classes=len(self.class_names), class_names=self.class_names,
                           shape=tuple(int(s) for s in self.train_images.shape[1:]), judge_recipe=judge_recipe)
        return LabelledImages(images=self.train_images, labels=self.train_labels, info=info,
                              test_images=self.test_images, test_labels=self.test_labels)


def check_splits(name: str, splits: ImageSplits, *, require_test: bool = False) -> None:
    """Refuse data that cannot train a conditional GAN, in one line naming the problem.

    Checks: images uint8 ``(N, C, H, W)`` with 1 or 3 channels, the same shape
    in both splits; labels int64 in ``[0, num_classes)`` (the first bad one
    named); at least one class; every class has at least one training image
    (the empty class named); no empty training split; a test split when
    ``require_test``.

    Raises:
        DataError: any of the above.
        LabelError: a label outside ``[0, num_classes)``.
    """
    num_classes = len(splits.class_names)
    if num_classes == 0:
        raise DataError(f"{name}: the data set has no classes")
    if len(set(splits.class_names)) != num_classes:
        twice = sorted({c for c in splits.class_names if splits.class_names.count(c) > 1})
        raise DataError(f"{name}: class names must be distinct; repeated: {', '.join(map(repr, twice))}")
    for split, images, labels in (("train", splits.train_images, splits.train_labels),
                                  ("test", splits.test_images, splits.test_labels)):
        if images is None or labels is None:
            if split == "train" or require_test:
                raise DataError(f"{name}: no {split} split")
            continue
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise DataError(f"{name}: {split} images must be uint8 (N, C, H, W) with C 1 or 3, got "
                            f"{images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise DataError(f"{name}: {split} split has {images.shape[0]} images but {labels.numel()} labels")
        check_labels(labels, num_classes, source=f"{name} {split} split")
    if splits.train_images.shape[0] == 0:
        raise DataError(f"{name}: the training split holds no images")
    if splits.test_images is not None and splits.test_images.shape[1:] != splits.train_images.shape[1:]:
        raise DataError(f"{name}: test images have shape {tuple(splits.test_images.shape[1:])}, training images "
                        f"{tuple(splits.train_images.shape[1:])}")
    counts = torch.bincount(splits.train_labels, minlength=num_classes)
    empty = [k for k in range(num_classes) if int(counts[k]) == 0]
    if empty:
        shown = ", ".join(f"{splits.class_names[k]!r} (label {k})" for k in empty[:5])
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise DataError(f"{name}: class {shown}{more} has no training images; a conditional GAN cannot learn a class "
                        "it never sees (add images or remove the class)")


def available_memory_bytes() -> int | None:
    """Memory the process may still use: ``MemAvailable`` of ``/proc/meminfo``, else free pages; None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check_memory(name: str, count: int, shape: tuple[int, int, int], *, available: int | None = None,
                 share: float = MEMORY_SHARE) -> int:
    """Refuse, before decoding, a data set whose uint8 tensors would not fit in memory.

    Args:
        name: Data set name (for the message).
        count: Images to hold (training and test splits together).
        shape: ``(C, H, W)`` of each image as held.
        available: Bytes available (default :func:`available_memory_bytes`).
        share: Largest share of ``available`` the images may take (the models,
            the float batches and a resized copy need the rest).

    Returns:
        The estimated size in bytes (``count * C * H * W``).

    Raises:
        DataError: the estimate exceeds ``share * available``; the message
            gives the size, the limit and what to do.
    """
    c, h, w = shape
    need = int(count) * int(c) * int(h) * int(w)
    available = available_memory_bytes() if available is None else available
    if available is not None and need > share * available:
        raise DataError(
            f"{name}: {count} images of {c}x{h}x{w} need {format_bytes(need)} as uint8, more than "
            f"{share:.0%} of the {format_bytes(available)} of memory available ({format_bytes(share * available)}); "
            "lower the size (--dataset-param size=N or --img-size), use fewer images, or free memory"
        )
    return need
