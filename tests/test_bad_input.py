"""Bad input is refused before training, loudly: labels, image ranges, batch of one, plugins, config files."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import sys
import types

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cganzoo
import toy_plugin
from cganzoo import DatasetInfo, LabelledImages, hookimpl
from cganzoo.components import discovery as plugins
from cganzoo.cli import main
from cganzoo.config import RunConfig
from cganzoo.errors import ConfigError, DataError, LabelError, PluginError
from cganzoo.training import Trainer
from conftest import TOY_ENTRY_POINT, add_entry_points


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 4, "device": "cpu", "log_interval": 2, "sample_interval": 1000,
            "checkpoint_interval": 1000, "out": str(tmp_path / name), "batch_size": 32}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def quiet(_):
    pass


def install(monkeypatch, name, module):
    """Install ``module`` as a third-party plugin called ``name`` (an entry point, as pip would)."""
    monkeypatch.setitem(sys.modules, module.__name__, module)
    add_entry_points(monkeypatch, TOY_ENTRY_POINT,
                     importlib.metadata.EntryPoint(name=name, value=module.__name__, group="cganzoo"))


def dataset_plugin(name, factory):
    module = types.ModuleType(f"{name.replace('-', '_')}_plugin")

    @hookimpl
    def register_datasets(register):
        register(name, factory)

    module.register_datasets = register_datasets
    return module


# -- labels -------------------------------------------------------------------------------------


def _labelled(labels, num_classes=10, images=None):
    info = DatasetInfo("bad-digits", num_classes, tuple(str(i) for i in range(num_classes)), (1, 28, 28))
    images = images if images is not None else toy_plugin.encode(torch.zeros(len(labels), dtype=torch.int64))
    return LabelledImages(images, labels, info)


@pytest.mark.parametrize("labels, num_classes, message", [
    (torch.tensor([0, 1, 2, 10] * 16), 10, r"bad-digits train split: label 10 at position 3 is outside \[0, 10\)"),
    (torch.tensor([0, -1] * 32), 10, r"bad-digits train split: label -1 at position 1 is outside \[0, 10\)"),
    (torch.tensor([0.0, 1.0] * 32), 10, r"bad-digits train split: labels must be an integer tensor \(any integer "
                                        r"dtype, used as int64\), got dtype torch.float32"),
    (torch.arange(64) % 10, 5, r"bad-digits train split: label 5 at position 5 is outside \[0, 5\) "
                               r"\(the data set has 5 classes\)"),
])
def test_bad_dataset_labels_are_named_before_training(tmp_path, monkeypatch, capsys, labels, num_classes, message):
    install(monkeypatch, "bad", dataset_plugin("bad-digits", lambda data_dir=None, log=print:
                                               _labelled(labels, num_classes)))
    with pytest.raises(LabelError, match=message):
        cganzoo.train(toy_config(tmp_path, dataset="bad-digits"), progress=False, log=quiet)
    assert not (tmp_path / "run" / "config.json").exists()  # nothing trained, no device ever saw them
    assert main(["run", "toy-gan", "--dataset", "bad-digits", "--out", str(tmp_path / "cli"), "--device", "cpu",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# -- the range of real images -------------------------------------------------------------------


def test_real_images_outside_the_generator_range_are_refused_on_the_first_batch(tmp_path, registry):
    trainer = Trainer(toy_config(tmp_path), tmp_path / "run", registry=registry, progress=False, log=quiet)
    unit_batches = trainer.batches.epoch

    def mean_std_normalised(epoch, start=0):  # what a torchvision Normalize((0.1307,), (0.3081,)) pipeline gives
        for x, y in unit_batches(epoch, start):
            yield ((x + 1) / 2 - 0.1307) / 0.3081, y

    trainer.batches.epoch = mean_std_normalised
    with pytest.raises(DataError, match=r"real images of data set 'toy-digits' lie in \[-0.424, 2.821\], but "
                                        r"generators produce \[-1, 1\] \(tanh\).*not by a mean/std normalisation"):
        trainer.run()
    assert trainer.step == 0  # refused before the first update


def test_images_in_range_pass_the_check(tmp_path, registry):
    trainer = Trainer(toy_config(tmp_path), tmp_path / "run", registry=registry, progress=False, log=quiet)
    trainer.run()
    assert trainer.step == 4


# -- images and labels stay paired --------------------------------------------------------------


def test_images_and_labels_stay_paired_through_the_trainers_resize_shuffle_and_resume_position(tmp_path, registry):
    trainer = Trainer(toy_config(tmp_path, img_size=20, drop_last=False), tmp_path / "run", registry=registry,
                      progress=False, log=quiet)
    batches = trainer.batches
    assert batches.images.shape[1:] == (1, 20, 20)  # 28 -> 20
    for epoch in range(3):
        seen = []
        for x, y in batches.epoch(epoch):
            assert torch.equal(toy_plugin.decode(x), y)
            seen.append(y)
        assert torch.cat(seen).sort().values.tolist() == sorted((torch.arange(512) % 10).tolist())
    for start in (1, 7, 15):  # resuming mid-epoch yields the same pairs as the uninterrupted epoch
        full = list(batches.epoch(2))[start:]
        for (x, y), (xf, yf) in zip(batches.epoch(2, start), full):
            assert torch.equal(x, xf) and torch.equal(y, yf) and torch.equal(toy_plugin.decode(x), y)


# -- a batch of one with BatchNorm --------------------------------------------------------------


TAIL_OF_ONE = {"name": "toy-digits", "params": {"size": 33}}  # batch 32: each epoch ends in a batch of one


def test_a_last_batch_of_one_is_skipped_for_batchnorm_instead_of_crashing(tmp_path, registry):
    # With drop_last=False, a last batch of one image would reach BatchNorm in training mode
    # and crash mid-epoch ("Expected more than 1 value per channel when training").
    lines = []
    trainer = Trainer(toy_config(tmp_path, drop_last=False, max_steps=None, epochs=3, dataset=TAIL_OF_ONE),
                      tmp_path / "run", registry=registry, progress=False, log=lines.append)
    assert trainer.batches.images.shape[0] == 33 and len(trainer.batches) == 1
    assert ("cganzoo: the last batch of each epoch would hold 1 image(s), too few for BatchNorm in training mode; "
            "it is skipped (1 batches per epoch)") in lines
    trainer.run()
    assert trainer.step == 3


def test_a_model_without_batchnorm_keeps_its_last_batch_of_one(tmp_path, registry):
    no_bn = {"name": "mlp", "params": {"hidden": [32]}}  # the MLP generator has BatchNorm from its 2nd block on
    trainer = Trainer(toy_config(tmp_path, drop_last=False, max_steps=None, epochs=2, generator=no_bn,
                                 dataset=TAIL_OF_ONE), tmp_path / "run", registry=registry, progress=False, log=quiet)
    assert len(trainer.batches) == 2 and [y.numel() for _, y in trainer.batches.epoch(0)] == [32, 1]
    trainer.run()
    assert trainer.step == 4


def test_batch_size_one_with_batchnorm_is_refused_before_training(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"generator 'mlp' needs batches of at least 2 to train \(BatchNorm over "
                                          r"the batch\), but batch_size is 1; use --batch-size 2 or more"):
        Trainer(toy_config(tmp_path, batch_size=1), tmp_path / "run", registry=registry, progress=False, log=quiet)
    assert not (tmp_path / "run").exists()  # the corrected retry may use the same --out
    Trainer(toy_config(tmp_path, batch_size=2), tmp_path / "run", registry=registry, progress=False, log=quiet)


def test_a_batch_larger_than_the_data_set_is_one_line(tmp_path, toy_plugin, capsys):
    code = main(["run", "toy-gan", "--batch-size", "1000", "--out", str(tmp_path / "run"), "--device", "cpu",
                 "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "cganzoo: error: batch_size 1000 is larger than the data set 'toy-digits' (512 training images); "
        "use --batch-size 512 or less"]


def test_drop_last_is_the_default():
    assert RunConfig().drop_last is True


# -- third-party plugins ------------------------------------------------------------------------


def test_a_plugin_that_exits_at_import_is_reported_and_skipped(monkeypatch, tmp_path):
    (tmp_path / "exiting_plugin.py").write_text("import sys\nsys.exit('this plugin quits on import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    add_entry_points(monkeypatch, TOY_ENTRY_POINT,
                     importlib.metadata.EntryPoint(name="exiter", value="exiting_plugin", group="cganzoo"))
    host = plugins.load_plugins()
    assert ("plugin 'exiter' (exiting_plugin) failed to load and was skipped: SystemExit: this plugin quits on "
            "import") in host.errors
    assert "toy-digits" in host.registry.names("dataset") and "mlp-cgan" in host.registry.names("model")


def test_a_hook_that_calls_sys_exit_is_reported_and_skipped(monkeypatch):
    module = types.ModuleType("exiting_hook_plugin")

    @hookimpl
    def register_losses(register):
        sys.exit(3)

    module.register_losses = register_losses
    install(monkeypatch, "exiter", module)
    host = plugins.load_plugins()
    assert any(e.startswith("plugin 'exiter': hook register_losses raised SystemExit") for e in host.errors)
    assert "mse" in host.registry.names("loss") and "toy-digits" in host.registry.names("dataset")


def test_a_plugin_factory_that_raises_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    def broken(data_dir=None, log=print):
        raise RuntimeError("cannot reach my bucket")

    install(monkeypatch, "cloudy", dataset_plugin("cloud-digits", broken))
    with pytest.raises(PluginError, match=r"^dataset 'cloud-digits' \(from plugin 'cloudy'\) failed to build: "
                                          r"RuntimeError: cannot reach my bucket$") as info:
        cganzoo.train(toy_config(tmp_path, dataset="cloud-digits"), progress=False, log=quiet)
    assert isinstance(info.value.__cause__, RuntimeError)  # the original is kept for debugging
    code = main(["run", "toy-gan", "--dataset", "cloud-digits", "--out", str(tmp_path / "cli"), "--no-progress",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and err.strip().splitlines() == [
        "cganzoo: error: dataset 'cloud-digits' (from plugin 'cloudy') failed to build: RuntimeError: cannot reach "
        "my bucket"]


@pytest.mark.parametrize("factory, message", [
    (lambda data_dir=None, log=print: {"images": []}, r"dataset 'odd' \(from plugin 'odd'\) returned dict, not "
                                                     r"LabelledImages"),
    (lambda data_dir=None, log=print: _labelled(torch.zeros(4, dtype=torch.int64),
                                                images=torch.zeros(4, 1, 28, 28)),
     r"dataset 'odd' \(from plugin 'odd'\) failed to build: ValueError: bad-digits: train images must be uint8"),
])
def test_a_dataset_plugin_returning_the_wrong_thing_is_named(tmp_path, monkeypatch, factory, message):
    install(monkeypatch, "odd", dataset_plugin("odd", factory))
    with pytest.raises(PluginError, match=message):
        cganzoo.train(toy_config(tmp_path, dataset="odd"), progress=False, log=quiet)


# -- config files -------------------------------------------------------------------------------


class _StopBeforeData(Exception):
    pass


def _stop_before_data(*args, **kwargs):
    raise _StopBeforeData


def _run_cli(argv):
    """Run ``cganzoo`` in-process; return (exit code or "valid", stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except _StopBeforeData:
            code = "valid"
    return code, err.getvalue()


def _assert_one_line_or_valid(code, err):
    if code == "valid":  # the config passed every check; training would have started
        return
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("cganzoo: error: "), err


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                                        max_size=4),
                     max_leaves=16)
