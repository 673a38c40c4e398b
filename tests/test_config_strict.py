"""Config values mean what was typed: a bool is never a number, YAML 1.1 booleans are named, no key twice.

Every source is covered: YAML and JSON config files, ``--config`` and flags of
``cganzoo run``, ``resolve_config(..., overrides=...)``, a run's
``config.json``, and the params models of components (built-in and third-party).
"""

from __future__ import annotations

import contextlib
import io
import json
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

import cganzoo
from cganzoo.api import read_run_config
from cganzoo.cli import main
from cganzoo.components.discovery import load_plugins
from cganzoo.config import PlayerOptimizer, RunConfig, read_config_file, validate_config
from cganzoo.errors import CheckpointError, ConfigError

DATA = Path(__file__).parent / "data"


def _numeric_fields(model: type[BaseModel]) -> list[str]:
    """Fields of ``model`` whose type holds an int or a float (alone, optional, or in a tuple)."""
    def numeric(annotation) -> bool:
        if annotation in (int, float):
            return True
        return any(numeric(arg) for arg in typing.get_args(annotation))
    return [name for name, field in model.model_fields.items() if numeric(field.annotation)]


def _run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusals
            code = exc.code
    return code, err.getvalue()


# -- the examples of the issue ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("field, value, kind", [
    ("epochs", True, "an integer"),
    ("max_steps", True, "an integer"),
    ("seed", False, "an integer"),
])
def test_a_bool_in_a_config_file_is_not_a_number(tmp_path, suffix, field, value, kind):
    path = tmp_path / f"c{suffix}"
    path.write_text(json.dumps({"model": "mlp-cgan", field: value}) if suffix == ".json"
                    else f"model: mlp-cgan\n{field}: {str(value).lower()}\n")
    with pytest.raises(ConfigError, match=rf"^invalid config: {field}: Input should be {kind}, not a boolean "
                                          rf"\(got {value}\)$"):
        cganzoo.resolve_config(config_file=path)


def test_a_bool_override_is_not_a_number():
    with pytest.raises(ConfigError, match=r"^invalid config: latent_dim: Input should be an integer, not a boolean "
                                          r"\(got True\)$"):
        cganzoo.resolve_config("mlp-cgan", overrides={"latent_dim": True})


def test_amp_off_in_yaml_names_the_yaml_boolean_and_how_to_write_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: mlp-cgan\namp: off\n")
    with pytest.raises(ConfigError) as info:
        cganzoo.resolve_config(config_file=path)
    assert str(info.value) == ("invalid config: amp: Input should be 'off', 'bf16' or 'auto', not the boolean False: "
                               "YAML 1.1 reads an unquoted off as false; write amp: \"off\"")
    path.write_text("model: mlp-cgan\namp: \"off\"\n")
    assert cganzoo.resolve_config(config_file=path).amp == "off"


def test_a_key_given_twice_in_a_yaml_file_is_refused_with_its_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: mlp-cgan\nepochs: 3\nbatch_size: 16\nepochs: 5\n")
    with pytest.raises(ConfigError, match=r"^config file '.*c\.yaml': the key 'epochs' is given twice "
                                          r"\(lines 2 and 4\); keep one$"):
        read_config_file(path)


# -- bools and numbers, every field -------------------------------------------------------------


@pytest.mark.parametrize("field", _numeric_fields(RunConfig))
@pytest.mark.parametrize("value", [True, False])
def test_no_numeric_field_of_runconfig_takes_a_bool(field, value):
    with pytest.raises(ConfigError, match=rf"^invalid config: {field}(\.\d)?: Input should be (an integer|a number), "
                                          rf"not a boolean \(got {value}\)$"):
        validate_config({field: [value, value] if field == "betas" else value})


def test_the_numeric_fields_are_found():
    # The parametrized test above must not pass by testing nothing.
    assert {"epochs", "max_steps", "seed", "latent_dim", "lr", "b1", "b2", "r1_gamma", "dist_timeout_s",
            "eval_interval", "batch_size"} <= set(_numeric_fields(RunConfig))
    assert {"lr", "betas", "weight_decay"} <= set(_numeric_fields(PlayerOptimizer))


@pytest.mark.parametrize("field", _numeric_fields(PlayerOptimizer))
def test_no_numeric_field_of_a_players_optimizer_takes_a_bool(field):
    value = [0.5, True] if field == "betas" else True
    with pytest.raises(ConfigError, match=rf"^invalid config: generator_optimizer\.{field}(\.1)?: Input should be a "
                                          rf"number, not a boolean \(got True\)$"):
        validate_config({"generator_optimizer": {field: value}})


def test_runconfig_built_or_changed_in_python_takes_no_bool_for_a_number():
    with pytest.raises(ValueError, match="Input should be an integer, not a boolean"):
        RunConfig(epochs=True)
    config = RunConfig()
    with pytest.raises(ValueError, match="Input should be a number, not a boolean"):
        config.lr = True
    assert config.lr == 2e-4


