"""``hf``: any Hugging Face data set with an image column and a class-label column; ``cifar10``, ``cifar100``.

Where the data comes from (the ``path`` parameter, default ``--data-dir``):

* a directory written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``
  (read with ``datasets.load_from_disk``);
* a ``.parquet`` or ``.arrow`` file, or a directory of data files that
  ``datasets.load_dataset(DIR)`` understands (parquet, arrow, csv with image
  paths, an image folder...);
* otherwise a hub id such as ``uoft-cs/cifar10`` (``datasets.load_dataset``,
  which needs a network the first time and then reads the Hugging Face cache).

Columns are detected from the features: the one ``datasets.Image`` column and
the one ``datasets.ClassLabel`` column, whose names become the class names.
Name them with ``image_column`` / ``label_column`` when there are several or
the labels are plain integers. The test split is the ``test_split`` split if
the data set has one, else a held-out fraction of each class. Images are
decoded with Pillow (every row's bytes, so a corrupt one is named) and cached
in the core's checksummed tensor cache under ``$CGANZOO_DATA_DIR``
(default ``~/.cache/cganzoo/data``)``/hf/``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
    one_line,
    probe,
)

#: Judge recipe for data the project knows nothing about (see imagefolder.JUDGE_RECIPE).
JUDGE_RECIPE = {"epochs": 8, "min_test_accuracy": 0.8}
_CACHE_VERSION = 1
_HUB_PROBE_TIMEOUT_S = 10.0


class HfParams(BaseModel):
    """Options of the ``hf`` data set."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="Hub id (owner/name) or local path: a save_to_disk directory, a "
                                               ".parquet/.arrow file, or a directory of data files "
                                               "(default: --data-dir).")
    name: str | None = Field(None, description="Configuration name of a hub data set, if it has several.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    image_column: str | None = Field(None, description="Column of images (default: the one Image feature).")
    label_column: str | None = Field(None, description="Column of class labels (default: the one ClassLabel feature).")
    train_split: str = Field("train", description="Split to train on.")
    test_split: str = Field("test", description="Split to evaluate on; when absent, test_fraction is held out.")
    channels: Literal[1, 3] | None = Field(None, description="1 or 3; default: 1 if every image is grayscale, else 3.")
    size: int | None = Field(None, ge=4, le=1024, description="Side in pixels to resize to when loaded; default: "
                                                              "the common size, else the run's --img-size.")
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of each class held out when there is "
                                                                 "no test split.")
    split_seed: int = Field(0, ge=0, description="Seeds which images are held out.")


def _describe(features: Any) -> str:
    parts = []
    for column, feature in features.items():
        kind = type(feature).__name__
        if kind == "Value":
            kind = f"Value {feature.dtype}"
        parts.append(f"{column} ({kind})")
    return ", ".join(parts) or "none"


def _looks_saved(path: Path) -> bool:
    return path.is_dir() and any((path / f).is_file() for f in ("dataset_dict.json", "state.json"))


def is_local_copy(path: Path) -> bool:
    """Whether ``path`` holds a data set :func:`open_dataset` reads locally."""
    if _looks_saved(path):
        return True
    if path.is_file():
        return path.suffix in (".parquet", ".arrow")
    if not path.is_dir():
        return False
    return any(path.rglob("*.parquet")) or any(path.rglob("*.arrow"))


