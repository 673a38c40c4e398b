"""Whole kinds of failure found by trying cganzoo as a new user would, each pinned by tests.

Strict JSON everywhere; labels of any integer dtype, and no silent rounding or
dropped list items; plugin name collisions with one documented rule; tied
weights through checkpoint and resume; file modes that follow the umask;
outputs checked before the work; one-line errors with details behind --verbose.
"""

from __future__ import annotations

import re

import importlib.metadata
import json
import math
import os
import stat
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import cganzoo
from cganzoo import DatasetInfo, GeneratorNetwork, LabelledImages, hookimpl, io
from cganzoo.components import discovery as plugins
from cganzoo.cli import main
from cganzoo.errors import ConfigError, DataError, LabelError
from cganzoo.evaluation import MetricResult
from conftest import TOY_ENTRY_POINT, add_entry_points

sys.path.insert(0, str(Path(__file__).parent / "evaluation"))
from judges import toy_data, toy_judge_dir  # noqa: E402,F401  (fixtures)

import toy_plugin  # noqa: E402


def strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity, as strict parsers (JavaScript, Go, jq) do."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def quiet(_):
    pass


def toy_config(tmp_path, name="run", **overrides):
    base = {"max_steps": 2, "device": "cpu", "log_interval": 1, "sample_interval": 1000,
            "checkpoint_interval": 1000, "out": str(tmp_path / name), "batch_size": 16}
    return cganzoo.resolve_config("toy-gan", overrides={**base, **overrides})


def install(monkeypatch, *modules: tuple[str, types.ModuleType], toy: bool = True) -> None:
    """Install modules as third-party plugins (entry points, as pip would), in the order given."""
    for _, module in modules:
        monkeypatch.setitem(sys.modules, module.__name__, module)
    eps = [importlib.metadata.EntryPoint(name=name, value=module.__name__, group="cganzoo") for name, module in modules]
    add_entry_points(monkeypatch, *([TOY_ENTRY_POINT] if toy else []), *eps)


# -- 1. strict JSON: an undefined value is null, with a note saying why -----------------------------