_FIELDS = st.sampled_from(sorted(RunConfig.model_fields) + ["model", "bacth_size", ""])
_WRONG_TYPES = st.dictionaries(_FIELDS, _JSON | st.sampled_from(["mlp", "toy-gan", "toy-digits", "mse", "-1", "1e9"]),
                               max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=64).map(lambda b: ("bytes", b)),
    st.text(max_size=80).map(lambda t: ("text", t)),
    _WRONG_TYPES.map(lambda d: ("yaml", d)),
    _WRONG_TYPES.map(lambda d: ("json", d)),
    st.integers(1, 3000).map(lambda n: ("deep", n)),
), suffix=st.sampled_from([".yaml", ".yml", ".json"]))
def test_malformed_config_files_through_the_cli_are_one_line(tmp_path_factory, toy_plugin, data, suffix):
    kind, value = data
    directory = tmp_path_factory.mktemp("cfg")
    path = directory / f"config{suffix}"
    if kind == "bytes":
        path.write_bytes(value)
    elif kind == "text":
        path.write_bytes(value.encode("utf-8", errors="surrogatepass"))
    elif kind == "yaml":
        path.write_text(yaml.safe_dump(value))
    elif kind == "json":
        path.write_text(json.dumps(value))
    else:
        path.write_text("[" * value + "]" * value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cganzoo.training.trainer.create_dataset", _stop_before_data)
        code, err = _run_cli(["run", "--config", str(path), "--out", str(directory / "run"), "--device", "cpu",
                              "--no-progress"])
        _assert_one_line_or_valid(code, err)
        code, err = _run_cli(["run", "toy-gan", "--config", str(path), "--out", str(directory / "run2"),
                              "--no-progress"])
        _assert_one_line_or_valid(code, err)


@pytest.mark.parametrize("text, message", [
    pytest.param("model: [1, 2]\n", "invalid config: model: must be the name of a registered model (got [1, 2])",
                 id="model-list"),
    ("model: {a: 1}\n", "invalid config: model: must be the name of a registered model (got {'a': 1})"),
    pytest.param("[" * 5000, "is not valid YAML", id="nested-5000-deep"),
    ("generator: {name: mlp, params: {hidden: 'wide'}}\n", "generator 'mlp': hidden"),
    ("epochs: 1e400\n", "epochs: Input should be a valid integer"),
    ("2020-01-01: 3\n", "Keys should be strings"),
    ("!!python/object/apply:os.system ['echo pwned']\n", "is not valid YAML: could not determine a constructor"),
])
def test_config_files_found_to_escape_as_tracebacks(tmp_path, toy_plugin, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cganzoo.training.trainer.create_dataset", _stop_before_data)
        code, err = _run_cli(["run", "--config", str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


# -- cganzoo sample -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["--labels", ""], "cganzoo: error: no labels given; name class indices in [0, 10) or class names, e.g. 3,7 "
                       "or class 0,class 1"),
    (["--labels", ",,"], "cganzoo: error: label at position 0 of ',,' is empty"),
    (["--labels", "3.5"], "cganzoo: error: label '3.5' at position 0 is not a class index in [0, 10) or a class name"),
    (["--labels", "-1"], "cganzoo: error: label -1 at position 0 is outside [0, 10)"),
    (["--labels", "3,7", "--n", "100000000"], "cganzoo: error: 2 label(s) x --n 100000000 is more than 10000 images "
                                              "for one grid"),
    (["--labels", "3", "--n", "0"], "cganzoo: error: --n must be at least 1, got 0"),
    (["--labels", "3", "-o", "grid.jpg"], "cganzoo: error: -o 'grid.jpg': cganzoo sample writes PNG; name a .png file"),
])
def test_bad_sample_requests_are_one_line(tmp_path, toy_plugin, capsys, argv, message):
    run_dir = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "1", "--device", "cpu", "--out", str(run_dir), "--no-progress"]) == 0
    capsys.readouterr()
    code = main(["sample", str(run_dir), "-o", str(tmp_path / "g.png"), *argv])
    err = capsys.readouterr().err
    assert code in (1, 2) and err.startswith(message) and len(err.strip().splitlines()) == 1, err


