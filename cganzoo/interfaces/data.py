"""What a data set plugin returns: :class:`DatasetInfo` and :class:`LabelledImages` (``register_datasets``).

Contracts only. :class:`LabelledImages` validates the labels it is given
(:func:`cganzoo.conditions.labels.check_labels`), so a bad label is refused
where it enters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cganzoo.conditions.labels import check_labels



@dataclass(frozen=True)
class DatasetInfo:
    """What the core needs to know about a labelled image data set.

    Attributes:
        name: Registered name, e.g. ``"mnist"``.
        num_classes: Number of classes; labels lie in ``[0, num_classes)``.
        class_names: One human-readable name per class, index = label
            (e.g. MNIST's ``("zero", ..., "nine")``).
        shape: Native image shape ``(C, H, W)`` before any resizing.
        judge_recipe: Overrides of :class:`cganzoo.evaluation.judge.JudgeRecipe`
            fields suited to this data (e.g. a lower ``min_test_accuracy`` for
            Fashion-MNIST, more epochs for colour photos); None for the defaults,
            which are MNIST's.
    """

    name: str
    num_classes: int
    class_names: tuple[str, ...]
    shape: tuple[int, int, int]
    judge_recipe: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"DatasetInfo {self.name!r}: {len(self.class_names)} class names "
                f"for num_classes={self.num_classes}"
            )


@dataclass(frozen=True)
class LabelledImages:
    """A data set held in memory as tensors.

    What a ``register_datasets`` factory returns. Resizing to the run's image
    size, scaling to ``[-1, 1]`` and shuffling are the core's job, not the
    data set's.

    Attributes:
        images: uint8 tensor ``(N, C, H, W)``, values in ``[0, 255]``.
        labels: ``(N,)`` labels in ``[0, info.num_classes)``, of any integer
            dtype; stored as int64 (a ``uint8`` tensor is cast).
        info: The data set's :class:`DatasetInfo`.
        test_images: Optional held-out split, uint8 ``(M, C, H, W)``.
        test_labels: Optional ``(M,)`` labels of the held-out split, any integer dtype, stored as int64.

    Raises:
        LabelError: labels of a floating-point or bool dtype, or outside
            ``[0, info.num_classes)`` (one line naming the split, label and position).
        ValueError: images not uint8 ``(N, C, H, W)`` of ``info.shape``, or counts that differ.
    """

    images: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo
    test_images: torch.Tensor | None = field(default=None, repr=False)
    test_labels: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for split, images, labels in (
            ("train", self.images, self.labels),
            ("test", self.test_images, self.test_labels),
        ):
            if images is None and labels is None:
                continue
            if images is None or labels is None:
                raise ValueError(f"{self.info.name}: {split} split has images or labels, not both")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise ValueError(
                    f"{self.info.name}: {split} images must be uint8 (N, C, H, W), "
                    f"got {images.dtype} {tuple(images.shape)}"
                )
            if tuple(images.shape[1:]) != self.info.shape:
                raise ValueError(
                    f"{self.info.name}: {split} images have shape {tuple(images.shape[1:])}, "
                    f"DatasetInfo says {self.info.shape}"
                )
            if labels.shape != (images.shape[0],):
                raise ValueError(
                    f"{self.info.name}: {split} has {images.shape[0]} images but labels of "
                    f"shape {tuple(labels.shape)}"
                )
            # Any integer dtype is accepted (a plugin's uint8 labels, say) and stored as int64, the dtype
            # every loss, embedding and one-hot code expects; floats are refused, never rounded.
            labels = check_labels(labels, self.info.num_classes, source=f"{self.info.name} {split} split")
            object.__setattr__(self, "labels" if split == "train" else "test_labels", labels)
