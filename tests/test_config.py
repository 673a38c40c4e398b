from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cganzoo
from cganzoo.config import RunConfig, merge_config, read_config_file, validate_config
from cganzoo.errors import ConfigError, UnknownComponentError


def test_defaults_equal_the_reference():
    c = RunConfig()
    assert (c.epochs, c.batch_size, c.lr, c.b1, c.b2, c.latent_dim, c.img_size) == (200, 64, 2e-4, 0.5, 0.999, 100, 32)
    assert (c.generator.name, c.discriminator.name, c.conditioner.name, c.loss.name) == ("mlp", "mlp", "embedding", "mse")


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, r"batch_size: Input should be greater than or equal to 1 \(got 0\)"),
    ("epochs", -1, r"epochs: Input should be greater than or equal to 1 \(got -1\)"),
    ("img_size", 4, r"img_size: Input should be greater than or equal to 8"),
    # A validator's own sentence, without pydantic's "Value error, " in front of it.
    ("device", "tpu", r"^invalid config: device: device must be 'auto', 'cpu', 'cuda' or 'cuda:N' \(got 'tpu'\)$"),
    ("lr", "fast", r"lr: Input should be a valid number"),
    ("bacth_size", 3, r"bacth_size: Extra inputs are not permitted"),
    ("lr", float("nan"), r"lr: Input should be a finite number"),
    ("out", "", r"out: (?!Value error).*an empty path is not a directory"),
])
def test_invalid_values_get_a_per_field_message(field, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({field: value})


def test_resolution_order_defaults_preset_file_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: mlp-cgan-bce\nepochs: 3\nbatch_size: 32\ngenerator:\n  name: mlp\n  params: {batchnorm: corrected}\n")
    config = cganzoo.resolve_config(config_file=path, overrides={"batch_size": 16})
    assert config.model == "mlp-cgan-bce" and config.loss.name == "bce"  # from the preset
    assert config.epochs == 3  # file over preset
    assert config.batch_size == 16  # flags over file
    assert config.generator.params == {"batchnorm": "corrected"}


def test_changing_a_component_drops_the_old_components_params():
    merged = merge_config({"generator": {"name": "mlp", "params": {"hidden": [8]}}}, {"generator": {"name": "other"}})
    assert merged["generator"] == {"name": "other"}
    merged = merge_config({"generator": {"name": "mlp", "params": {"hidden": [8]}}},
                          {"generator": {"name": "mlp", "params": {"batchnorm": "corrected"}}})
    assert merged["generator"]["params"] == {"hidden": [8], "batchnorm": "corrected"}


def test_json_config_and_unknown_model(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 2, "conditioner": "one-hot"}))
    config = cganzoo.resolve_config("mlp-cgan", config_file=path)
    assert config.conditioner.name == "one-hot" and config.epochs == 2
    with pytest.raises(UnknownComponentError, match="unknown model 'mlp-gan'; choose one of: .*mlp-cgan"):
        cganzoo.resolve_config("mlp-gan")


@pytest.mark.parametrize("text, suffix, message", [
    ("epochs: [1, 2", ".yaml", r"is not valid YAML: expected ',' or '\]', but got '<stream end>' \(line 1, column 14\)"),
    ("model: m\nepochs: 3\n  batch_size: 4\n", ".yaml", r"not valid YAML: mapping values .* \(line 3, column 13\)"),
    ("model: m\nlr: [1e-4\nbatch_size: 4\n", ".yaml",
     r"\(line 3, column 11\), while parsing a flow sequence that began at line 2, column 5$"),
    ("{\"epochs\": ", ".json", r"is not valid JSON: Expecting value \(line 1, column 12\)"),
    ("- 1\n- 2\n", ".yaml", "must hold a mapping of RunConfig fields, got list"),
])
def test_malformed_files_give_one_line(tmp_path, text, suffix, message):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_config_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path / "nope.yaml")


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
                    max_leaves=12))
def test_arbitrary_yaml_never_escapes_as_a_traceback(tmp_path_factory, data):
    import yaml

    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, float) else str(data))
    try:
        validate_config(read_config_file(path))
    except ConfigError:
        pass


def test_an_empty_config_file_is_refused_rather_than_training_the_defaults(tmp_path):
    for text in ("", "# nothing yet\n", "{}\n"):
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=r"config file '.*empty.yaml' is empty; give at least the model"):
            cganzoo.resolve_config(config_file=path)


def test_mlp_widths_must_be_positive():
    from cganzoo.training import validate_components  # what `cganzoo run` checks before touching data

    for widths in ([-3], [64, 0]):
        config = cganzoo.resolve_config("mlp-cgan", overrides={"generator": {"name": "mlp", "params": {"hidden": widths}}})
        with pytest.raises(ConfigError, match=r"hidden\.\d: Input should be greater than or equal to 1"):
            validate_components(config)
