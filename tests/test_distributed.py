"""Distributed data-parallel training: torchrun, DDP, gloo on CPU, 2 processes.

The process tests start real torchrun jobs on the toy data set. Their workers
find the toy plugin (and the fault-injecting one) through ``cganzoo`` entry points
declared in a temporary ``.dist-info`` directory on ``PYTHONPATH``, exactly as an
installed third-party plugin is found; a subprocess does not see the
monkeypatched entry points of the in-process tests.

The equivalence tests use a model without BatchNorm (a one-layer MLP generator:
the first block has none) and without dropout: then 2 ranks x 32 and 1 rank x 64
compute the same step up to float summation order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import cganzoo
from cganzoo.runs.checkpoint import latest_checkpoint, load_checkpoint
from cganzoo.cli import build_parser, main
from cganzoo.data.batches import EpochBatches
from cganzoo.distributed.context import DistContext, ShardedEpochBatches, rank_step_seed
from cganzoo.errors import ConfigError
from cganzoo.distributed.launch import torchrun_argv, worker_argv
from cganzoo.training import Trainer

TESTS = Path(__file__).parent

#: The toy CGAN without BatchNorm and without dropout.
NO_BN = """\
model: toy-gan
generator: {name: mlp, params: {hidden: [32]}}
discriminator: {name: mlp, params: {hidden: 32, dropout: 0.0}}
"""
RUN_FLAGS = ["--device", "cpu", "--no-progress", "--batch-size", "64", "--log-interval", "3",
             "--sample-interval", "3", "--checkpoint-interval", "3"]
#: Float summation order differs between 1 x 64 and 2 x 32; nothing else may.
TOL = {"rtol": 1e-4, "atol": 1e-6}


def quiet(_):
    pass


@pytest.fixture(scope="module")
def worker_env(tmp_path_factory) -> dict[str, str]:
    """Environment for worker processes: the test plugins installed through entry points."""
    site = tmp_path_factory.mktemp("site")
    info = site / "cganzoo_test_plugins-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cganzoo-test-plugins\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[cganzoo]\ntoy = toy_plugin\nfault = fault_plugin\n")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RUN_ID")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cganzoo", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, worker_env):
    """``cganzoo run --nproc 2``: 6 steps of the no-BatchNorm toy CGAN, global batch 64."""
    root = tmp_path_factory.mktemp("ddp")
    (root / "no-bn.yaml").write_text(NO_BN)
    result = run_cli(["run", "--config", "no-bn.yaml", "--nproc", "2", "--out", "run2", "--max-steps", "6",
                      *RUN_FLAGS], worker_env, root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root, result


def one_rank_config(root: Path, name: str, max_steps: int, registry):
    return cganzoo.resolve_config(config_file=root / "no-bn.yaml", registry=registry, overrides={
        "out": str(root / name), "max_steps": max_steps, "device": "cpu", "batch_size": 64, "log_interval": 3,
        "sample_interval": 3, "checkpoint_interval": 3, "keep_checkpoints": 8})


@pytest.fixture(scope="module")
def one_rank_run(two_rank_run, tmp_path_factory):
    """The same model in one process, 12 steps straight (checkpoints at 3, 6, 8 (epoch end), 9, 12)."""
    from cganzoo.components.discovery import load_plugins

    import toy_plugin

    root, _ = two_rank_run
    registry = load_plugins(autoload=True, extra_plugins=[toy_plugin]).registry
    return cganzoo.train(one_rank_config(root, "run1", 12, registry), progress=False, log=quiet, registry=registry)


def assert_same_state(a_dir: Path, b_dir: Path) -> None:
    """Weights, Adam moments, the noise generator and the sample noise agree within float tolerance.

    Adam's update hardly changes when every gradient is scaled, so equal weights
    alone could not tell a sum of the ranks' gradients from their mean; Adam's
    moments (``exp_avg`` is linear in the gradients, ``exp_avg_sq`` quadratic) can.
    """
    a, b = load_checkpoint(a_dir), load_checkpoint(b_dir)
    assert a[3]["step"] == b[3]["step"]
    for which in (0, 1, 2):  # generator, discriminator, training tensors
        keys = {k for k in a[which] if not k.startswith("rng.torch")}  # per-rank streams differ by design
        assert keys == {k for k in b[which] if not k.startswith("rng.torch")}
        for key in sorted(keys):
            if key == "rng.noise":  # every rank draws the global batch's noise: the same stream
                assert torch.equal(a[which][key], b[which][key])
            else:
                torch.testing.assert_close(a[which][key], b[which][key], **TOL, msg=lambda m: f"{key}: {m}")
    assert any(k.endswith(".exp_avg") for k in a[2])


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# -- processes ---------------------------------------------------------------------------------


def test_a_two_rank_run_writes_one_set_of_outputs(two_rank_run):
    root, result = two_rank_run
    run = root / "run2"
    assert "torchrun --nproc-per-node 2" in result.stderr
    assert "2 ranks (gloo, cpu): global batch 64 = 2 x 32 per rank" in result.stdout
    assert result.stdout.count("trained to step 6") == 1  # rank 0 alone speaks
    record = json.loads((run / "config.json").read_text())
    assert record["distributed"] == {"world_size": 2, "backend": "gloo", "global_batch_size": 64,
                                     "per_rank_batch_size": 32, "sync_batchnorm": False, "timeout_s": 600.0}
    assert [r["step"] for r in metrics(run)] == [3, 6]  # one line per logged step, not one per rank
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0.png", "step_3.png", "step_6.png"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_000000003", "step_000000006"]
    assert {p.name for p in root.iterdir()} <= {"no-bn.yaml", "run2", "run1"}  # run1: the one-rank twin


def test_two_ranks_of_32_update_like_one_rank_of_64(two_rank_run, one_rank_run):
    root, _ = two_rank_run
    for step in (3, 6):
        assert_same_state(root / "run2" / "checkpoints" / f"step_{step:09d}",
                          one_rank_run / "checkpoints" / f"step_{step:09d}")
    for a, b in zip(metrics(root / "run2"), metrics(one_rank_run)):  # losses averaged over ranks
        assert a["step"] == b["step"]
        assert a["d_loss"] == pytest.approx(b["d_loss"], rel=1e-5)
        assert a["g_loss"] == pytest.approx(b["g_loss"], rel=1e-5)


def test_a_two_rank_checkpoint_resumes_on_one_rank(two_rank_run, one_rank_run, registry, tmp_path):
    root, _ = two_rank_run
    resumed = shutil.copytree(root / "run2", tmp_path / "resumed")
    (tmp_path / "no-bn.yaml").write_text(NO_BN)
    lines: list[str] = []
    cganzoo.train(one_rank_config(tmp_path, "resumed", 12, registry), run_dir=resumed, resume=True, progress=False,
                  log=lines.append, registry=registry)
    assert any("resumed" in line and "at step 6" in line for line in lines)
    # 12 steps, across the epoch boundary at 8: the same as one rank straight through.
    assert_same_state(latest_checkpoint(resumed), latest_checkpoint(one_rank_run))


def test_a_one_rank_checkpoint_resumes_on_two_ranks(one_rank_run, worker_env, tmp_path):
    run = shutil.copytree(one_rank_run, tmp_path / "run")
    for later in ("step_000000008", "step_000000009", "step_000000012"):
        shutil.rmtree(run / "checkpoints" / later)
    (run / "checkpoints" / "latest").write_text("step_000000006\n")  # as if it had stopped at step 6
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in (run / "metrics.jsonl").read_text().splitlines()[:2]))
    result = run_cli(["run", "--resume", "run", "--nproc", "2"], worker_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resumed run at step 6 (epoch 0)" in result.stdout  # rank 0 read it and handed it over
    assert_same_state(latest_checkpoint(run), latest_checkpoint(one_rank_run))  # step 12 either way
    assert [r["step"] for r in metrics(run)] == [3, 6, 9, 12]


def test_a_gradient_penalty_run_on_two_ranks_draws_what_one_process_draws(two_rank_run, worker_env, registry, tmp_path):
    """WGAN-GP's interpolation weights come from the shared noise generator: drawn for the global batch,
    each rank keeps its shard, so 2 x 16 computes what 1 x 32 computes (and z stays in step)."""
    config = {"model": "toy-gan", "loss": "wasserstein-gp",
              "generator": {"name": "mlp", "params": {"hidden": [32]}},
              "discriminator": {"name": "mlp", "params": {"hidden": 32, "dropout": 0.0}}}
    (tmp_path / "gp.json").write_text(json.dumps(config))
    flags = ["--device", "cpu", "--no-progress", "--batch-size", "32", "--log-interval", "1", "--max-steps", "3"]
    result = run_cli(["run", "--config", "gp.json", "--nproc", "2", "--out", "two", *flags], worker_env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    one = cganzoo.resolve_config(config_file=tmp_path / "gp.json", registry=registry, overrides={
        "out": str(tmp_path / "one"), "max_steps": 3, "device": "cpu", "batch_size": 32, "log_interval": 1})
    cganzoo.train(one, progress=False, log=quiet, registry=registry)
    two, single = metrics(tmp_path / "two"), metrics(tmp_path / "one")
    assert [r["step"] for r in two] == [r["step"] for r in single] == [1, 2, 3]
    for a, b in zip(two, single):
        assert a["d_loss"] == pytest.approx(b["d_loss"], rel=1e-5), a["step"]
        assert a["g_loss"] == pytest.approx(b["g_loss"], rel=1e-5), a["step"]


@pytest.mark.parametrize("mode, blamed", [
    ("die", "rank 1 (local rank 1) failed first, exit code 3"),
    ("stall", "rank 0 (local rank 0) lost contact with the other ranks (exit code 75"),
])
def test_a_failing_rank_takes_the_job_down_with_a_message(mode, blamed, tmp_path, worker_env):
    config = {"model": "toy-gan", "loss": {"name": "faulty-bce", "params": {"mode": mode, "rank": 1, "at_call": 3}}}
    (tmp_path / "faulty.json").write_text(json.dumps(config))
    start = time.perf_counter()
    # Only the stall needs a short timeout; a death is noticed by torchrun and by gloo's sockets.
    timeout = ["--dist-timeout", "5"] if mode == "stall" else []
    result = run_cli(["run", "--config", "faulty.json", "--nproc", "2", "--out", "run", "--max-steps", "50",
                      *timeout, *RUN_FLAGS], worker_env, tmp_path, timeout=120)
    elapsed = time.perf_counter() - start
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("cganzoo: error:")]
    # The launcher's last word names the culprit: the rank that died, or, when rank 1
    # stalls, rank 0, whose collective timed out after --dist-timeout (it cannot know
    # which peer stalled; its own line says so).
    assert lines and lines[-1].startswith(f"cganzoo: error: {blamed}"), result.stderr
    assert lines[-1].endswith("torchrun stopped the other ranks. The ranks' own messages are above")
    if mode == "stall":
        assert any(line.startswith("cganzoo: error: rank 0 of 2: a collective failed: Timed out") and
                   "stalled for more than 5 s (--dist-timeout)" in line for line in lines), lines
    assert "Traceback" not in result.stderr
    assert elapsed < 100  # not the 600 s default timeout, and never forever


def test_sigterm_to_the_launcher_stops_every_rank_at_one_step_with_a_checkpoint(tmp_path, worker_env):
    (tmp_path / "no-bn.yaml").write_text(NO_BN)
    args = ["run", "--config", "no-bn.yaml", "--nproc", "2", "--out", "run", "--epochs", "1000", "--device", "cpu",
            "--no-progress", "--batch-size", "64", "--log-interval", "5", "--sample-interval", "100000",
            "--checkpoint-interval", "100000"]
    launcher = subprocess.Popen([sys.executable, "-m", "cganzoo", *args], env=worker_env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    launcher.send_signal(signal.SIGTERM)
    stdout, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 143, stdout + stderr
    stopped = [line for line in stderr.splitlines() if line.startswith("cganzoo: stopped by SIGTERM after step")]
    assert len(stopped) == 1, stderr  # rank 0 speaks for the job
    step = int(stopped[0].split("after step ")[1].split(";")[0])
    assert step % 5 == 0  # the ranks agreed on a log step
    assert latest_checkpoint(tmp_path / "run").name == f"step_{step:09d}"
    assert "torchrun got SIGTERM and stopped the ranks" in stderr and "Traceback" not in stderr
    resumed = run_cli(["run", "--resume", "run", "--max-steps", str(step + 5)], worker_env, tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed run at step {step}" in resumed.stdout


# -- in-process pieces -------------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [2, 4])
def test_rank_shards_partition_each_global_batch(world_size):
    images = torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1)
    labels = torch.arange(40)
    whole = EpochBatches(images, labels, 8, seed=3)
    shards = [ShardedEpochBatches(images, labels, 8, seed=3, rank=r, world_size=world_size) for r in range(world_size)]
    assert all(len(s) == len(whole) == 5 for s in shards)
    for epoch in (0, 1):
        for start in (0, 2):
            batches = list(whole.epoch(epoch, start))
            per_rank = [list(s.epoch(epoch, start)) for s in shards]
            for i, (x, y) in enumerate(batches):
                assert torch.equal(torch.cat([per_rank[r][i][1] for r in range(world_size)]), y)
                assert torch.equal(torch.cat([per_rank[r][i][0] for r in range(world_size)]), x)


def test_per_rank_seeds_differ_by_rank_and_step_and_are_reproducible():
    seeds = {rank_step_seed(0, r, s) for r in range(4) for s in range(100)}
    assert len(seeds) == 400 and all(0 <= s < 2**63 for s in seeds)
    assert rank_step_seed(7, 1, 5) == rank_step_seed(7, 1, 5) != rank_step_seed(8, 1, 5)


def test_a_global_batch_that_does_not_split_is_refused():
    ctx = DistContext(device=torch.device("cpu"), rank=0, world_size=3, backend="gloo")
    with pytest.raises(ConfigError, match="batch_size 64 .* does not split over 3 ranks; use a multiple of 3, e.g. 63"):
        ctx.check_batch(64, drop_last=True)
    with pytest.raises(ConfigError, match="drop_last must be true with 3 ranks"):
        ctx.check_batch(63, drop_last=False)
    assert ctx.shard(63) == slice(0, 21)
    DistContext(device=torch.device("cpu")).check_batch(7, drop_last=False)  # one process: anything goes


def test_sync_batchnorm_on_cpu_is_refused_before_any_collective(tmp_path, registry):
    ctx = DistContext(device=torch.device("cpu"), rank=0, world_size=2, backend="gloo")
    config = cganzoo.resolve_config("toy-gan", overrides={"sync_batchnorm": True, "device": "cpu"})
    with pytest.raises(ConfigError, match="sync_batchnorm needs CUDA"):
        Trainer(config, tmp_path / "run", registry=registry, progress=False, log=quiet, dist=ctx)


def test_sync_batchnorm_in_one_process_says_it_changes_nothing(tmp_path, registry):
    lines: list[str] = []
    config = cganzoo.resolve_config("toy-gan", overrides={"sync_batchnorm": True, "device": "cpu"})
    Trainer(config, tmp_path / "run", registry=registry, progress=False, log=lines.append)
    assert any(line.startswith("cganzoo: --sync-batchnorm has no effect in a single process") for line in lines), lines


def test_workers_get_the_users_run_flags_and_torchrun_gets_the_launchers():
    args = build_parser().parse_args(["run", "mlp-cgan", "--nproc", "2", "--lr", "0.001", "--no-progress",
                                      "--sync-batchnorm", "--dist-timeout", "30", "--device", "cuda"])
    workers = worker_argv(args, args.run_parser, out=Path("runs/x"))
    again = build_parser().parse_args(workers)
    assert again.nproc is None and again.model == "mlp-cgan" and again.lr == 0.001 and again.no_progress
    assert again.sync_batchnorm is True and again.dist_timeout_s == 30.0 and again.out == Path("runs/x")
    assert torchrun_argv(args, workers)[:5] == ["--nproc-per-node", "2", "--max-restarts", "0", "--standalone"]
    multi = build_parser().parse_args(["run", "mlp-cgan", "--nproc", "4", "--nnodes", "2", "--rdzv-backend", "c10d",
                                       "--rdzv-endpoint", "node0:29500", "--rdzv-id", "job7"])
    argv = torchrun_argv(multi, ["run", "mlp-cgan"])
    assert "--standalone" not in argv
    assert argv[4:] == ["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "node0:29500",
                        "--rdzv-id", "job7", "-m", "cganzoo", "run", "mlp-cgan"]


@pytest.mark.parametrize("flags, message", [
    (["--nproc", "3"], "--batch-size 64 is the global batch and must split evenly over 3 processes"),
    (["--nproc", "2", "--nnodes", "3"], "must split evenly over 6 processes"),
    (["--nproc", "two"], "--nproc must be a positive integer or one of gpu, cpu, auto, got 'two'"),
    (["--nnodes", "2"], "--nnodes is a torchrun option: give it with --nproc N"),
    # What every rank would refuse is refused once, before torchrun starts any process.
    (["--nproc", "2", "--device", "cpu", "--sync-batchnorm"], "sync_batchnorm needs CUDA"),
    (["--nproc", "2", "--device", "cpu", "--cuda-graphs"], "cuda_graphs needs a CUDA device"),
    (["--nproc", "2", "--device", "tpu"], "device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got 'tpu')"),
])
def test_bad_launch_flags_are_one_line_errors(flags, message, capsys):
    assert main(["run", "mlp-cgan", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cganzoo: error: ") and message in err and len(err.splitlines()) == 1


def test_nproc_under_torchrun_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert main(["run", "mlp-cgan", "--nproc", "2"]) == 2
    assert "already runs under torchrun" in capsys.readouterr().err
