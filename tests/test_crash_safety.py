"""Crashes lose nothing: SIGKILL during checkpoint writes, SIGINT/SIGTERM, NaN losses, full disks.

Processes that must really die run the toy plugin through ``tests/toy_cli.py``
(the real ``cganzoo`` command line) or are forked from the test process.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

import cganzoo
from cganzoo.runs import checkpoint as ckpt
from cganzoo.runs import run_dir as run_dirs
from cganzoo.runs import layout as metrics_log  # RunDir, in runs/layout.py, opens metrics.jsonl to append
from cganzoo.training import checkpointing
from cganzoo.cli import main
from cganzoo.errors import CheckpointError, ConfigError, OutputError, TrainingDivergedError, TrainingInterrupted
from cganzoo.training import Trainer

TESTS = Path(__file__).resolve().parent
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 12, "device": "cpu", "log_interval": 4, "sample_interval": 1000,
            "checkpoint_interval": 5, "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def quiet(_):
    pass


def toy_cli(*args: str) -> list[str]:
    return [sys.executable, str(TESTS / "toy_cli.py"), *args]


def wait_for(predicate, timeout=60.0, proc=None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"child exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# -- SIGKILL ----------------------------------------------------------------------------------


def _save_step(run_dir: Path, step: int, module: torch.nn.Module) -> None:
    ckpt.save_checkpoint(run_dir, f"step_{step:09d}", generator=module, discriminator=module,
                         training_tensors={"marker": torch.full((64,), float(step))}, state={"step": step}, keep=2)


def _kill_at_event(k: int) -> None:
    """In a forked child: SIGKILL this process at the k-th file-system event of a checkpoint write."""
    count = [0]

    def event():
        count[0] += 1
        if count[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)

    def around(fn):
        def wrapped(*args, **kwargs):
            event()
            result = fn(*args, **kwargs)
            event()
            return result
        return wrapped

    write_synced = ckpt._write_synced

    def half_then_whole(path, data):
        event()
        with open(path, "wb") as f:  # the state a kill in the middle of write() leaves
            f.write(data[:len(data) // 2])
            f.flush()
        event()
        write_synced(path, data)
        event()

    for module, name in ((os, "fsync"), (os, "rename"), (os, "replace"), (os, "unlink"), (shutil, "rmtree"),
                         (tempfile, "mkdtemp"), (tempfile, "mkstemp")):
        setattr(module, name, around(getattr(module, name)))
    ckpt._write_synced = half_then_whole


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_every_step_of_a_checkpoint_write_leaves_a_loadable_checkpoint(tmp_path):
    module = torch.nn.Linear(64, 64)
    template = tmp_path / "template"
    for step in (1, 2):
        _save_step(template, step, module)
    outcomes = []
    for k in range(1, 200):
        run_dir = tmp_path / f"run{k}"
        shutil.copytree(template, run_dir)
        pid = os.fork()
        if pid == 0:  # the child: write checkpoint 3, dying at event k
            code = 1
            try:
                _kill_at_event(k)
                _save_step(run_dir, 3, module)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert killed or os.WEXITSTATUS(status) == 0, f"child failed at event {k}"

        path, (_, _, tensors, state) = ckpt.load_latest_checkpoint(run_dir)
        assert state["step"] in (2, 3) and torch.equal(tensors["marker"], torch.full((64,), float(state["step"])))
        outcomes.append(state["step"])
        _save_step(run_dir, 4, module)  # the next save clears what the killed one left
        names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
        assert "latest" in names and not [n for n in names if n.startswith(".")], names
        assert ckpt.load_latest_checkpoint(run_dir)[1][3]["step"] == 4
        shutil.rmtree(run_dir)
        if not killed:
            break
    else:
        pytest.fail("the write never completed")
    # Every event was a kill point: killed before `latest` moved (2) and after (3), both seen.
    assert len(outcomes) > 20 and outcomes[0] == 2 and outcomes[-1] == 3 and 2 in outcomes[:-1] and 3 in outcomes[:-1]


def test_a_checkpoint_newer_than_latest_does_not_crowd_out_the_good_ones(tmp_path):
    # latest was pointed back at step 2 (say, step 5 was damaged); steps 3 and 4 are then trained again.
    module = torch.nn.Linear(2, 2)
    for step in (1, 2, 5):
        _save_step(tmp_path, step, module)
    (tmp_path / "checkpoints" / "latest").write_text("step_000000002\n")
    _save_step(tmp_path, 3, module)
    assert ckpt.checkpoint_names(tmp_path) == ["step_000000002", "step_000000003", "step_000000005"]
    _save_step(tmp_path, 4, module)
    assert ckpt.checkpoint_names(tmp_path) == ["step_000000003", "step_000000004", "step_000000005"]
    _save_step(tmp_path, 5, module)  # replaces the stale one
    assert ckpt.checkpoint_names(tmp_path) == ["step_000000004", "step_000000005"]
    assert ckpt.load_latest_checkpoint(tmp_path)[1][3]["step"] == 5


def test_sigkill_at_random_moments_of_training_never_loses_the_last_checkpoint(tmp_path, registry):
    run_dir = tmp_path / "run"
    rng = random.Random(5)
    common = ["--max-steps", "100000", "--no-progress"]
    steps = []
    for attempt in range(2):  # a fresh run, then a resumed one (each child costs an interpreter start)
        args = (["run", "toy-gan", "--out", str(run_dir), "--device", "cpu", "--batch-size", "32",
                 "--checkpoint-interval", "1", "--log-interval", "1", "--sample-interval", "100000"]
                if attempt == 0 else ["run", "--resume", str(run_dir)])
        proc = subprocess.Popen(toy_cli(*args, *common), env=CHILD_ENV, stderr=subprocess.PIPE, text=True)
        try:
            latest = run_dir / "checkpoints" / "latest"
            start = ckpt.load_latest_checkpoint(run_dir)[1][3]["step"] if attempt else 0
            wait_for(lambda: latest.is_file() and latest.read_text().strip() > f"step_{start + 2:09d}", proc=proc)
            time.sleep(rng.uniform(0.0, 0.4))  # with a checkpoint every step, mostly inside a write
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        _, (_, _, _, state) = ckpt.load_latest_checkpoint(run_dir)
        steps.append(state["step"])
        assert cganzoo.load(run_dir, registry=registry).step == state["step"]
    assert steps == sorted(steps) and steps[0] > 2
    # Resuming after the last kill trains on and leaves no temporaries behind.
    cganzoo.train(toy_config(tmp_path, max_steps=steps[-1] + 2), run_dir=run_dir, resume=True, progress=False,
                  log=quiet, registry=registry)
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == f"step_{steps[-1] + 2:09d}"
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]


# -- SIGINT / SIGTERM -------------------------------------------------------------------------


@pytest.fixture
def sigint_delivered():
    """Python's own SIGINT handler for the test, whatever this process inherited.

    A process started in the background by a non-interactive shell (as CI jobs
    can be) inherits SIGINT ignored, and cganzoo keeps an ignored signal
    ignored (see cganzoo/training/signals.py); these tests are about a Ctrl-C that
    arrives, so they start from the interactive default.
    """
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_sigterm_finishes_the_step_checkpoints_and_says_how_to_resume(tmp_path, toy_plugin):
    """A real signal to a real ``cganzoo run`` process (SIGINT takes the same path; see the next tests)."""
    signum, code = signal.SIGTERM, 143
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        toy_cli("run", "toy-gan", "--out", str(run_dir), "--device", "cpu", "--batch-size", "32", "--max-steps",
                "100000", "--log-interval", "1", "--checkpoint-interval", "100000", "--no-progress"),
        env=CHILD_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run_dir / "metrics.jsonl"
    wait_for(lambda: metrics.is_file() and len(metrics.read_text().splitlines()) >= 3, proc=proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    step = int((run_dir / "checkpoints" / "latest").read_text().strip()[5:])
    name = signal.Signals(signum).name
    assert err.strip().splitlines()[-1] == (
        f"cganzoo: stopped by {name} after step {step}; checkpoint written to "
        f"{run_dir / 'checkpoints' / f'step_{step:09d}'}. Resume with: cganzoo run --resume {run_dir}")
    assert "Traceback" not in err
    logged = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert logged[-1] == step  # the step it finished was logged and checkpointed
    # The line's advice works.
    assert main(["run", "--resume", str(run_dir), "--max-steps", str(step + 2), "--no-progress"]) == 0
    assert (run_dir / "checkpoints" / "latest").read_text().strip() == f"step_{step + 2:09d}"


def test_an_interrupted_and_resumed_run_equals_one_trained_straight_through(tmp_path, registry, monkeypatch,
                                                                           sigint_delivered):
    straight = Trainer(toy_config(tmp_path, "straight", max_steps=20), tmp_path / "straight", registry=registry,
                       progress=False, log=quiet)
    straight.run()
    original_step, handler_before = Trainer.train_step, signal.getsignal(signal.SIGINT)
    seen = {}

    def train_step(self, real, labels):
        if self.step == 6:  # Ctrl-C in the middle of step 7
            os.kill(os.getpid(), signal.SIGINT)
            seen["handler"] = signal.getsignal(signal.SIGINT)
        return original_step(self, real, labels)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    interrupted = Trainer(toy_config(tmp_path, "split", max_steps=20), tmp_path / "split", registry=registry,
                          progress=False, log=quiet)
    with pytest.raises(TrainingInterrupted, match="stopped by SIGINT after step 7") as info:
        interrupted.run()
    assert info.value.exit_code == 130 and info.value.step == 7
    assert seen["handler"] is handler_before  # a second Ctrl-C would not be deferred
    assert signal.getsignal(signal.SIGINT) is handler_before  # restored after the run
    monkeypatch.setattr(Trainer, "train_step", original_step)
    resumed = Trainer(toy_config(tmp_path, "split", max_steps=20), tmp_path / "split", resume=True,
                      registry=registry, progress=False, log=quiet)
    resumed.run()
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.discriminator.state_dict().values(), resumed.discriminator.state_dict().values()):
        assert torch.equal(a, b)


def test_ctrl_c_in_the_cli_exits_130_with_the_resume_line(tmp_path, toy_plugin, monkeypatch, capsys, sigint_delivered):
    original = Trainer.train_step

    def train_step(self, real, labels):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, real, labels)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    run_dir = tmp_path / "run"
    code = main(["run", "toy-gan", "--out", str(run_dir), "--device", "cpu", "--batch-size", "32", "--max-steps",
                 "50", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().splitlines() == [
        f"cganzoo: stopped by SIGINT after step 3; checkpoint written to {run_dir / 'checkpoints' / 'step_000000003'}."
        f" Resume with: cganzoo run --resume {run_dir}"]


# -- NaN and infinity -------------------------------------------------------------------------


def _patch_step(monkeypatch, at_step, action):
    """Run ``action(trainer, d_loss, g_loss) -> (d_loss, g_loss)`` after the update of step ``at_step``."""
    original = Trainer.train_step

    def train_step(self, real, labels):
        d, g = original(self, real, labels)
        return action(self, d, g) if self.step + 1 == at_step else (d, g)

    monkeypatch.setattr(Trainer, "train_step", train_step)


def _poison_generator(trainer, d, g):
    with torch.no_grad():
        next(trainer.generator.parameters()).fill_(float("nan"))
    return d, g


def test_nan_weights_stop_the_run_at_the_first_bad_step_and_keep_the_last_good_checkpoint(
        tmp_path, registry, monkeypatch):
    _patch_step(monkeypatch, 6, _poison_generator)  # G's weights become NaN in step 6; its losses show it in step 7
    config = toy_config(tmp_path, max_steps=12)  # checkpoints at 5 and 10, logs at 4, 8, 12
    trainer = Trainer(config, tmp_path / "run", registry=registry, progress=False, log=quiet)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.run()
    checkpoints = tmp_path / "run" / "checkpoints"
    assert str(info.value) == (
        "discriminator loss became nan and the generator loss became nan at step 7; training stopped; the last good "
        "checkpoint, step_000000005 (step 5), is kept and was not overwritten. Resuming would repeat the same steps: "
        "start a new run with a lower --lr, another --loss or another --seed")
    assert trainer.step == 8  # found at the log of step 8, with no host sync in steps 6 and 7
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step_000000005"]
    assert [json.loads(r)["step"] for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()] == [4]


def test_an_infinite_loss_is_named_with_its_component_and_step(tmp_path, registry, monkeypatch):
    _patch_step(monkeypatch, 6, lambda t, d, g: (d, torch.full_like(g, float("inf"))))
    trainer = Trainer(toy_config(tmp_path), tmp_path / "run", registry=registry, progress=False, log=quiet)
    with pytest.raises(TrainingDivergedError, match=r"^generator loss became inf at step 6; training stopped"):
        trainer.run()


def _poison_discriminator_moment(trainer, d, g):
    second = [p for group in trainer.state.optimizers.discriminator.optimizer.param_groups for p in group["params"]][1]
    trainer.state.optimizers.discriminator.optimizer.state[second]["exp_avg_sq"].fill_(float("inf"))
    return d, g


@pytest.mark.parametrize("poison, message", [
    (_poison_generator, "generator tensor conditioner.embedding.weight holds NaN or infinite values at step 10"),
    (_poison_discriminator_moment, "discriminator optimizer exp_avg_sq of parameter 1 holds NaN or infinite values "
                                   "at step 10"),
])
def test_poisoned_weights_never_overwrite_the_last_good_checkpoint(tmp_path, registry, monkeypatch, poison, message):
    # The weights go bad in the very step a checkpoint is due, while its losses are still finite.
    _patch_step(monkeypatch, 10, poison)
    trainer = Trainer(toy_config(tmp_path), tmp_path / "run", registry=registry, progress=False, log=quiet)
    checkpoints = tmp_path / "run" / "checkpoints"
    original_save = checkpointing.save
    saved = {}

    def save_checkpoint(trainer):
        if trainer.step == 10:
            saved["before"] = files_of(checkpoints)
        return original_save(trainer)

    monkeypatch.setattr(checkpointing, "save", save_checkpoint)
    with pytest.raises(TrainingDivergedError, match="^" + re.escape(message + " (its losses were still finite)")):
        trainer.run()
    assert files_of(checkpoints) == saved["before"]
    assert (checkpoints / "latest").read_text().strip() == "step_000000005"


def test_the_cli_reports_divergence_in_one_line(tmp_path, toy_plugin, monkeypatch, capsys):
    _patch_step(monkeypatch, 2, lambda t, d, g: (torch.full_like(d, float("nan")), g))
    code = main(["run", "toy-gan", "--out", str(tmp_path / "run"), "--device", "cpu", "--max-steps", "4",
                 "--batch-size", "32", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "cganzoo: error: discriminator loss became nan at step 2; training stopped; no checkpoint had been written "
        "yet. Resuming would repeat the same steps: start a new run with a lower --lr, another --loss or another "
        "--seed"]


# -- full disks and unwritable directories ----------------------------------------------------


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_too_little_free_space_is_an_error_before_training(tmp_path, registry, monkeypatch):
    real = shutil.disk_usage

    def nearly_full(path):
        return real(path)._replace(free=3 << 20)

    monkeypatch.setattr(run_dirs.shutil, "disk_usage", nearly_full)
    with pytest.raises(OutputError, match=r"not enough free disk space for .*: 3.0 MiB free, the checkpoints need "
                                          r"about \d+\.\d MiB \(\d+\.\d MiB each, keep_checkpoints=2 plus the one "
                                          r"being written\); free some space or choose another --out"):
        Trainer(toy_config(tmp_path, "run", generator={"name": "mlp", "params": {"hidden": [256, 512]}}),
                tmp_path / "run", registry=registry, progress=False, log=quiet)
    assert not (tmp_path / "run" / "config.json").exists()


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, registry, monkeypatch):
    writes = []
    original = ckpt._write_synced

    def fills_up(path, data):
        writes.append(path)
        if len(writes) > 5:  # the second checkpoint's second file
            raise OSError(errno.ENOSPC, "No space left on device")
        original(path, data)

    monkeypatch.setattr(ckpt, "_write_synced", fills_up)
    run_dir = tmp_path / "run"
    with pytest.raises(CheckpointError, match=r"could not write checkpoint '.*step_000000010': No space left on "
                                              r"device; the previous checkpoint is kept"):
        cganzoo.train(toy_config(tmp_path), progress=False, log=quiet, registry=registry)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["latest", "step_000000005"]
    assert cganzoo.load(run_dir, registry=registry).step == 5


@pytest.mark.parametrize("target", ["metrics", "samples"])
def test_a_full_disk_while_logging_or_sampling_is_one_clear_error(tmp_path, registry, monkeypatch, target):
    if target == "metrics":
        real_open = open

        def full_open(path, *args, **kwargs):
            if str(path).endswith("metrics.jsonl"):
                _enospc()
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(metrics_log, "open", full_open, raising=False)
        config, name = toy_config(tmp_path, log_interval=6), "metrics.jsonl"
    else:
        monkeypatch.setattr("cganzoo.components.sampling.atomic_write_bytes", _enospc)
        config, name = toy_config(tmp_path, sample_interval=6, sample_at_start=False), "step_6.png"  # mid-run
    with pytest.raises(OutputError, match=rf"could not write '.*{name}': No space left on device; the last "
                                          rf"checkpoint \(step_000000005\) is kept: free space or fix permissions, "
                                          rf"then cganzoo run --resume .*run"):
        cganzoo.train(config, progress=False, log=quiet, registry=registry)


def test_an_unwritable_run_directory_is_an_error_before_training(tmp_path, registry, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"run directory '.*file/run' is not writable"):
        Trainer(toy_config(tmp_path), blocker / "run", registry=registry, progress=False, log=quiet)

    def read_only(self, data):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(ConfigError, match=r"run directory '.*ro' is not writable: Read-only file system"):
        Trainer(toy_config(tmp_path), tmp_path / "ro", registry=registry, progress=False, log=quiet)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_read_only_directory_is_an_error_before_training(tmp_path, registry):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="is not writable: Permission denied"):
            Trainer(toy_config(tmp_path), parent / "run", registry=registry, progress=False, log=quiet)
    finally:
        parent.chmod(0o700)


def test_cli_reports_a_full_disk_before_training_in_one_line(tmp_path, toy_plugin, monkeypatch, capsys):
    monkeypatch.setattr(run_dirs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 0))
    code = main(["run", "toy-gan", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("cganzoo: error: not enough free disk space for")