def open_dataset(path: str, name: str | None = None, revision: str | None = None, dataset: str = "hf"
                 ) -> tuple[Any, str]:
    """Open ``path`` as a ``datasets.DatasetDict`` and say where it came from.

    Raises:
        DataError: it cannot be opened (one line with the reason).
    """
    import datasets

    local = Path(path).expanduser()
    builder_cache = str(default_cache_dir() / "hf" / "builder")
    # datasets' own progress bars would interleave with cganzoo's lines.
    was_enabled = datasets.utils.logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        if _looks_saved(local):
            opened, origin = datasets.load_from_disk(str(local)), f"save_to_disk copy {local}"
        elif local.is_file():
            builder = {".parquet": "parquet", ".arrow": "arrow"}.get(local.suffix)
            if builder is None:
                raise DataError(f"{local} is a {local.suffix or 'suffix-less'} file; give a .parquet or .arrow file, "
                                "a save_to_disk directory or a hub id")
            opened = datasets.load_dataset(builder, data_files=str(local), cache_dir=builder_cache)
            origin = f"{builder} file {local}"
        elif local.is_dir():
            opened, origin = datasets.load_dataset(str(local), cache_dir=builder_cache), f"data files in {local}"
        else:
            from huggingface_hub import HfApi, constants

            if not constants.HF_HUB_OFFLINE:  # fail in seconds, not after load_dataset's retries
                HfApi().dataset_info(path, revision=revision, timeout=_HUB_PROBE_TIMEOUT_S)
            opened, origin = datasets.load_dataset(path, name, revision=revision), f"hub {path}"
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"{dataset}: cannot open {path!r}: {one_line(err)}") from err
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    if isinstance(opened, datasets.Dataset):
        opened = datasets.DatasetDict({"train": opened})
    return opened, origin


def pick_columns(features: Any, image_column: str | None, label_column: str | None, where: str
                 ) -> tuple[str, str]:
    """The image and label columns, named or detected from the feature types.

    Raises:
        DataError: a named column does not exist or has the wrong type; none or
            several candidates; the message lists the columns that exist.
    """
    import datasets

    columns = _describe(features)

    def choose(explicit: str | None, kind: type, what: str, param: str) -> str:
        if explicit is not None:
            if explicit not in features:
                raise DataError(f"hf: {where} has no column {explicit!r}; columns: {columns}")
            return explicit
        found = [c for c, f in features.items() if isinstance(f, kind)]
        if len(found) != 1:
            problem = f"no {what} column" if not found else f"{len(found)} {what} columns ({', '.join(found)})"
            raise DataError(f"hf: {where} has {problem}; columns: {columns}; name one with "
                            f"--dataset-param {param}=NAME")
        return found[0]

    image = choose(image_column, datasets.Image, "image (Image feature)", "image_column")
    label = choose(label_column, datasets.ClassLabel, "class-label (ClassLabel feature)", "label_column")
    if not isinstance(features[image], datasets.Image):
        raise DataError(f"hf: column {image!r} of {where} holds {_describe({image: features[image]})}, not images; "
                        f"columns: {columns}")
    label_feature = features[label]
    if not isinstance(label_feature, datasets.ClassLabel) and not (
            type(label_feature).__name__ == "Value" and "int" in str(label_feature.dtype)):
        raise DataError(f"hf: column {label!r} of {where} holds {_describe({label: label_feature})}, not integer "
                        f"class labels; columns: {columns}")
    return image, label


def _refs(split: Any, column: str, name: str, where: str) -> list[ImageRef]:
    import datasets

    raw = split.cast_column(column, datasets.Image(decode=False))[column]
    refs = []
    for i, item in enumerate(raw):
        origin = f"{name} row {i} of {where}"
        if item is None:
            raise DataError(f"hf: {origin} has no image")
        data, path = item.get("bytes"), item.get("path")
        refs.append(ImageRef(origin, path=Path(path) if data is None and path else None, data=data))
        if data is None and not path:
            raise DataError(f"hf: {origin} has neither bytes nor a path")
    return refs


@dataclass(frozen=True)
class Expected:
    """What a named preset must hold (checked after loading)."""

    train: int
    test: int
    shape: tuple[int, int, int]
    num_classes: int


