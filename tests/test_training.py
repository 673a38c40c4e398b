"""The open training core: n_dis, per-player optimizers, the EMA of G, TensorBoard, third-party callbacks
and optimizers, each resumed exactly; what a run records about its plugins."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest
import torch

import cganzoo
import cganzoo.api
from cganzoo.cli import main
from cganzoo.components.discovery import load_plugins
from cganzoo.training import Trainer
from conftest import TOY_ENTRY_POINT, add_entry_points

TRAINING_PLUGIN = importlib.metadata.EntryPoint(name="training-test", value="training_plugin", group="cganzoo")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def quiet(_):
    pass


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 12, "device": "cpu", "log_interval": 4, "sample_interval": 6, "checkpoint_interval": 5,
            "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def make(tmp_path, registry, name, resume=False, **overrides):
    return Trainer(toy_config(tmp_path, name, **overrides), tmp_path / name, resume=resume, registry=registry,
                   progress=False, log=quiet)


# -- n_dis ----------------------------------------------------------------------------------------


def test_n_dis_makes_that_many_d_updates_per_step_each_on_its_own_batch(tmp_path, registry):
    trainer = make(tmp_path, registry, "run", d_steps_per_g_step=3, max_steps=4)
    assert len(trainer.batches) == 512 // (32 * 3)  # steps per epoch: each step takes three batches
    trainer.run()
    g_steps = {int(s["step"]) for s in trainer.state.optimizers.generator.optimizer.state.values()}
    d_steps = {int(s["step"]) for s in trainer.state.optimizers.discriminator.optimizer.state.values()}
    assert g_steps == {4} and d_steps == {12}


def test_an_n_dis_step_is_the_plain_loop_it_describes(tmp_path, registry):
    """G update on fresh noise, D update 1 on batch 1 with G's fakes, D updates 2..k on their batches with
    fresh fakes of the updated G: written out plainly, bit for bit."""
    k = 3
    a, b = make(tmp_path, registry, "a", d_steps_per_g_step=k), make(tmp_path, registry, "b", d_steps_per_g_step=k)
    G, D, loss, noise = a.generator, a.discriminator, a.loss, a.state.noise
    opt_g, opt_d = a.state.optimizers.generator.optimizer, a.state.optimizers.discriminator.optimizer
    expected = []
    batches = a.batches.epoch(0)
    torch.manual_seed(5)  # dropout's draws
    for _ in range(2):
        real, labels = next(batches)
        z = torch.randn(32, 100, generator=noise)
        y = torch.randint(0, 10, (32,), generator=noise)
        opt_g.zero_grad()
        fake = G(z, y)
        g_loss = loss.generator_loss(D(fake, y))
        g_loss.backward()
        opt_g.step()
        d_losses = []
        for j in range(k):
            if j:
                z = torch.randn(32, 100, generator=noise)
                y = torch.randint(0, 10, (32,), generator=noise)
                with torch.no_grad():
                    fake = G(z, y)
            opt_d.zero_grad()
            d_loss = loss.discriminator_loss(D(real[32 * j:32 * (j + 1)], labels[32 * j:32 * (j + 1)]),
                                             D(fake.detach(), y))
            d_loss.backward()
            opt_d.step()
            d_losses.append(d_loss.detach())
        expected.append(((d_losses[0] + d_losses[1] + d_losses[2]) / 3).item())
    got = []
    batches = b.batches.epoch(0)
    torch.manual_seed(5)
    for _ in range(2):
        d, _ = b.train_step(*next(batches))
        b.state.step += 1
        got.append(d.item())
    assert got == expected
    for p, q in zip(a.generator.state_dict().values(), b.generator.state_dict().values()):
        assert torch.equal(p, q)


# -- the EMA of G ----------------------------------------------------------------------------------


class RecordG(cganzoo.Callback):
    def __init__(self):
        self.after = []

    def on_step_end(self, trainer, end):
        self.after.append({k: v.detach().clone() for k, v in trainer.generator.state_dict().items()})


def test_the_ema_is_the_exponential_average_of_g_after_its_start(tmp_path, registry):
    record = RecordG()
    config = toy_config(tmp_path, callbacks=[{"name": "ema", "params": {"decay": 0.9, "start": 3}}], max_steps=7)
    trainer = Trainer(config, tmp_path / "run", registry=registry, progress=False, log=quiet, callbacks=[record])
    trainer.run()
    expected = {k: v.clone() for k, v in record.after[2].items()}  # steps 1-3 copy G
    for weights in record.after[3:]:
        for k in expected:
            if expected[k].is_floating_point():
                expected[k] = 0.9 * expected[k] + 0.1 * weights[k]
    ema = trainer.sampling_generator().state_dict()
    for k, v in expected.items():
        if v.is_floating_point():
            torch.testing.assert_close(ema[k], v, rtol=1e-6, atol=1e-7, msg=k)
    first = next(k for k, v in ema.items() if v.is_floating_point())
    assert not torch.equal(ema[first], trainer.generator.state_dict()[first])


def test_grids_sample_eval_and_load_use_the_ema_and_say_so(tmp_path, registry, capsys):
    config = toy_config(tmp_path, callbacks=[{"name": "ema", "params": {"decay": 0.8}}], max_steps=6)
    run = cganzoo.train(config, progress=False, log=quiet, registry=registry)
    checkpoint = run / "checkpoints" / "step_000000006"
    assert (checkpoint / "generator_ema.safetensors").is_file()
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["sampling"]["label"] == "ema" and "decay 0.8" in state["sampling"]["description"]
    ema, trained = cganzoo.load(run, registry=registry), cganzoo.load(run, registry=registry, weights="trained")
    assert ema.weights.startswith("EMA of G's weights") and trained.weights == "G"
    assert not torch.equal(ema.sample([3], n=2), trained.sample([3], n=2))
    assert main(["sample", str(run), "--labels", "3", "--n", "2", "-o", str(tmp_path / "g.png")]) == 0
    assert "EMA of G's weights (decay 0.8" in capsys.readouterr().out


# -- TensorBoard -----------------------------------------------------------------------------------


def read_events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def test_tensorboard_writes_losses_speed_and_grids_that_tensorboard_reads_back(tmp_path, registry):
    run = cganzoo.train(toy_config(tmp_path, callbacks=["tensorboard"]), progress=False, log=quiet, registry=registry)
    events = read_events(run / "tensorboard")
    assert {"loss/discriminator", "loss/generator", "speed/images_per_s"} <= set(events.Tags()["scalars"])
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scalars = events.Scalars("loss/discriminator")
    assert [e.step for e in scalars] == [r["step"] for r in logged] == [4, 8, 12]
    assert [e.value for e in scalars] == pytest.approx([r["d_loss"] for r in logged], rel=1e-6)
    assert [e.step for e in events.Images("samples")] == [0, 6, 12]


# -- exact resume with every option on ----------------------------------------------------------


def everything(**extra):
    return {"d_steps_per_g_step": 2, "generator_optimizer": {"lr": 1e-4}, "discriminator_optimizer": {"lr": 4e-4},
            "callbacks": [{"name": "ema", "params": {"decay": 0.9, "start": 2}}, "tensorboard"], **extra}


def snapshot(trainer):
    out = {f"G.{k}": v.clone() for k, v in trainer.generator.state_dict().items()}
    out.update({f"D.{k}": v.clone() for k, v in trainer.discriminator.state_dict().items()})
    out.update({f"EMA.{k}": v.clone() for k, v in trainer.sampling_generator().state_dict().items()})
    tensors, meta = trainer.state.state_dict()
    out.update({k: v.clone() for k, v in tensors.items()})
    out["step"], out["python"] = meta["step"], meta["python_random"]
    return out


def test_resume_is_bit_identical_with_n_dis_ttur_ema_and_tensorboard(tmp_path, registry):
    # 8 steps per epoch (two batches of 32 per step): stop at 5, mid-epoch and mid-log-window.
    straight = make(tmp_path, registry, "straight", max_steps=12, **everything())
    straight.run()
    first = make(tmp_path, registry, "split", max_steps=5, **everything())
    first.run()
    torch.manual_seed(123)
    second = make(tmp_path, registry, "split", resume=True, max_steps=12, **everything())
    assert int(second.callbacks.callbacks[0].average.n_averaged) == 4  # a copy at step 2, then steps 3, 4, 5
    second.run()
    a, b = snapshot(straight), snapshot(second)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key
    logged = lambda d: [json.loads(x) for x in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
    assert [r["d_loss"] for r in logged("straight") if r["step"] in (8, 12)] == \
        [r["d_loss"] for r in logged("split") if r["step"] in (8, 12)]
    # TensorBoard dropped nothing it should keep and kept nothing trained again.
    steps = [e.step for e in read_events(tmp_path / "split" / "tensorboard").Scalars("loss/generator")]
    assert steps == [r["step"] for r in logged("split")] == [4, 5, 8, 12]


# -- third-party callbacks and optimizers, through an entry point --------------------------------


@pytest.fixture
def plugin_registry(monkeypatch):
    add_entry_points(monkeypatch, TOY_ENTRY_POINT, TRAINING_PLUGIN)
    host = load_plugins()
    assert not host.errors, host.errors
    return host.registry


def test_a_third_party_callback_and_optimizer_train_and_resume(tmp_path, plugin_registry):
    extra = {"optimizer": "rmsprop", "callbacks": [{"name": "count-steps", "params": {"every": 2}}]}
    first = make(tmp_path, plugin_registry, "run", max_steps=5, **extra)
    assert type(first.state.optimizers.generator.optimizer) is torch.optim.RMSprop
    first.run()
    counter = first.callbacks.callbacks[0]
    assert (counter.seen, counter.logged) == (2, [4, 5])
    resumed = make(tmp_path, plugin_registry, "run", resume=True, max_steps=9, **extra)
    assert resumed.callbacks.callbacks[0].seen == 2  # restored from the checkpoint, tensor included
    resumed.run()
    assert resumed.callbacks.callbacks[0].seen == 4
    record = json.loads((tmp_path / "run" / "config.json").read_text())["components"]
    assert record["generator_optimizer"]["name"] == "rmsprop"
    assert record["generator_optimizer"]["plugin"] == "training-test"
    assert record["callbacks"] == [{"name": "count-steps", "plugin": "training-test", "distribution": None,
                                    "version": None}]


def test_config_json_records_the_plugin_and_distribution_of_every_component(tmp_path, registry):
    run = cganzoo.train(toy_config(tmp_path, max_steps=1), progress=False, log=quiet, registry=registry)
    components = json.loads((run / "config.json").read_text())["components"]
    version = importlib.metadata.version("cganzoo")
    assert components["generator"] == {"name": "mlp", "plugin": "mlp", "distribution": "cganzoo", "version": version}
    assert components["loss"]["plugin"] == "losses" and components["dataset"]["plugin"] == "toy"
    assert components["discriminator_optimizer"] == {"name": "adam", "plugin": "training",
                                                     "distribution": "cganzoo", "version": version}


def test_sampling_needs_only_the_generator_and_its_conditioner(tmp_path, monkeypatch):
    """A run trained with a discriminator from another plugin samples without that plugin installed."""
    import types
    import sys

    import cganzoo_mlp

    module = types.ModuleType("d_only_plugin")

    @cganzoo.hookimpl
    def register_networks(register):
        register("other-mlp-d", cganzoo_mlp.MLPDiscriminator, kind="discriminator", params=cganzoo_mlp.MLPDiscriminatorParams)

    module.register_networks = register_networks
    monkeypatch.setitem(sys.modules, "d_only_plugin", module)
    installed = importlib.metadata.entry_points
    d_only = importlib.metadata.EntryPoint(name="d-only", value="d_only_plugin", group="cganzoo")
    add_entry_points(monkeypatch, TOY_ENTRY_POINT, d_only)
    with_d = load_plugins().registry
    run = cganzoo.train(toy_config(tmp_path, max_steps=2, discriminator={"name": "other-mlp-d"}), progress=False,
                        log=quiet, registry=with_d)
    monkeypatch.setattr(importlib.metadata, "entry_points", installed)
    add_entry_points(monkeypatch, TOY_ENTRY_POINT)  # the discriminator's plugin is uninstalled
    without_d = load_plugins().registry
    assert "other-mlp-d" not in without_d.names("discriminator")
    images = cganzoo.load(run, registry=without_d).sample([1, 2], n=3)
    assert images.shape == (6, 1, 32, 32)


# -- the run directory -------------------------------------------------------------------------


def test_the_first_status_line_names_the_run_directory(tmp_path, registry):
    lines = []
    cganzoo.train(toy_config(tmp_path, max_steps=2), progress=False, log=lines.append, registry=registry)
    assert lines[0] == f"cganzoo: training toy-gan on toy-digits; outputs in {tmp_path / 'run'}"


def test_a_run_that_died_before_its_first_checkpoint_does_not_block_its_directory(tmp_path, registry):
    config = toy_config(tmp_path, max_steps=3)
    (tmp_path / "run" / "samples").mkdir(parents=True)
    (tmp_path / "run" / "config.json").write_text("{}")  # what a run killed in its first steps leaves
    (tmp_path / "run" / "samples" / "step_1.png").write_bytes(b"x")
    run = cganzoo.train(config, progress=False, log=quiet, registry=registry)
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_000000003"
    assert not (run / "samples" / "step_1.png").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")  # anything else is never cleared
    with pytest.raises(cganzoo.ConfigError, match="is not empty"):
        cganzoo.train(toy_config(tmp_path, "other", max_steps=3), progress=False, log=quiet, registry=registry)


# -- checkpoints written before the training core was split (format version 1) -----------------

V1_RUN = Path(__file__).resolve().parent / "data" / "checkpoint-v1"


def test_a_version_1_checkpoint_samples_evaluates_and_resumes(tmp_path, registry, capsys):
    """tests/data/checkpoint-v1: toy-gan (8 px, hidden 8) trained 2 steps by the release before the split."""
    run = shutil.copytree(V1_RUN, tmp_path / "old")
    assert json.loads((run / "checkpoints" / "step_000000002" / "state.json").read_text())["version"] == 1
    model = cganzoo.load(run, registry=registry)
    assert model.step == 2 and model.weights == "G"
    assert model.sample([1, 2], n=3).shape == (6, 1, 8, 8)
    report = cganzoo.api.evaluate_run(run, metrics=["parzen-log-likelihood"], per_class=5, registry=registry,
                                      log=quiet)
    assert report.step == 2 and report.protocol["generator"] == "G"
    resumed = Trainer(cganzoo.api.read_run_config(run)[0].model_copy(update={"max_steps": 4}), run, resume=True,
                      registry=registry, progress=False, log=quiet)
    assert resumed.step == 2
    resumed.run()
    assert cganzoo.load(run, registry=registry).step == 4


def test_a_resume_with_another_data_set_is_refused_before_any_data_is_loaded(tmp_path, registry, monkeypatch):
    cganzoo.train(toy_config(tmp_path, max_steps=2), progress=False, log=quiet, registry=registry)

    def no_data(*args, **kwargs):
        raise AssertionError("data was loaded before the changed data set was refused")

    monkeypatch.setattr("cganzoo.training.trainer.create_dataset", no_data)
    with pytest.raises(cganzoo.CheckpointError, match="cannot resume .*: dataset was {'name': 'toy-digits', "
                                                      "'params': {}} in the checkpoint but is {'name': 'mnist'"):
        make(tmp_path, registry, "run", resume=True, max_steps=4, dataset="mnist")
    with pytest.raises(cganzoo.CheckpointError, match=r"generator_optimizer was not set in the checkpoint but is "
                                                      r"{'lr': 0.001, 'weight_decay': 0.0} now"):
        make(tmp_path, registry, "run", resume=True, max_steps=4, generator_optimizer={"lr": 1e-3})


def test_a_relative_data_dir_is_recorded_as_an_absolute_path(tmp_path, toy_plugin, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert main(["run", "toy-gan", "--max-steps", "1", "--device", "cpu", "--out", "run", "--no-progress",
                 "--data-dir", "data"]) == 0
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]["data_dir"]
    assert recorded == str(tmp_path / "data")


# -- progress -------------------------------------------------------------------------------------


def test_without_a_terminal_progress_is_one_line_per_epoch_not_a_bar(tmp_path, registry, capsys):
    # Under pytest stderr is captured, as in a log file or a pipe: tqdm must not write its bar there.
    lines: list[str] = []
    config = toy_config(tmp_path, max_steps=None, epochs=2, batch_size=64)  # toy data: 8 steps per epoch
    cganzoo.train(config, progress=True, log=lines.append, registry=registry)
    epochs = [line for line in lines if line.startswith("cganzoo: epoch ")]
    assert [line.split(":")[1].split("(")[0].strip() for line in epochs] == ["epoch 1/2 done", "epoch 2/2 done"]
    assert "(step 8/16): d_loss " in epochs[0] and epochs[0].endswith(" images/s")
    assert "\r" not in capsys.readouterr().err


def plain_progress_lines(steps_per_epoch: int, total_steps: int, seconds_per_step: float,
                         interval_s: float = 30.0) -> list[str]:
    """The lines ProgressBar prints without a terminal, on a fake clock that advances one step at a time."""
    from types import SimpleNamespace

    from cganzoo.training.progress import ProgressBar

    now = [0.0]
    lines: list[str] = []
    trainer = SimpleNamespace(total_steps=total_steps, batches=range(steps_per_epoch), log=lines.append,
                              state=SimpleNamespace(step=0), config=SimpleNamespace(model="toy-gan"))
    progress = ProgressBar(clock=lambda: now[0], interval_s=interval_s)
    progress.on_fit_start(trainer)
    for step in range(1, total_steps + 1):
        now[0] += seconds_per_step
        if step == 10:
            progress.on_log(trainer, {"d_loss": 0.5, "g_loss": 0.7, "images_per_s": 1234.4})
        progress.on_step_end(trainer, SimpleNamespace(step=step, d_loss=torch.tensor(0.25), g_loss=0.75,
                                                      finished=step == total_steps))
    progress.on_fit_end(trainer)
    return lines


def test_without_a_terminal_progress_lines_come_at_most_every_30_s_then_at_the_last_step(monkeypatch):
    import io

    from cganzoo.training.progress import PLAIN_LINE_INTERVAL_S

    assert PLAIN_LINE_INTERVAL_S == 30.0
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a log file: no bar
    # 5 steps per epoch, 4 s per step: the first epoch's end (20 s), then the first step 30 s after the
    # previous line (steps 13, 21, 29, 37), then the last step.
    lines = plain_progress_lines(steps_per_epoch=5, total_steps=40, seconds_per_step=4.0)
    assert lines == [
        "cganzoo: epoch 1/8 done (step 5/40): d_loss 0.2500, g_loss 0.7500",
        "cganzoo: epoch 3/8 (step 13/40): d_loss 0.2500, g_loss 0.7500, 1,234 images/s",
        "cganzoo: epoch 5/8 (step 21/40): d_loss 0.2500, g_loss 0.7500, 1,234 images/s",
        "cganzoo: epoch 6/8 (step 29/40): d_loss 0.2500, g_loss 0.7500, 1,234 images/s",
        "cganzoo: epoch 8/8 (step 37/40): d_loss 0.2500, g_loss 0.7500, 1,234 images/s",
        "cganzoo: epoch 8/8 done (step 40/40): d_loss 0.2500, g_loss 0.7500, 1,234 images/s",
    ]
    # Long epochs (10 steps of 8 s): lines mid-epoch every 30 s or so; the first epoch's end (80 s) is no
    # reason for a line once one was printed.
    lines = plain_progress_lines(steps_per_epoch=10, total_steps=20, seconds_per_step=8.0)
    assert [line.split(":")[1] for line in lines] == [" epoch 1/2 (step 4/20)", " epoch 1/2 (step 8/20)",
                                                      " epoch 2/2 (step 12/20)", " epoch 2/2 (step 16/20)",
                                                      " epoch 2/2 done (step 20/20)"]


@pytest.fixture
def bare_logging():
    """Logging as a script or notebook has it: nothing set up for `cganzoo`, the root at WARNING; restored after."""
    import logging

    root, own = logging.getLogger(), logging.getLogger("cganzoo")
    saved = root.level, own.handlers[:], own.level, own.propagate, own.disabled
    # A library's logging.config call earlier in the session (disable_existing_loggers) may have disabled it.
    own.handlers, own.propagate, own.disabled = [], True, False
    own.setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)
    yield
    own.handlers, own.propagate, own.disabled = saved[1], saved[3], saved[4]
    own.setLevel(saved[2])
    root.setLevel(saved[0])


def test_the_api_prints_its_progress_once_by_default_and_is_silenced_as_its_docstring_says(
        tmp_path, registry, capsys, bare_logging):
    import io
    import logging

    from cganzoo.cli import _print_status_lines

    def lines_of(text):
        return [line for line in text.splitlines() if line.startswith("cganzoo: ")]

    # Nothing set up: the status and progress lines go to stdout, each once (stderr is no terminal: no bar).
    cganzoo.train(toy_config(tmp_path, "bare", max_steps=2), registry=registry)
    printed = lines_of(capsys.readouterr().out)
    assert printed[0] == f"cganzoo: training toy-gan on toy-digits; outputs in {tmp_path / 'bare'}"
    assert printed[1].startswith("cganzoo: epoch 1/1 (step 2/2): d_loss ")
    assert printed[2].startswith("cganzoo: trained to step 2 in ") and len(printed) == 3
    # Silenced as the docstring says.
    cganzoo.train(toy_config(tmp_path, "silent", max_steps=2), progress=False, log=lambda line: None,
                  registry=registry)
    assert capsys.readouterr().out == ""
    # An application that set up logging gets the lines through it, not printed a second time.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # what logging.basicConfig(level="INFO") installs
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    try:
        cganzoo.train(toy_config(tmp_path, "logged", max_steps=2), registry=registry)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    assert lines_of(capsys.readouterr().out) == []
    logged = lines_of(stream.getvalue())
    assert len(logged) == 3 and logged[0].endswith(f"outputs in {tmp_path / 'logged'}")
    # The CLI's own handler (what `cganzoo run` installs before calling the API): each line once.
    _print_status_lines()
    cganzoo.train(toy_config(tmp_path, "cli", max_steps=2), registry=registry)
    printed = lines_of(capsys.readouterr().out)
    assert len(printed) == 3 and printed[0].endswith(f"outputs in {tmp_path / 'cli'}")