# -- found by a fresh-user trial: one line and exit 2, never a traceback ------------------------


@pytest.fixture
def trained_toy_run(tmp_path, toy_plugin, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(run_dir), "--no-progress"]) == 0
    capsys.readouterr()
    return run_dir


@pytest.mark.parametrize("argv, message", [
    (["sample", "{run}", "--labels", "3", "--device", "tpu", "-o", "{tmp}/g.png"],
     "cganzoo: error: device 'tpu' is not a device; use auto, cpu, cuda or cuda:N"),
    (["eval", "{run}", "--device", "tpu"], "cganzoo: error: device 'tpu' is not a device"),
    (["sample", "{run}", "--labels", "3", "--device", "meta", "-o", "{tmp}/g.png"],
     "cganzoo: error: device 'meta' is not supported; use auto, cpu, cuda or cuda:N"),
    (["sample", "{tmp}/nowhere", "--labels", "3", "-o", "{tmp}/g.png"],
     "cganzoo: error: run directory '{tmp}/nowhere' does not exist"),
    (["eval", "{tmp}"], "cganzoo: error: '{tmp}' is not a cganzoo run: it holds no config.json"),
    (["run", "--resume", "{tmp}/nowhere"], "cganzoo: error: run directory '{tmp}/nowhere' does not exist"),
    (["sample", "{run}", "--labels", "3", "-o", "{tmp}/missing/g.png"],
     "cganzoo: error: -o '{tmp}/missing/g.png': directory '{tmp}/missing' does not exist"),
    (["run", "--resume", "{run}", "--max-steps", "1"],
     "cganzoo: error: '{run}' is already at step 2 (its latest checkpoint), and --max-steps 1 ends there: "
     "nothing to train"),
    # The same refusal once, before torchrun starts ranks that would each refuse it.
    (["run", "--resume", "{run}", "--max-steps", "2", "--nproc", "2", "--device", "cpu"],
     "cganzoo: error: '{run}' is already at step 2 (its latest checkpoint), and --max-steps 2 ends there"),
    (["run", "toy-gan", "--device", "cpu", "--out", "{run}/config.json"],
     "cganzoo: error: run directory '{run}/config.json' is a file, not a directory"),
    (["run", "--resume", "{run}", "--out", "{tmp}/missing", "--max-steps", "4"],
     "cganzoo: error: --resume continues '{run}' in that directory; --out '{tmp}/missing' names another"),
    (["run", "--resume", "{run}", "--latent-dim", "7"],
     "cganzoo: error: cannot resume '{run}': latent_dim was 100 in the checkpoint but is 7 now"),
    (["eval", "{run}", "--data-dir", "{tmp}/missing"], "cganzoo: error: --data-dir '{tmp}/missing' does not exist"),
])
def test_mistakes_a_new_user_made_are_one_line_with_exit_2(trained_toy_run, tmp_path, capsys, argv, message):
    fill = {"run": str(trained_toy_run), "tmp": str(tmp_path)}
    code = main([part.format(**fill) for part in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message.format(**fill)) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "missing").exists()  # sample -o creates no directories


def test_a_closed_pipe_ends_the_listing_quietly(toy_plugin):
    import subprocess

    # `cganzoo list | head -0`: the reader is gone before the first line is written
    # (the command takes a second to import torch), so every write meets a closed pipe.
    listing = subprocess.Popen([sys.executable, "-m", "cganzoo", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    listing.stdout.close()
    err = listing.stderr.read().decode()
    assert listing.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