@pytest.mark.parametrize("data, expected", [
    ({"lr": 1}, {"lr": 1.0}),  # an int is a float
    ({"max_steps": None, "eval_interval": None}, {"max_steps": None, "eval_interval": None}),
    ({"epochs": 3, "seed": 0}, {"epochs": 3, "seed": 0}),
    ({"generator_optimizer": {"lr": 1, "betas": [0, 0.9]}}, {}),
])
def test_numbers_are_still_numbers(data, expected):
    config = validate_config(data)
    for key, value in expected.items():
        assert getattr(config, key) == value
    if "generator_optimizer" in data:
        assert config.optimizer_for("generator").betas == (0.0, 0.9)


def test_yaml_numbers_and_booleans_keep_their_meaning(tmp_path):
    path = tmp_path / "c.yaml"
    # PyYAML reads 1e-4 (no dot) as a string; a float field has always taken it, and must still.
    path.write_text("model: mlp-cgan\nlr: 1e-4\nepochs: 2\ncompile: no\ndrop_last: yes\nsync_batchnorm: false\n")
    config = cganzoo.resolve_config(config_file=path)
    assert (config.lr, config.epochs, config.compile, config.drop_last, config.sync_batchnorm) == (1e-4, 2, False,
                                                                                                   True, False)


# -- YAML 1.1 booleans where a word is meant -----------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("amp: OFF\n", "amp: Input should be 'off', 'bf16' or 'auto', not the boolean False: YAML 1.1 reads an "
                   "unquoted off as false; write amp: \"off\""),
    ("amp: on\n", "amp: Input should be 'off', 'bf16' or 'auto', not the boolean True: YAML 1.1 reads an unquoted "
                  "yes, on or true as true"),
    ("device: no\n", "device: Input should be a valid string, not the boolean False: YAML 1.1 reads an unquoted no, "
                     "off or false as false; quote the word, e.g. device: \"no\""),
    ("augmentation: off\n", "augmentation: Input should be a valid dictionary or instance of ComponentSpec, not the "
                            "boolean False: YAML 1.1 reads an unquoted no, off or false as false"),
    ("latent_distribution: yes\n", "latent_distribution: Input should be 'normal' or 'uniform', not the boolean True: "
                                   "YAML 1.1 reads an unquoted yes, on or true as true"),
])
def test_yaml_booleans_where_a_word_is_meant_are_named(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text("model: mlp-cgan\n" + text)
    with pytest.raises(ConfigError) as info:
        cganzoo.resolve_config(config_file=path)
    assert str(info.value) == "invalid config: " + message


def test_a_yaml_boolean_in_a_params_model_string_field_is_named():
    registry = load_plugins().registry
    with pytest.raises(ConfigError, match=r"^dataset 'hf': name: Input should be a valid string, not the boolean "
                                          r"False: YAML 1\.1 reads an unquoted no, off or false as false; quote the "
                                          r"word, e\.g\. name: \"no\"$"):
        registry.validate_params("dataset", "hf", {"path": "x", "name": False})


# -- component params: the same rule, for every registered component ----------------------------


def _registered_numeric_params():
    registry = load_plugins().registry
    return [(c.kind, c.name, field) for c in registry.components() for field in _numeric_fields(c.params)]


def test_registered_components_have_numeric_params():
    assert len(_registered_numeric_params()) > 40


@pytest.mark.parametrize("kind, name, field", _registered_numeric_params())
def test_no_numeric_param_of_a_registered_component_takes_a_bool(kind, name, field):
    registry = load_plugins().registry
    annotation = registry.get(kind, name).params.model_fields[field].annotation
    value = [True] if typing.get_origin(annotation) is tuple or tuple in map(typing.get_origin,
                                                                          typing.get_args(annotation)) else True
    with pytest.raises(ConfigError, match=rf"^{kind} '{name}': {field}(\.0)?: Input should be .*not a boolean"):
        registry.validate_params(kind, name, {field: value})


def test_a_literal_of_numbers_takes_no_bool():
    registry = load_plugins().registry
    with pytest.raises(ConfigError, match=r"^dataset 'imagefolder': channels: Input should be 1 or 3, not a boolean "
                                          r"\(got True\)$"):
        registry.validate_params("dataset", "imagefolder", {"channels": True})
    assert registry.validate_params("dataset", "imagefolder", {"channels": 3}).channels == 3


def test_a_third_party_params_model_gets_the_same_rule():
    class Inner(BaseModel):
        k: int = 1

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        size: int = Field(8, ge=1)
        scale: float = 1.0
        widths: tuple[int, ...] = (4,)
        flag: bool = False
        inner: Inner | None = None

    registry = load_plugins().registry
    registry.register("loss", "strict-test-loss", lambda **kw: kw, params=Params, plugin="third-party")
    for params, where in [({"size": True}, "size"), ({"scale": False}, "scale"), ({"widths": [4, True]}, "widths.1"),
                          ({"inner": {"k": True}}, "inner.k")]:
        with pytest.raises(ConfigError, match=rf"^loss 'strict-test-loss': {where}: Input should be .*not a boolean"):
            registry.validate_params("loss", "strict-test-loss", params)
    validated = registry.validate_params("loss", "strict-test-loss", {"size": 2, "scale": 1, "flag": True,
                                                                      "inner": {"k": 3}})
    assert isinstance(validated, Params) and isinstance(validated.inner, Inner)
    assert validated.model_dump() == {"size": 2, "scale": 1.0, "widths": (4,), "flag": True, "inner": {"k": 3}}


# -- duplicate keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("model: mlp-cgan\ndataset:\n  name: toy-digits\n  params:\n    size: 64\n    size: 32\n",
     ": the key 'size' is given twice (lines 5 and 6); keep one"),
    ("model: mlp-cgan\nepochs: 1\nepochs: 1\n", ": the key 'epochs' is given twice (lines 2 and 3); keep one"),
    ("model: mlp-cgan\ngenerator: {name: mlp, name: dcgan}\n",
     ": the key 'name' is given twice (both on line 2); keep one"),
])
def test_duplicate_keys_anywhere_in_yaml_are_refused(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert str(info.value) == f"config file {str(path)!r}{message}"


def test_yaml_merge_keys_may_still_override_what_they_merge(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: mlp-cgan\ndiscriminator:\n  <<: {name: mlp, params: {hidden: 64}}\n"
                    "  params: {hidden: 32}\n")
    assert read_config_file(path)["discriminator"] == {"name": "mlp", "params": {"hidden": 32}}


@pytest.mark.parametrize("text, message", [
    ('{"model": "mlp-cgan",\n "epochs": 1,\n "epochs": 2}',
     ": the key 'epochs' is given twice (lines 2 and 3); keep one"),
    ('{"model": "mlp-cgan",\n "generator": {"name": "mlp",\n   "params": {}, "name": "dcgan"}}',
     ": the key 'name' is given twice (lines 2 and 3); keep one"),
])
def test_duplicate_keys_in_a_json_config_are_refused(tmp_path, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert str(info.value) == f"config file {str(path)!r}{message}"


def test_a_run_config_json_with_a_key_twice_is_refused(tmp_path):
    record = json.loads((DATA / "checkpoint-v1" / "config.json").read_text())
    text = json.dumps(record, indent=1)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(text.replace('"epochs": ', '"epochs": 3, "epochs": ', 1))
    with pytest.raises(CheckpointError, match=r"config\.json' holds an invalid run config \(the key 'epochs' is "
                                              r"given twice \(both on line \d+\); keep one\)"):
        read_run_config(run)


def test_a_run_config_json_with_a_bool_for_a_number_is_refused(tmp_path):
    record = json.loads((DATA / "checkpoint-v1" / "config.json").read_text())
    record["config"]["epochs"] = True
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"holds an invalid run config \(invalid config: epochs: Input should "
                                              r"be an integer, not a boolean \(got True\)\)"):
        read_run_config(run)


@pytest.mark.parametrize("path", sorted(DATA.rglob("config.json")), ids=lambda p: str(p.relative_to(DATA)))
def test_every_config_json_a_release_wrote_still_loads(path):
    config, _ = read_run_config(path.parent)
    assert isinstance(config, RunConfig)


# -- through the command line: one line, exit 2 --------------------------------------------------


@pytest.mark.parametrize("text, suffix, message", [
    ("epochs: true\n", ".yaml", "cganzoo: error: invalid config: epochs: Input should be an integer, not a boolean "
                                "(got True)"),
    ('{"seed": false}', ".json", "cganzoo: error: invalid config: seed: Input should be an integer, not a boolean "
                                 "(got False)"),
    ("amp: off\n", ".yaml", "cganzoo: error: invalid config: amp: Input should be 'off', 'bf16' or 'auto', not the "
                            "boolean False: YAML 1.1 reads an unquoted off as false; write amp: \"off\""),
    ("epochs: 1\nepochs: 2\n", ".yml", ": the key 'epochs' is given twice (lines 1 and 2); keep one"),
    ("dataset: {name: toy-digits, params: {size: true}}\n", ".yaml",
     "cganzoo: error: dataset 'toy-digits': size: Input should be an integer, not a boolean (got True)"),
])
def test_the_cli_refuses_in_one_line_with_exit_2(tmp_path, toy_plugin, text, suffix, message):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    code, err = _run_cli(["run", "toy-gan", "--config", str(path), "--out", str(tmp_path / "run"), "--device", "cpu",
                          "--no-progress", "--max-steps", "1"])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv, message", [
    (["--dataset-param", "size=true"], "cganzoo: error: dataset 'toy-digits': size: Input should be an integer, not "
                                       "a boolean (got True)"),
    (["--dataset-param", "side=no"], "cganzoo: error: dataset 'toy-digits': side: Input should be an integer, not a "
                                     "boolean (got False)"),
    (["--epochs", "true"], "invalid int value: 'true'"),
    (["--lr", "yes"], "invalid float value: 'yes'"),
])
def test_cli_flags_take_no_bool_for_a_number(tmp_path, toy_plugin, argv, message):
    code, err = _run_cli(["run", "toy-gan", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
                          "--max-steps", "1", *argv])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
