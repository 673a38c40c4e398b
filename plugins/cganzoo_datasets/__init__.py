"""Built-in data sets, each a few lines on top of the core data layer (:mod:`cganzoo.data`).

``mnist`` (:mod:`cganzoo_datasets.mnist`), ``fashion-mnist``
(:mod:`cganzoo_datasets.fashion_mnist`), ``imagefolder``
(:mod:`cganzoo_datasets.imagefolder`), ``hf`` and the hub presets ``cifar10``,
``cifar100`` (:mod:`cganzoo_datasets.hf`). ``docs/datasets.md`` describes each.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_datasets.fashion_mnist import make_fashion_mnist
from cganzoo_datasets.hf import PRESETS, HfParams, PresetParams, make_hf, preset_factory
from cganzoo_datasets.imagefolder import ImageFolderParams, make_imagefolder
from cganzoo_datasets.mnist import make_mnist


@hookimpl
def register_datasets(register):
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
