"""``imagefolder``: a folder of labelled images, one subfolder per class.

Layout (``DIR`` is ``--data-dir``, or the ``root`` parameter)::

    DIR/<class name>/**/<image>          training images (and a held-out fraction as test split)
    DIR/test/<class name>/**/<image>     optional test split (then nothing is held out)
    DIR/train/<class name>/**/<image>    also accepted, next to DIR/test/

Class names are the subfolder names, labels their sorted order. Images are
any format Pillow reads (``.png``, ``.jpg``, ``.webp``, ``.bmp``, ``.tif``...);
other files are ignored. Folders named ``test`` and ``judges`` (where
``cganzoo eval`` caches its judge classifier) and hidden folders are not
classes. Decoded images go to the core's checksummed tensor cache under
``$CGANZOO_DATA_DIR`` (default ``~/.cache/cganzoo/data``)``/imagefolder/``,
keyed by every file's path, size and modification time, by the
parameters and by the decoding rules' version, so an edited folder (or a
changed rule) is decoded afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from cganzoo import DataError, LabelledImages
from cganzoo.data import (
    DECODER_VERSION,
    ImageRef,
    ImageSplits,
    TensorCache,
    check_memory,
    check_splits,
    choose_channels,
    choose_size,
    decode,
    default_cache_dir,
    image_extensions,
    probe,
)

#: Top-level folders that are never classes.
RESERVED = frozenset({"test", "train", "judges"})
#: Judge recipe for unknown data: longer training, and a required accuracy a
#: small CNN can reach on ordinary photo or drawing classes. Missing it marks the
#: judge-based metrics unreliable in the report rather than refusing to evaluate.
JUDGE_RECIPE = {"epochs": 8, "min_test_accuracy": 0.8}
_CACHE_VERSION = 1


class ImageFolderParams(BaseModel):
    """Options of the ``imagefolder`` data set."""

    model_config = ConfigDict(extra="forbid")

    root: Path | None = Field(None, description="The folder of class subfolders (default: --data-dir).")
    channels: Literal[1, 3] | None = Field(
        None, description="1 (grayscale) or 3 (RGB); default: 1 if every image is grayscale, else 3.")
    size: int | None = Field(
        None, ge=4, le=1024,
        description="Side in pixels every image is resized to when loaded; default: the images' own size if they "
                    "all share one, else the run's --img-size.")
    test_fraction: float = Field(
        0.1, ge=0.0, lt=1.0,
        description="Share of each class held out as the test split when there is no test/ folder.")
    split_seed: int = Field(0, ge=0, description="Seeds which images are held out.")


def _class_folders(root: Path) -> list[Path]:
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name not in RESERVED),
                  key=lambda d: d.name)


def _images_in(folder: Path, extensions: frozenset[str]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _shown(extensions: frozenset[str]) -> str:
    common = [e for e in (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff") if e in extensions]
    return ", ".join(common) + ", ..."


def scan(folder: Path) -> tuple[tuple[str, ...], list[tuple[Path, int]], list[tuple[Path, int]] | None]:
    """Class names, training files with labels, and the test folder's files (None without one).

    Raises:
        DataError: no folder, no class folder, a class folder without images,
            or a test class that has no training folder.
    """
    if not folder.is_dir():
        raise DataError(f"imagefolder: {str(folder)!r} is not a directory; give a folder whose subfolders are the "
                        "classes (--data-dir DIR)")
    train_root = folder / "train" if (folder / "train").is_dir() else folder
    classes = _class_folders(train_root)
    if not classes:
        raise DataError(f"imagefolder: {str(train_root)!r} holds no class folders; put each class's images in "
                        f"{train_root}/<class name>/")
    extensions = image_extensions()
    train: list[tuple[Path, int]] = []
    for label, directory in enumerate(classes):
        files = _images_in(directory, extensions)
        if not files:
            raise DataError(f"imagefolder: class folder {str(directory)!r} holds no images (files Pillow reads: "
                            f"{_shown(extensions)}); add images or remove the folder")
        train += [(f, label) for f in files]
    names = tuple(d.name for d in classes)
    test_root = folder / "test"
    if not test_root.is_dir():
        return names, train, None
    test: list[tuple[Path, int]] = []
    for directory in _class_folders(test_root):
        if directory.name not in names:
            raise DataError(f"imagefolder: test folder {str(directory)!r} names class {directory.name!r}, which has "
                            f"no training folder; classes: {', '.join(names)}")
        test += [(f, names.index(directory.name)) for f in _images_in(directory, extensions)]
    return names, train, test


def hold_out(train: list[tuple[Path, int]], fraction: float, seed: int
             ) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """Split off ``round(fraction * n)`` images of each class, at least one, never its last one; seeded."""
    generator = torch.Generator().manual_seed(seed)
    kept, held = [], []
    labels = sorted({label for _, label in train})
    for label in labels:
        items = [item for item in train if item[1] == label]
        order = torch.randperm(len(items), generator=generator).tolist()
        n_test = min(max(1, round(fraction * len(items))) if fraction > 0 else 0, len(items) - 1)
        held += [items[i] for i in sorted(order[:n_test])]
        kept += [items[i] for i in sorted(order[n_test:])]
    return kept, held


def _fingerprint(files: list[tuple[Path, int]], folder: Path) -> list[list]:
    out = []
    for path, label in files:
        stat = path.stat()
        out.append([str(path.relative_to(folder)), label, stat.st_size, stat.st_mtime_ns])
    return out


def make_imagefolder(data_dir: Path | None = None, log: Callable[[str], None] = print, img_size: int | None = None,
                     root: Path | None = None, channels: int | None = None, size: int | None = None,
                     test_fraction: float = 0.1, split_seed: int = 0) -> LabelledImages:
    """Labelled images from a folder of class subfolders (see the module docstring for the layout).

    Returns:
        uint8 images ``(N, C, H, W)``: ``C`` from ``channels`` (default: 1 if
        every image is grayscale, else 3), ``H x W`` the images' common size,
        else ``size``, else ``img_size``; int64 labels in sorted class-name
        order; a test split from ``DIR/test`` or held out per class.

    Raises:
        DataError: no folder; no class folder; a class folder without images;
            an image that fails to decode (named); a class without training
            images; sizes that differ with no size to resize to; more memory
            than available (estimated before decoding).
    """
    chosen = root if root is not None else data_dir
    if chosen is None:
        raise DataError("imagefolder needs a folder of class subfolders: --data-dir DIR "
                        "(or --dataset-param root=DIR)")
    folder = Path(chosen).expanduser()
    names, train, test = scan(folder)
    if test is None:
        train, test = hold_out(train, test_fraction, split_seed)
    key = {"version": _CACHE_VERSION, "decoder": DECODER_VERSION, "folder": str(folder.resolve()),
           "classes": list(names),
           "channels": channels, "size": size, "img_size": img_size,
           "train": _fingerprint(train, folder), "test": _fingerprint(test, folder)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    cache = TensorCache(default_cache_dir() / "imagefolder" / digest[:16], "imagefolder", key={"sha256": digest})
    hit = cache.read(log)
    if hit is not None:
        splits = ImageSplits.from_tensors(hit[0], hit[1].get("class_names", names))
    else:
        refs = [ImageRef(str(path), path=path) for path, _ in train + test]
        headers = probe("imagefolder", refs)
        c = choose_channels([mode for mode, _ in headers], channels)
        h, w = choose_size("imagefolder", [s for _, s in headers], size, img_size)
        check_memory("imagefolder", len(refs), (c, h, w))
        log(f"imagefolder: decoding {len(refs)} images ({len(names)} classes) from {folder} as {c}x{h}x{w}")
        images = decode("imagefolder", refs, c, (h, w))
        labels = torch.tensor([label for _, label in train + test], dtype=torch.int64)
        n = len(train)
        splits = ImageSplits(images[:n], labels[:n], images[n:], labels[n:], names)
        check_splits("imagefolder", splits)
        cache.write(splits.tensors(), {"class_names": list(names), "source": str(folder)}, log)
    check_splits("imagefolder", splits)
    if splits.test_images is None or splits.test_images.shape[0] == 0:
        log("imagefolder: no test images (no test/ folder and test_fraction 0, or one image per class); "
            "cganzoo eval needs some")
        splits = ImageSplits(splits.train_images, splits.train_labels, None, None, names)
    return splits.to_labelled("imagefolder", judge_recipe=dict(JUDGE_RECIPE))
