"""What MNIST and Fashion-MNIST share: four IDX files, verified by the md5 of their uncompressed bytes.

Whatever the source (hand-placed files, gzipped or not; a hub data set; a
download), each of the four arrays is re-encoded as an uncompressed IDX file
(:func:`cganzoo.data.idx.idx_bytes`) and its md5 compared with the md5 of the
original file, so every source yields the very same bytes and re-compressed
copies pass. Verified data goes to the core's checksummed tensor cache
(:class:`cganzoo.data.cache.TensorCache`), re-verified against the md5 sums on
every load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cganzoo import DataError
from cganzoo.data import ImageSplits, Source, TensorCache, first_verified, idx_bytes, one_line, read_idx

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
#: Split name -> (images file, labels file).
SPLITS = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}

Arrays = dict[str, np.ndarray]  # IDX file name -> uint8 array
Fetched = tuple[Arrays, dict[str, str]]  # arrays, and how to name each in an error


@dataclass(frozen=True)
class IdxSet:
    """One IDX-distributed data set.

    Attributes:
        name: Registered name and log prefix (``"mnist"``).
        title: Human name (``"MNIST"``).
        raw_dirs: Subdirectories of ``data_dir`` also searched (torchvision's layouts).
        cache_version: Directory name of the cache entry under ``<cache>/<name>/``.
    """

    name: str
    title: str
    raw_dirs: tuple[str, ...]
    cache_version: str


def verify(arrays: Arrays, origins: Mapping[str, str], expected_md5: Mapping[str, str]) -> None:
    """Raise DataError unless each array re-encodes to the original file's md5.

    Args:
        arrays: IDX file name -> array (uint8 for a match).
        origins: IDX file name -> how to name that array in an error message.
        expected_md5: IDX file name -> md5 of the uncompressed original.
    """
    for name, expected in expected_md5.items():
        digest = hashlib.md5(idx_bytes(arrays[name])).hexdigest()
        if digest != expected:
            raise DataError(
                f"{origins[name]} failed its checksum: its uncompressed IDX encoding has md5 {digest}, "
                f"expected {expected} (shape {arrays[name].shape}, dtype {arrays[name].dtype})"
            )


def read_hand_placed(root: Path, raw_dirs: Sequence[str]) -> Fetched:
    """Read the four IDX files (each optionally ``.gz``) from ``root`` or one of its ``raw_dirs``."""
    directories = (root, *(root / sub for sub in raw_dirs))
    paths = {
        name: next(
            (directory / file for directory in directories for file in (name, f"{name}.gz")
             if (directory / file).is_file()),
            None,
        )
        for name in IDX_NAMES
    }
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        where = ", ".join(str(directory) for directory in directories)
        what = "none of the four IDX files" if len(missing) == len(IDX_NAMES) else ", ".join(missing)
        raise DataError(f"{what} found (with or without .gz) in {where}")
    arrays = {name: read_idx(path) for name, path in paths.items()}
    return arrays, {name: str(path) for name, path in paths.items()}


def fetch_from_hub(repo: str, probe: Callable[[], None]) -> Fetched:
    """Download a hub data set with ``image``/``label`` columns and decode it to uint8 arrays."""
    try:
        import datasets

        probe()
        hub = datasets.load_dataset(repo)
        arrays = {}
        for split, (images, labels) in SPLITS.items():
            # The numpy format decodes each PNG; dtype keeps the pixels uint8 (the default is int64).
            batch = hub[split].with_format("numpy", dtype=np.uint8)[:]
            arrays[images], arrays[labels] = batch["image"], batch["label"]
    except Exception as err:  # network, authentication, format: whatever fails, the next source gets a go
        raise DataError(one_line(err)) from err
    return arrays, {name: f"{name} from hub {repo}" for name in IDX_NAMES}


def probe_hub(repo: str, timeout_s: float = 10.0) -> None:
    """Fail within seconds when the hub is unreachable (skipped in offline mode).

    The probe keeps an unreachable hub from costing the ~25 s of retries that
    ``load_dataset`` spends before it gives up.
    """
    from huggingface_hub import HfApi, constants

    if not constants.HF_HUB_OFFLINE:  # offline, load_dataset reads the local hub cache instead
        HfApi().dataset_info(repo, timeout=timeout_s)


def to_tensors(arrays: Arrays) -> dict[str, torch.Tensor]:
    """IDX arrays -> the cache's tensors: uint8 ``(N, 1, H, W)`` images, int64 labels."""
    def tensor(name: str, dtype: type) -> torch.Tensor:
        # torch.from_numpy needs a writable, contiguous array to share memory safely.
        return torch.from_numpy(np.require(arrays[name], dtype=dtype, requirements=["C", "W"]))

    out = {}
    for split, (images, labels) in SPLITS.items():
        out[f"{split}_images"] = tensor(images, np.uint8).unsqueeze(1)
        out[f"{split}_labels"] = tensor(labels, np.int64)
    return out


def from_tensors(tensors: Mapping[str, torch.Tensor]) -> Arrays:
    """Inverse of :func:`to_tensors` (for re-verifying a cache entry)."""
    arrays = {}
    for split, (images, labels) in SPLITS.items():
        image_tensor, label_tensor = tensors[f"{split}_images"], tensors[f"{split}_labels"]
        if image_tensor.dim() != 4 or image_tensor.shape[1] != 1:
            raise DataError(f"cached {split} images have shape {tuple(image_tensor.shape)}")
        if label_tensor.numel() and (int(label_tensor.min()) < 0 or int(label_tensor.max()) > 255):
            raise DataError(f"cached {split} labels lie outside [0, 255]")
        arrays[images] = image_tensor[:, 0].numpy()
        arrays[labels] = label_tensor.numpy().astype(np.uint8)
    return arrays


def load_idx_set(spec: IdxSet, sources: Sequence[Source[Fetched]], expected_md5: Callable[[], Mapping[str, str]],
                 cache_root: Path, class_names: Sequence[str], log: Callable[[str], None],
                 advice: Callable[[list[str]], tuple[str, str]]) -> Arrays:
    """The four arrays from the cache or the first source that passes the md5 sums; cached on success.

    Args:
        spec: Which data set.
        sources: Tried in order after the cache.
        expected_md5: Returns the md5 sums (read at call time, so tests can substitute them).
        cache_root: Root of the data cache; the entry is ``<cache_root>/<name>/<cache_version>``.
        class_names: Recorded in the cache entry.
        log: One-line progress and failure messages.
        advice: Builds the final error, ``(line, details)``, from the list of failures.

    Raises:
        DataError: no source yielded data matching the checksums.
    """
    md5 = dict(expected_md5())
    cache = TensorCache(cache_root / spec.name / spec.cache_version, spec.name, key={"md5": md5})

    def verify_cached(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, object]) -> None:
        verify(from_tensors(tensors), {name: f"{name} in the cache" for name in IDX_NAMES}, md5)

    hit = cache.read(log, verify=verify_cached)
    if hit is not None:
        return from_tensors(hit[0])
    (arrays, _), source = first_verified(spec.name, sources, lambda fetched: verify(*fetched, md5), log, advice)
    cache.write(to_tensors(arrays), {"source": source, "class_names": list(class_names)}, log)
    return arrays