def load_hf(dataset: str, path: str, *, log: Callable[[str], None], img_size: int | None = None,
            name: str | None = None, revision: str | None = None, image_column: str | None = None,
            label_column: str | None = None, train_split: str = "train", test_split: str = "test",
            channels: int | None = None, size: int | None = None, test_fraction: float = 0.1, split_seed: int = 0,
            expected: Expected | None = None) -> ImageSplits:
    """Open, pick columns, split, decode, check and cache (see the module docstring).

    Raises:
        DataError: see :func:`open_dataset`, :func:`pick_columns`; a missing
            training split; an image that fails to decode; a class without
            training images; more memory than available; a preset whose split
            sizes, shape or class count differ from ``expected``.
    """
    opened, origin = open_dataset(path, name, revision, dataset)
    if train_split not in opened:
        raise DataError(f"{dataset}: {origin} has no split {train_split!r}; splits: {', '.join(opened)} "
                        "(choose with --dataset-param train_split=NAME)")
    train = opened[train_split]
    image_col, label_col = pick_columns(train.features, image_column, label_column, origin)
    label_feature = train.features[label_col]
    if hasattr(label_feature, "names"):
        class_names = tuple(str(n) for n in label_feature.names)
    else:
        top = max(train[label_col], default=-1)
        class_names = tuple(str(k) for k in range(int(top) + 1))
    test = opened[test_split] if test_split in opened else None
    fingerprints = {s: getattr(opened[s], "_fingerprint", None) for s in opened}
    key = {"version": _CACHE_VERSION, "decoder": DECODER_VERSION, "origin": origin, "fingerprints": fingerprints,
           "columns": [image_col, label_col],
           "splits": [train_split, test_split if test is not None else None], "channels": channels, "size": size,
           "img_size": img_size, "test_fraction": test_fraction, "split_seed": split_seed}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    cache = TensorCache(default_cache_dir() / "hf" / digest[:16], dataset, key={"sha256": digest})
    hit = cache.read(log) if all(fingerprints.values()) else None
    if hit is not None:
        splits = ImageSplits.from_tensors(hit[0], hit[1].get("class_names", class_names))
    else:
        train_labels = torch.tensor(train[label_col], dtype=torch.int64)
        train_refs = _refs(train, image_col, train_split, origin)
        if test is not None:
            if image_col not in test.features or label_col not in test.features:
                raise DataError(f"{dataset}: split {test_split!r} of {origin} lacks column {image_col!r} or "
                                f"{label_col!r}; columns: {_describe(test.features)}")
            test_labels = torch.tensor(test[label_col], dtype=torch.int64)
            test_refs = _refs(test, image_col, test_split, origin)
        else:
            generator = torch.Generator().manual_seed(split_seed)
            held = []
            for label in torch.unique(train_labels).tolist():
                rows = (train_labels == label).nonzero().flatten()
                n_test = min(max(1, round(test_fraction * rows.numel())) if test_fraction > 0 else 0,
                             rows.numel() - 1)
                held += rows[torch.randperm(rows.numel(), generator=generator)[:n_test]].tolist()
            held_set = set(held)
            keep = [i for i in range(len(train_refs)) if i not in held_set]
            held = sorted(held)
            test_refs, test_labels = [train_refs[i] for i in held], train_labels[held]
            train_refs, train_labels = [train_refs[i] for i in keep], train_labels[keep]
        refs = train_refs + test_refs
        headers = probe(dataset, refs)
        c = choose_channels([mode for mode, _ in headers], channels)
        h, w = choose_size(dataset, [s for _, s in headers], size, img_size)
        check_memory(dataset, len(refs), (c, h, w))
        log(f"{dataset}: decoding {len(refs)} images ({len(class_names)} classes) from {origin} as {c}x{h}x{w}")
        images = decode(dataset, refs, c, (h, w))
        n = len(train_refs)
        splits = ImageSplits(images[:n], train_labels, images[n:], test_labels, class_names)
        check_splits(dataset, splits)
        if all(fingerprints.values()):
            cache.write(splits.tensors(), {"class_names": list(class_names), "source": origin}, log)
    check_splits(dataset, splits)
    if expected is not None:
        found = {"train": int(splits.train_images.shape[0]),
                 "test": 0 if splits.test_images is None else int(splits.test_images.shape[0]),
                 "shape": tuple(int(s) for s in splits.train_images.shape[1:]), "num_classes": len(class_names)}
        want = {"train": expected.train, "test": expected.test, "shape": expected.shape,
                "num_classes": expected.num_classes}
        wrong = [f"{k} {found[k]} (expected {want[k]})" for k in want if found[k] != want[k]]
        if wrong:
            raise DataError(f"{dataset}: {origin} is not the expected data: {'; '.join(wrong)}")
    if splits.test_images is not None and splits.test_images.shape[0] == 0:
        log(f"{dataset}: no test images (no {test_split!r} split and nothing held out); cganzoo eval needs some")
        splits = ImageSplits(splits.train_images, splits.train_labels, None, None, class_names)
    return splits


