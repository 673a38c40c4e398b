"""Untrusted files: checkpoints are tensors (safetensors) and JSON only; damage gives one clear error.

Every damaged run directory is tried three ways: :func:`cganzoo.load`,
``cganzoo sample`` and ``cganzoo run --resume``; the command line must answer
in one ``cganzoo: error:`` line, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

import cganzoo
from cganzoo.cli import main
from cganzoo.errors import CheckpointError
from cganzoo.training import Trainer


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run_dir(tmp_path, registry):
    """A toy run with checkpoints at steps 2 and 4."""
    config = cganzoo.resolve_config("toy-gan", overrides={
        "max_steps": 4, "device": "cpu", "checkpoint_interval": 2, "batch_size": 32, "out": str(tmp_path / "run")})
    return cganzoo.train(config, progress=False, log=lambda line: None, registry=registry)


def latest(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "step_000000004"


def rewrite_state(path: Path, **changes) -> None:
    state = json.loads((path / "state.json").read_text())
    state.update(changes)
    (path / "state.json").write_text(json.dumps(state))


def record_checksum(path: Path, file: str) -> None:
    """Update state.json so the file passes its checksum (what a forger would do)."""
    state = json.loads((path / "state.json").read_text())
    state["sha256"][file] = hashlib.sha256((path / file).read_bytes()).hexdigest()
    (path / "state.json").write_text(json.dumps(state))


class Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def expect_one_line_everywhere(run_dir: Path, registry, capsys, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        cganzoo.load(run_dir, registry=registry)
    for argv in (["sample", str(run_dir), "--labels", "3", "-o", str(run_dir.parent / "g.png")],
                 # a larger budget than the run's 4 steps, so that the resume reaches the checkpoint's contents
                 ["run", "--resume", str(run_dir), "--no-progress", "--max-steps", "8"]):
        capsys.readouterr()
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith("cganzoo: error: ") and re.search(message, err), (argv, err)


def test_loading_and_resuming_never_unpickle(run_dir, registry, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert cganzoo.load(run_dir, registry=registry).step == 4
    config = cganzoo.resolve_config("toy-gan", overrides={"max_steps": 5, "device": "cpu", "batch_size": 32,
                                                          "checkpoint_interval": 2})
    assert Trainer(config, run_dir, resume=True, registry=registry, progress=False, log=lambda line: None).step == 4


@pytest.mark.parametrize("file", ["generator.safetensors", "training.safetensors"])
@pytest.mark.parametrize("form", ["pickle", "torch.save"])
@pytest.mark.parametrize("forged_checksum", [False, True], ids=["checksum-kept", "checksum-forged"])
def test_a_malicious_pickle_in_place_of_a_checkpoint_file_runs_nothing(run_dir, registry, capsys, tmp_path, file,
                                                                      form, forged_checksum):
    marker = tmp_path / "pwned"
    if form == "pickle":
        data = pickle.dumps(Payload(marker))
    else:
        buffer = io.BytesIO()
        torch.save({"weights": Payload(marker)}, buffer)
        data = buffer.getvalue()
    (latest(run_dir) / file).write_bytes(data)
    if forged_checksum:
        record_checksum(latest(run_dir), file)
        message = rf"{file}' is corrupt or truncated: Error while deserializing"
    else:
        message = rf"{file}' is corrupt or truncated: its SHA-256 differs"
    expect_one_line_everywhere(run_dir, registry, capsys, message)
    assert not marker.exists()


def test_pickles_dropped_next_to_a_checkpoint_are_ignored(run_dir, registry, tmp_path):
    marker = tmp_path / "pwned"
    for name in ("pytorch_model.bin", "model.pt", "optimizer.pt", "rng_state.pth"):
        (latest(run_dir) / name).write_bytes(pickle.dumps(Payload(marker)))
    assert cganzoo.load(run_dir, registry=registry).step == 4
    assert not marker.exists()


def _truncate(path: Path) -> None:
    data = (path / "generator.safetensors").read_bytes()
    (path / "generator.safetensors").write_bytes(data[:len(data) // 2])


def _flip_a_bit(path: Path) -> None:
    data = bytearray((path / "discriminator.safetensors").read_bytes())
    data[-5] ^= 0x10  # inside the last tensor's data: the header still parses
    (path / "discriminator.safetensors").write_bytes(bytes(data))


def _foreign_weights(path: Path) -> None:
    """A valid safetensors file of another network, with a forged checksum."""
    other = torch.nn.Sequential(torch.nn.Linear(3, 4))
    (path / "generator.safetensors").write_bytes(save_safetensors(dict(other.state_dict())))
    record_checksum(path, "generator.safetensors")


def _other_dtype(path: Path) -> None:
    from safetensors.torch import load

    tensors = load((path / "generator.safetensors").read_bytes())
    (path / "generator.safetensors").write_bytes(save_safetensors({k: v.double() for k, v in tensors.items()}))
    record_checksum(path, "generator.safetensors")


def _header_lies(path: Path) -> None:
    data = (path / "generator.safetensors").read_bytes()
    (path / "generator.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + data[8:])
    record_checksum(path, "generator.safetensors")


DAMAGE = {
    "truncated": (_truncate, r"generator.safetensors' is corrupt or truncated: its SHA-256 differs"),
    "bit-flip": (_flip_a_bit, r"discriminator.safetensors' is corrupt or truncated: its SHA-256 differs"),
    "header-lies": (_header_lies, r"generator.safetensors' is corrupt or truncated: Error while deserializing"),
    "missing-file": (lambda p: (p / "training.safetensors").unlink(),
                     r"is incomplete: training.safetensors is missing"),
    "state-not-json": (lambda p: (p / "state.json").write_text("{step: 4"), r"state.json is unreadable or corrupt"),
    "state-binary": (lambda p: (p / "state.json").write_bytes(b"\xff\xfe\x00"), r"state.json is unreadable or corrupt"),
    "foreign-format": (lambda p: rewrite_state(p, format="someone-elses"), r"is not a cganzoo checkpoint"),
    "future-version": (lambda p: rewrite_state(p, version=99), r"has format version 99; this cganzoo reads versions 1, 2"),
    "no-checksums": (lambda p: rewrite_state(p, sha256=None), r"records no sha256 checksums"),
    "foreign-weights": (_foreign_weights, r"the checkpoint's generator does not match the configured generator: "
                                          r"missing \[.*\]; unexpected \['0.bias', '0.weight'\]"),
    "other-dtype": (_other_dtype, r"dtype of conditioner.embedding.weight: checkpoint torch.float64 vs model "
                                  r"torch.float32"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_checkpoint_is_one_clear_error(run_dir, registry, capsys, damage):
    corrupt, message = DAMAGE[damage]
    corrupt(latest(run_dir))
    expect_one_line_everywhere(run_dir, registry, capsys, message)


@pytest.mark.parametrize("content, message", [
    ("../../etc\n", r"latest' is corrupt: it names '../../etc', not a checkpoint directory"),
    ("/etc/passwd\n", r"latest' is corrupt: it names '/etc/passwd'"),
    (".step_000000004.abc.tmp\n", r"latest' is corrupt: it names '.step_000000004.abc.tmp'"),
    ("step_000000099\n", r"latest' names checkpoint 'step_000000099', which does not exist"),
    (b"\xff\xfe\xfa", r"latest' is unreadable or corrupt"),
    (None, r"run '.*run' has no checkpoint yet: it stopped before writing its first one"),
])
def test_a_damaged_latest_pointer_is_one_clear_error(run_dir, registry, capsys, content, message):
    pointer = run_dir / "checkpoints" / "latest"
    if content is None:
        pointer.unlink()
    elif isinstance(content, bytes):
        pointer.write_bytes(content)
    else:
        pointer.write_text(content)
    expect_one_line_everywhere(run_dir, registry, capsys, message)


def test_a_damaged_step_counter_is_one_clear_error(run_dir, registry, capsys):
    rewrite_state(latest(run_dir), step="four")
    with pytest.raises(CheckpointError, match=r"state.json holds step 'four', not an integer"):
        cganzoo.load(run_dir, registry=registry)
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--max-steps", "8"]) == 1
    assert "is incomplete or corrupt: invalid literal for int()" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("not json", r"config.json' is missing or not a cganzoo run config"),
    ('{"config": {"epochs": -1}}', r"config.json' holds an invalid run config \(invalid config: epochs"),
    ("[1, 2]", r"config.json' is missing or not a cganzoo run config"),
])
def test_a_damaged_run_config_is_one_clear_error(run_dir, registry, capsys, content, message):
    (run_dir / "config.json").write_text(content)
    expect_one_line_everywhere(run_dir, registry, capsys, message)


def test_a_corrupt_latest_checkpoint_names_the_older_one_and_the_way_back(run_dir, registry):
    _flip_a_bit(latest(run_dir))
    with pytest.raises(CheckpointError) as info:
        cganzoo.load(run_dir, registry=registry)
    pointer = run_dir / "checkpoints" / "latest"
    assert str(info.value).endswith(
        f"Another checkpoint, step_000000002, exists: to continue from it, run `echo step_000000002 > {pointer}` "
        f"(steps after it are trained again)")
    pointer.write_text("step_000000002\n")  # following the advice
    assert cganzoo.load(run_dir, registry=registry).step == 2


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    from cganzoo.runs.checkpoint import atomic_write_text  # still importable from there
    from cganzoo.io import umask

    path = tmp_path / "config.json"
    atomic_write_text(path, "{}")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask()
    assert umask() == os.umask(umask())  # read without changing it
