"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 70,000 1x28x28 images of 10 clothing classes.

Sources, in order, after the core's checksummed cache (``<cache>/fashion-mnist/v1``):

1. the four IDX files placed by hand in ``data_dir`` (or ``data_dir/FashionMNIST/raw``,
   ``data_dir/raw``, torchvision's layouts), gzipped or not;
2. the Hugging Face hub, ``zalando-datasets/fashion_mnist``;
3. the official download location, the ``.gz`` files of
   https://github.com/zalandoresearch/fashion-mnist (``fashion-mnist.s3-website...``).

Every source is verified by the md5 of the *decompressed* IDX files (from
torchvision's ``FashionMNIST`` resources), so a re-compressed copy passes.
Class names are the data set's documentation's, in label order.
"""

from __future__ import annotations

import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cganzoo import DataError, LabelledImages
from cganzoo.data import Source, check_splits, default_cache_dir, one_line, read_idx
from cganzoo_datasets.idx_sets import (
    IDX_NAMES,
    Fetched,
    IdxSet,
    fetch_from_hub,
    load_idx_set,
    no_source_message,
    probe_hub,
    read_hand_placed,
    splits_of,
)

CLASS_NAMES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                                "Bag", "Ankle boot")
"""Class names of labels 0..9, from the data set's README."""

EXPECTED_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
HUB_REPO = "zalando-datasets/fashion_mnist"
DOWNLOAD_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_DOWNLOAD_TIMEOUT_S = 60.0
#: A small CNN reaches about 0.91 on Fashion-MNIST (MNIST's 0.99 is out of reach); measured in docs/datasets.md.
JUDGE_RECIPE = {"epochs": 6, "min_test_accuracy": 0.88}

SPEC = IdxSet(name="fashion-mnist", title="Fashion-MNIST", raw_dirs=("FashionMNIST/raw", "raw"), cache_version="v1")


def fetch_from_url(base_url: str = DOWNLOAD_URL, timeout_s: float = _DOWNLOAD_TIMEOUT_S) -> Fetched:
    """Download the four ``.gz`` files from ``base_url`` (any URL urllib opens, ``file://`` included)."""
    arrays, origins = {}, {}
    with tempfile.TemporaryDirectory(prefix="cganzoo-fashion-") as temp:
        for name in IDX_NAMES:
            url = f"{base_url.rstrip('/')}/{name}.gz"
            target = Path(temp) / f"{name}.gz"
            try:
                with urllib.request.urlopen(url, timeout=timeout_s) as response, open(target, "wb") as out:
                    while block := response.read(1 << 20):
                        out.write(block)
            except Exception as err:
                raise DataError(f"cannot download {url}: {one_line(err)}") from err
            arrays[name], origins[name] = read_idx(target), url
    return arrays, origins


def load_fashion_mnist(data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                       log: Callable[[str], None] = print, base_url: str = DOWNLOAD_URL):
    """Fashion-MNIST from the cache or the first source whose files pass the md5 sums.

    Args:
        data_dir: Where hand-placed IDX files are looked for (default: the cache root).
        cache_dir: Root of the data cache (default :func:`cganzoo.data.default_cache_dir`).
        log: One-line progress and failure messages.
        base_url: The official download location (replaceable for a mirror).

    Returns:
        :class:`cganzoo.data.ImageSplits`: uint8 ``(60000, 1, 28, 28)`` and
        ``(10000, 1, 28, 28)`` images, int64 labels 0..9, :data:`CLASS_NAMES`.

    Raises:
        DataError: no source yielded the verified files; the message says which
            files to put where.
    """
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    search_root = Path(data_dir).expanduser() if data_dir is not None else cache_root
    sources = [
        Source(f"hand-placed files in {search_root}", lambda: read_hand_placed(search_root, SPEC.raw_dirs)),
        Source(f"hub {HUB_REPO}", lambda: fetch_from_hub(HUB_REPO, lambda: probe_hub(HUB_REPO))),
        Source(f"download from {base_url}", lambda: fetch_from_url(base_url)),
    ]
    arrays = load_idx_set(SPEC, sources, lambda: EXPECTED_MD5, cache_root, CLASS_NAMES, log,
                          advice=lambda failures: no_source_message(SPEC, search_root, failures,
                                                                    "load_fashion_mnist"))
    return splits_of(arrays, CLASS_NAMES)


def make_fashion_mnist(data_dir: Path | None = None, log: Callable[[str], None] = print) -> LabelledImages:
    """Fashion-MNIST: 60,000 training and 10,000 test images, 1x28x28 uint8, 10 clothing classes.

    Sources, in order: the cache and IDX files placed by hand in ``data_dir``;
    the Hugging Face hub (``zalando-datasets/fashion_mnist``); the official
    download location. Verified by the md5 of the decompressed IDX files.

    Raises:
        DataError: every source failed (the message says which files to put where).
    """
    splits = load_fashion_mnist(data_dir=data_dir, cache_dir=data_dir, log=log)
    check_splits("fashion-mnist", splits, require_test=True)
    return splits.to_labelled("fashion-mnist", judge_recipe=dict(JUDGE_RECIPE))


__all__ = ["CLASS_NAMES", "EXPECTED_MD5", "load_fashion_mnist", "make_fashion_mnist"]