def make_hf(data_dir: Path | None = None, log: Callable[[str], None] = print, img_size: int | None = None,
            path: str | None = None, **params: Any) -> LabelledImages:
    """Any Hugging Face data set with an image and a class-label column (see the module docstring).

    Returns:
        uint8 images ``(N, C, H, W)``, int64 labels, the ``ClassLabel`` names as class names.

    Raises:
        DataError: no path; see :func:`load_hf`.
    """
    source = path if path is not None else (str(data_dir) if data_dir is not None else None)
    if source is None:
        raise DataError("hf needs a data set: --dataset-param path=OWNER/NAME (hub) or path=DIR, or --data-dir DIR "
                        "(a save_to_disk directory or parquet/arrow files)")
    splits = load_hf("hf", source, log=log, img_size=img_size, **params)
    return splits.to_labelled("hf", judge_recipe=dict(JUDGE_RECIPE))


@dataclass(frozen=True)
class Preset:
    """A hub data set known by name: where it is, its columns, what it must hold, its judge."""

    name: str
    hub_id: str
    image_column: str
    label_column: str
    expected: Expected
    judge_recipe: dict[str, Any]
    description: str


PRESETS = (
    Preset("cifar10", "uoft-cs/cifar10", "img", "label", Expected(50000, 10000, (3, 32, 32), 10),
           {"channels": (32, 64), "features": 256, "epochs": 10, "min_test_accuracy": 0.65},
           "CIFAR-10 (Krizhevsky 2009) from the hub, 50k train / 10k test, 3x32x32, 10 classes"),
    Preset("cifar100", "uoft-cs/cifar100", "img", "fine_label", Expected(50000, 10000, (3, 32, 32), 100),
           {"channels": (32, 64), "features": 256, "epochs": 10, "min_test_accuracy": 0.3},
           "CIFAR-100 (Krizhevsky 2009) fine labels from the hub, 50k train / 10k test, 3x32x32, 100 classes"),
)


class PresetParams(BaseModel):
    """Options of a named hub preset."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="A local copy (save_to_disk directory or parquet/arrow files) to use "
                                               "instead of the hub; default: --data-dir if it holds one, else the hub.")


def preset_factory(preset: Preset) -> Callable[..., LabelledImages]:
    """The dataset factory of ``preset``: the hub (or a local copy), then the expected counts checked."""

    def make(data_dir: Path | None = None, log: Callable[[str], None] = print, img_size: int | None = None,
             path: str | None = None) -> LabelledImages:
        source = path
        if source is None and data_dir is not None and is_local_copy(Path(data_dir)):
            source = str(data_dir)
        splits = load_hf(preset.name, source or preset.hub_id, log=log, img_size=img_size,
                         image_column=preset.image_column, label_column=preset.label_column,
                         expected=preset.expected)
        return splits.to_labelled(preset.name, judge_recipe=dict(preset.judge_recipe))

    make.__doc__ = f"{preset.description}; sizes, shape and class count checked on load."
    return make