def test_eval_with_one_sample_per_class_prints_and_logs_strict_json(toy_plugin, toy_judge_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--batch-size", "16", "--data-dir", str(toy_judge_dir), "--eval", "--eval-samples-per-class", "1"]) == 0
    records = [strict_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    fd = records[-1]["eval"]["metrics"]["judge-frechet-distance"]
    assert fd["values"]["fd_per_class"] == [None] * 10 and fd["values"]["fd_intra_class_mean"] is None
    assert any("fd_per_class is null for class(es) 0, 1" in n and "too few for a covariance" in n for n in fd["notes"])
    assert any("fd_intra_class_mean is null" in n for n in fd["notes"])
    # Fewer images than feature dimensions: the value stays (it is finite and exact for the fitted
    # Gaussians) and a note says it is biased.
    assert isinstance(fd["values"]["fd"], float) and any("feature dimensions" in n for n in fd["notes"])
    capsys.readouterr()

    report = tmp_path / "report.json"
    assert main(["eval", str(out), "--per-class", "1", "--json", "-o", str(report)]) == 0
    printed = strict_json(capsys.readouterr().out)
    assert printed == strict_json(report.read_text())
    assert printed["metrics"]["judge-frechet-distance"]["values"]["fd_per_class"] == [None] * 10
    assert main(["eval", str(out), "--per-class", "1"]) == 0  # the table shows them as n/a, not nan
    table = capsys.readouterr().out
    assert re.search(r"^  fd_intra_class_mean +n/a$", table, re.MULTILINE) and "nan" not in table


def test_a_class_without_samples_is_null_with_a_note(toy_data, toy_judge_dir):
    from cganzoo.evaluation import evaluate_samples

    labels = torch.tensor([0, 0, 1, 1, 2, 2], dtype=torch.int32)  # classes 3..9 have no samples; int32 is fine
    samples = toy_plugin.encode(labels.long()).float() / 127.5 - 1
    report = evaluate_samples(samples, labels, toy_data, metrics=["conditional-accuracy", "judge-precision-recall"],
                              cache_root=toy_judge_dir, log=quiet)
    record = strict_json(json.dumps(report.to_json(), allow_nan=False))
    accuracy = record["metrics"]["conditional-accuracy"]
    assert accuracy["values"]["per_class_accuracy"][3:] == [None] * 7
    assert any("no generated image of that class" in n and "3, 4, 5" in n for n in accuracy["notes"])
    pr = record["metrics"]["judge-precision-recall"]  # 6 > k=3: defined; now with only 3 images it is not
    assert pr["values"]["precision"] is not None
    few = evaluate_samples(samples[:3], labels[:3], toy_data, metrics=["judge-precision-recall"],
                           cache_root=toy_judge_dir, log=quiet).to_json()
    assert few["metrics"]["judge-precision-recall"]["values"] == {"precision": None, "recall": None}
    assert "k=3 nearest-neighbour radii need more than 3" in few["metrics"]["judge-precision-recall"]["notes"][0]


def test_a_third_party_metric_returning_nan_or_infinity_is_written_as_null_with_a_note():
    result = MetricResult({"score": float("nan"), "per": [1.0, float("inf")], "fine": 2.0}, {"seed": 0},
                          ("about score: explained by the metric",))
    record = result.to_json()
    assert record["values"] == {"score": None, "per": [1.0, None], "fine": 2.0}
    assert record["notes"][-1] == "per: not finite (NaN or infinite) in this evaluation, written as null"
    strict_json(json.dumps(record, allow_nan=False))


def test_every_json_writer_is_strict(tmp_path, capsys):
    assert strict_json(io.dumps_json({"a": [float("nan"), {"b": float("-inf")}], "c": (1, 2)})) == \
        {"a": [None, {"b": None}], "c": [1, 2]}
    io.atomic_write_json(tmp_path / "x.json", {"v": float("inf")})
    assert strict_json((tmp_path / "x.json").read_text()) == {"v": None}
    for argv in (["list", "--json"], ["plugins", "--json"]):
        assert main(argv) == 0
        strict_json(capsys.readouterr().out)


def test_bench_results_are_strict_json(tmp_path):
    from cganzoo.bench.report import write_json
    from cganzoo.bench.suite import BenchResult

    result = BenchResult(machine={"cpu": "x"}, options={"ratio": float("inf")}, rows=[], matmul=[], seconds=float("nan"),
                         load_average_end=None, train_size=0, quality=[])
    write_json(result, tmp_path / "b.json")
    record = strict_json((tmp_path / "b.json").read_text())
    assert record["seconds"] is None and record["options"]["ratio"] is None


# -- 3. two plugins, one name ------------------------------------------------------------------------


def _models_plugin(module_name: str, *names: str) -> types.ModuleType:
    module = types.ModuleType(module_name)

    @hookimpl
    def register_models(register):
        for name in names:
            register(name, {"loss": "bce"}, description=f"{module_name}'s {name}")

    module.register_models = register_models
    return module


@pytest.mark.parametrize("order", ["acme-first", "acme-last"])
def test_a_third_party_plugin_cannot_take_a_builtin_name_or_remove_the_builtin_plugin(monkeypatch, order):
    acme = ("acme", _models_plugin("acme_plugin", "mlp-cgan", "acme-gan"))
    zeta = ("zeta", _models_plugin("zeta_plugin", "acme-gan", "zeta-gan"))
    install(monkeypatch, *([acme, zeta] if order == "acme-first" else [zeta, acme]), toy=False)
    host = plugins.load_plugins()
    reg = host.registry
    # The built-in mlp plugin keeps its name and every other model it registers.
    assert reg.get("model", "mlp-cgan").plugin == "mlp"
    assert {"mlp-cgan-bce", "mlp-cgan-one-hot", "mlp-cgan-corrected-bn"} <= set(reg.names("model"))
    # Between third-party plugins the first by name keeps it; nothing that does not collide is lost.
    assert reg.get("model", "acme-gan").plugin == "acme" and reg.get("model", "zeta-gan").plugin == "zeta"
    assert sorted(host.errors) == sorted([
        "model 'mlp-cgan' is registered by plugins 'mlp' and 'acme'; 'mlp' keeps the name (built-in plugins first, "
        "then by plugin name); the one from 'acme' is skipped, its other components are kept",
        "model 'acme-gan' is registered by plugins 'acme' and 'zeta'; 'acme' keeps the name (built-in plugins first, "
        "then by plugin name); the one from 'zeta' is skipped, its other components are kept"])


def test_a_plugin_whose_second_registration_fails_registers_nothing(monkeypatch):
    module = types.ModuleType("half_plugin")

    @hookimpl
    def register_losses(register):
        register("half-loss", object)

    @hookimpl
    def register_models(register):
        register("half-gan", {"loss": "half-loss"})
        register("half-gan", {"loss": "bce"})  # the same name twice inside one plugin

    module.register_losses, module.register_models = register_losses, register_models
    install(monkeypatch, ("half", module), toy=False)
    host = plugins.load_plugins()
    (line,) = host.errors
    assert line.startswith("plugin 'half': hook register_models raised DuplicateComponentError: model 'half-gan' "
                           "is registered twice") and line.endswith("none of its components were registered")
    assert "half-loss" not in host.registry.names("loss") and "half-gan" not in host.registry.names("model")
    assert "mlp-cgan" in host.registry.names("model")


def test_a_plugin_validation_warning_is_one_line_with_details_behind_verbose(monkeypatch, capsys):
    module = types.ModuleType("mismatched_plugin")

    @hookimpl
    def register_losses(register, extra):  # a parameter the hook spec does not have
        pass

    module.register_losses = register_losses
    install(monkeypatch, ("mismatched", module), toy=False)
    assert main(["list", "loss"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("cganzoo: warning:")]
    assert len(warnings) == 1 and len(err.strip().splitlines()) == 1, err
    assert "register_losses" in warnings[0] and "extra" in warnings[0]
    plugins.reset_default_host()
    assert main(["list", "loss", "--verbose"]) == 0
    assert len(capsys.readouterr().err.strip().splitlines()) > 1


def test_the_collision_rule_is_documented():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    assert "built-in plugins first, then by plugin name" in guide


# -- 4. labels of any integer type; no silent rounding; no dropped items ------------------------------


def _toy_with_labels(dtype):
    def make(data_dir=None, log=print):
        data = toy_plugin.make_toy(size=64)
        return LabelledImages(data.images, data.labels.to(dtype), data.info, data.test_images,
                              data.test_labels.to(dtype))
    return make


def _dataset_module(name, factory):
    module = types.ModuleType(f"{name.replace('-', '_')}_plugin")

    @hookimpl
    def register_datasets(register):
        register(name, factory)

    module.register_datasets = register_datasets
    return module


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_a_dataset_with_labels_of_any_integer_dtype_trains(tmp_path, monkeypatch, dtype):
    install(monkeypatch, ("typed", _dataset_module("typed-digits", _toy_with_labels(dtype))))
    data = cganzoo.create_dataset("typed-digits")
    assert data.labels.dtype == torch.int64 and data.test_labels.dtype == torch.int64
    run = cganzoo.train(toy_config(tmp_path, dataset={"name": "typed-digits"}), progress=False, log=quiet)
    assert cganzoo.load(run).step == 2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_a_dataset_with_float_or_bool_labels_is_refused_in_one_line(tmp_path, monkeypatch, capsys, dtype):
    install(monkeypatch, ("typed", _dataset_module("typed-digits", _toy_with_labels(dtype))))
    assert main(["run", "toy-gan", "--dataset", "typed-digits", "--out", str(tmp_path / "r"), "--device", "cpu",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"labels must be an integer tensor (any integer dtype, used as int64), " \
        f"got dtype {dtype}" in err, err


@pytest.fixture
def one_hot_run(tmp_path, registry):
    config = toy_config(tmp_path, conditioner={"name": "one-hot"})
    return cganzoo.load(cganzoo.train(config, progress=False, log=quiet, registry=registry), registry=registry)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_sample_takes_label_tensors_of_any_integer_dtype(one_hot_run, dtype):
    expected = one_hot_run.sample(torch.tensor([3, 7]), n=2, seed=0)
    assert torch.equal(one_hot_run.sample(torch.tensor([3, 7], dtype=dtype), n=2, seed=0), expected)
    assert torch.equal(one_hot_run.sample([np.int16(3), np.uint8(7)], n=2, seed=0), expected)


@pytest.mark.parametrize("labels, message", [
    ([3.7, 7.2], "label 3.7 at position 0 is a float, not an integer class index"),
    ([3, 7.0], "label 7.0 at position 1 is a float, not an integer class index"),
    ([np.float32(2.5)], "label 2.5 at position 0 is a float"),
    ([True], "label True at position 0 is a bool"),
    (torch.tensor([3.0, 7.5]), "labels must be an integer tensor (any integer dtype, used as int64), got dtype "
                               "torch.float32 (label 7.5 at position 1)"),
    ([3, None], "label None at position 1 is NoneType, not an integer class index"),
])
def test_sample_never_rounds_labels(one_hot_run, labels, message):
    with pytest.raises(LabelError) as caught:
        one_hot_run.sample(labels, n=1)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("3,,4", "label at position 1 of '3,,4' is empty"),
    (",3", "label at position 0 of ',3' is empty"),
    ("3,", "label at position 1 of '3,' is empty"),
    ("1_0", "label '1_0' at position 0 is not a class index in [0, 10)"),
    ("3,0x7", "label '0x7' at position 1 is not a class index"),
    ("3, ٣", "label '٣' at position 1 is not a class index"),  # an Arabic-Indic three is not a decimal label
    ("class 1,12", "label 12 at position 1 is outside [0, 10)"),
    ("3,+11", "label +11 at position 1 is outside [0, 10)"),
])
def test_cli_label_lists_are_parsed_item_by_item(one_hot_run, tmp_path, capsys, text, message):
    run_dir = tmp_path / "run"
    assert main(["sample", str(run_dir), "--labels", text, "-o", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cganzoo: error: {message}") and len(err.splitlines()) == 1, err
    assert not (tmp_path / "g.png").exists()


def test_well_formed_label_lists_still_work(one_hot_run):
    assert one_hot_run.parse_labels(" 3 , class 7,+0") .tolist() == [3, 7, 0]


# -- 5. tied weights ----------------------------------------------------------------------------------


class TiedGenerator(GeneratorNetwork):
    """Two square layers sharing one weight tensor (as weight-tied decoders do)."""

    def __init__(self, latent_dim: int, cond_dim: int, img_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.latent_dim, self.cond_dim, self.img_shape = latent_dim, cond_dim, tuple(img_shape)
        width = 32
        self.inp = nn.Linear(latent_dim + cond_dim, width)
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, width)
        self.b.weight = self.a.weight  # the tie
        self.out = nn.Linear(width, img_shape[0] * img_shape[1] * img_shape[2])

    def forward(self, z, c):
        h = torch.relu(self.b(torch.relu(self.a(torch.relu(self.inp(torch.cat((c, z), 1)))))))
        return torch.tanh(self.out(h)).view(-1, *self.img_shape)


def _tied_module():
    module = types.ModuleType("tied_plugin")

    @hookimpl
    def register_networks(register):
        register("tied", TiedGenerator, kind="generator", description="two layers sharing one weight")

    module.register_networks = register_networks
    return module


def test_a_generator_with_tied_weights_checkpoints_and_resumes_with_the_tie_intact(tmp_path, monkeypatch):
    install(monkeypatch, ("tied", _tied_module()))
    config = toy_config(tmp_path, generator={"name": "tied"}, max_steps=3, checkpoint_interval=2)
    run = cganzoo.train(config, progress=False, log=quiet)
    straight = cganzoo.load(run).generator.net
    assert straight.a.weight is straight.b.weight

    # 2 steps, then resume to 3: identical to 3 straight through, and the tie holds in the resumed model.
    resumed_config = toy_config(tmp_path, "resumed", generator={"name": "tied"}, max_steps=2, checkpoint_interval=2)
    resumed_run = cganzoo.train(resumed_config, progress=False, log=quiet)
    cganzoo.train(toy_config(tmp_path, "resumed", generator={"name": "tied"}, max_steps=3, checkpoint_interval=2),
                  run_dir=resumed_run, resume=True, progress=False, log=quiet)
    resumed = cganzoo.load(resumed_run).generator.net
    assert resumed.a.weight is resumed.b.weight
    for (name, p), (_, q) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(p, q), name


def test_save_checkpoint_accepts_tensors_sharing_memory(tmp_path):
    from cganzoo.runs import checkpoint as ckpt

    module = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    module[1].weight = module[0].weight
    base = torch.arange(12.0)
    ckpt.save_checkpoint(tmp_path, "step_000000001", generator=module, discriminator=module,
                         training_tensors={"whole": base, "slice": base[2:6], "again": base}, state={"step": 1})
    _, (g, _, training, _) = ckpt.load_latest_checkpoint(tmp_path)
    assert torch.equal(g["0.weight"], g["1.weight"])
    assert torch.equal(training["slice"], base[2:6]) and torch.equal(training["again"], base)


# -- 6. file modes follow the umask -------------------------------------------------------------------


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def _assert_umask_modes(root: Path, mask: int) -> None:
    modes = _modes(root)
    for name, mode in modes.items():
        want = (0o777 if (root / name).is_dir() else 0o666) & ~mask
        assert mode == want, f"{name}: {oct(mode)}, expected {oct(want)} under umask {oct(mask)}"


def test_every_output_gets_the_mode_the_umask_gives(umask, tmp_path, toy_plugin, toy_data, capsys):
    from cganzoo.evaluation import JudgeRecipe, load_or_train_judge

    run = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(run), "--no-progress",
                 "--batch-size", "16", "--sample-interval", "1", "--checkpoint-interval", "1"]) == 0
    assert (run / "checkpoints" / "step_000000002").is_dir() and list((run / "samples").glob("*.png"))
    _assert_umask_modes(run, umask)  # run directory, config.json, metrics, samples, checkpoints

    cache = tmp_path / "cache"  # the judge cache
    load_or_train_judge(toy_data, cache_root=cache, log=quiet,
                        recipe=JudgeRecipe(channels=(2, 4), features=8, epochs=1, batch_size=64,
                                           min_test_accuracy=0.0))
    _assert_umask_modes(cache, umask)

    reports = tmp_path / "reports"  # an eval report, a sample grid
    reports.mkdir()
    os.chmod(reports, 0o777 & ~umask)
    assert main(["eval", str(run), "--per-class", "2", "--metrics", "parzen-log-likelihood",
                 "-o", str(reports / "r.json")]) == 0
    assert main(["sample", str(run), "--labels", "3", "-o", str(reports / "grid.png")]) == 0
    _assert_umask_modes(reports, umask)


def test_bench_plots_and_mnist_cache_get_the_umask_mode(umask, tmp_path):
    pytest.importorskip("matplotlib")
    from cganzoo.runs.figures import pyplot, save_figure
    from cganzoo.data.cache import TensorCache

    out = tmp_path / "bench"
    io.make_dirs(out)
    fig = pyplot().figure()
    save_figure(fig, out / "plot.png", dpi=20)
    _assert_umask_modes(out, umask)

    # The data cache every data set writes through (MNIST's entry is mnist/v2).
    cache = tmp_path / "data"
    TensorCache(cache / "mnist" / "v2", "mnist", key={"test": 1}).write(
        {"train_images": torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "train_labels": torch.zeros(2, dtype=torch.int64)},
        {"source": "test"}, quiet)
    assert (cache / "mnist" / "v2").is_dir()
    _assert_umask_modes(cache, umask)


def test_atomic_writes_replace_a_file_with_the_umask_mode(umask, tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    target.chmod(0o600)
    io.atomic_write_text(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left


# -- 7. outputs checked before the work ---------------------------------------------------------------


@pytest.fixture
def trained(tmp_path, toy_plugin, toy_judge_dir, capsys):
    run = tmp_path / "run"
    assert main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(run), "--no-progress",
                 "--batch-size", "16", "--data-dir", str(toy_judge_dir)]) == 0
    capsys.readouterr()
    return run


def _no_work(*args, **kwargs):
    raise AssertionError("the work started although the output cannot be written")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions; the missing-directory cases cover it")
def test_a_read_only_target_is_refused_before_the_work(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("cganzoo.api.evaluate_run", _no_work)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["eval", str(trained), "-o", str(locked / "r.json")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "is not writable" in err
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("argv, message", [
    (["eval", "{run}", "-o", "{tmp}/missing_dir/r.json"], "-o '{tmp}/missing_dir/r.json': directory "
                                                          "'{tmp}/missing_dir' does not exist"),
    (["eval", "{run}", "-o", "{tmp}"], "-o '{tmp}' is a directory; name a file"),
    (["sample", "{run}", "--labels", "3", "-o", "{tmp}/missing_dir/g.png"], "-o '{tmp}/missing_dir/g.png': directory"),
    (["bench", "--out", "{tmp}/file.txt/sub", "--no-reference"], "--out '{tmp}/file.txt/sub': '{tmp}/file.txt' is "
                                                                 "not a directory"),
])
def test_an_unusable_output_is_refused_before_the_work(trained, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setattr("cganzoo.api.evaluate_run", _no_work)
    monkeypatch.setattr("cganzoo.api.load", _no_work)
    monkeypatch.setattr("cganzoo.bench.run_benchmarks", _no_work)
    (tmp_path / "file.txt").write_text("a file")
    argv = [a.format(run=trained, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("cganzoo: error: " + message.format(tmp=tmp_path)), err


def test_a_write_that_fails_at_the_end_still_prints_the_report(trained, tmp_path, monkeypatch, capsys):
    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cganzoo.cli.atomic_write_text", disk_full)
    assert main(["eval", str(trained), "--per-class", "2", "--json", "--metrics", "conditional-accuracy",
                 "-o", str(tmp_path / "r.json")]) == 1
    captured = capsys.readouterr()
    assert strict_json(captured.out)["metrics"]["conditional-accuracy"]["values"]["accuracy"] is not None
    err_lines = [line for line in captured.err.splitlines() if line.startswith("cganzoo: error")]
    assert err_lines == [f"cganzoo: error: could not write the report to '{tmp_path / 'r.json'}': No space left on "
                         f"device; it was printed above"]


# -- 8. one-line errors, details behind --verbose ----------------------------------------------------


def test_a_multi_line_error_is_one_line_with_details_behind_verbose(monkeypatch, tmp_path, toy_plugin, capsys):
    def no_data(*args, **kwargs):
        raise DataError("mnist: every source failed (a: x; b: y); put the files in D",
                        details="mnist: every source failed:\n  - a: x\n  - b: y")

    monkeypatch.setattr("cganzoo.training.trainer.create_dataset", no_data)
    argv = ["run", "toy-gan", "--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cganzoo: error: mnist: every source failed (a: x; b: y); put the files in D (--verbose shows "
                   "details)"]
    assert main([*argv, "--verbose"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "cganzoo: error: mnist: every source failed (a: x; b: y); put the files in D"
    assert err[1:] == ["  mnist: every source failed:", "    - a: x", "    - b: y"]
    assert "CGANZOO_VERBOSE" not in os.environ  # --verbose does not leak into the next command


def test_an_error_message_written_over_several_lines_is_still_printed_on_one(monkeypatch, tmp_path, toy_plugin, capsys):
    def raises(*args, **kwargs):
        raise ConfigError("first line\nsecond line")

    monkeypatch.setattr("cganzoo.training.trainer.create_dataset", raises)
    assert main(["run", "toy-gan", "--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "cganzoo: error: first line; second line (--verbose shows details)"]


def test_io_is_a_bottom_layer():
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[1] / "cganzoo" / "io.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {m for m in imported if m and m.startswith("cganzoo")} == {"cganzoo.errors"}