def splits_of(arrays: Arrays, class_names: Sequence[str]) -> ImageSplits:
    """The arrays as :class:`ImageSplits` with a channel axis."""
    tensors = to_tensors(arrays)
    return ImageSplits.from_tensors(tensors, tuple(class_names))


def no_source_message(spec: IdxSet, search_root: Path, failures: list[str], loader: str) -> tuple[str, str]:
    """The one-line error (every source's reason, which four files to put where), and the same as a list.

    Returns:
        ``(line, details)``: the CLI prints the line, and the details under ``--verbose``.
    """
    reasons = "\n".join(f"  - {failure}" for failure in failures)
    files = "\n".join(f"  {name}  (or {name}.gz)" for name in IDX_NAMES)
    subdirs = " or ".join(spec.raw_dirs)
    line = (f"{spec.name}: every source failed ({'; '.join(failures)}); put the four IDX files "
            f"({', '.join(IDX_NAMES)}, each optionally .gz) in {search_root} or its {subdirs} subdirectory, or name "
            f"their directory with --data-dir DIR or CGANZOO_DATA_DIR")
    return line, (
        f"{spec.title}: every source failed:\n{reasons}\n"
        f"To use a copy you already have, put these four files in {search_root} "
        f"(or in its {subdirs} subdirectory):\n{files}\n"
        f"or put them in another directory and name it with --data-dir DIR "
        f"(Python: {loader}(data_dir=DIR)) or the CGANZOO_DATA_DIR environment variable."
    )
