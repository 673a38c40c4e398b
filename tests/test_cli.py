from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cganzoo.cli import main


def test_list_shows_kind_name_and_plugin(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["KIND", "NAME", "PLUGIN", "SHAPES", "DESCRIPTION"]
    assert any(line.split()[:3] == ["model", "mlp-cgan", "mlp"] for line in out.splitlines())
    assert any(line.split()[:3] == ["loss", "mse", "losses"] for line in out.splitlines())
    # Networks show the shapes they declare; those that declare none take any shape.
    assert any(line.split()[:7] == ["generator", "dcgan", "dcgan", "1|3", "ch,", "28|32|64", "px"]
               for line in out.splitlines())
    assert any(line.split()[:4] == ["discriminator", "mlp", "mlp", "any"] for line in out.splitlines())


def test_list_json_shows_network_shapes(capsys):
    assert main(["list", "generator", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["dcgan"]["shapes"] == {"channels": [1, 3], "sizes": [28, 32, 64]}
    assert rows["mlp"]["shapes"] == "any"


def test_list_json_and_filter(capsys):
    assert main(["list", "model", "--filter", "mlp-cgan*", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"mlp-cgan", "mlp-cgan-bce"} and all(r["kind"] == "model" for r in rows)


def test_plugins_lists_hooks(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["mlp"]["hooks"] == ["register_models", "register_networks"]
    assert by_name["mlp"]["module"] == "cganzoo_mlp"


def test_third_party_plugin_is_listed_and_runs(toy_plugin, tmp_path, capsys):
    assert main(["list", "dataset"]) == 0
    assert any(line.split()[:3] == ["dataset", "toy-digits", "toy"] for line in capsys.readouterr().out.splitlines())
    out = tmp_path / "run"
    code = main(["run", "mlp-cgan", "--dataset", "toy-digits", "--max-steps", "3", "--device", "cpu",
                 "--out", str(out), "--no-progress", "--batch-size", "16"])
    assert code == 0
    assert (out / "samples" / "step_3.png").is_file()
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["dataset"]["name"] == "toy-digits"
    assert main(["sample", str(out), "--labels", "3,7", "--n", "4", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file()
    assert "8 images from step 3" in capsys.readouterr().out


def test_resume_from_the_cli(toy_plugin, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--device", "cpu", "--no-progress", "--batch-size", "16"]
    assert main(["run", "toy-gan", "--max-steps", "3", "--out", str(out), *args]) == 0
    assert main(["run", "--resume", str(out), "--max-steps", "5", *args]) == 0
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_000000005"
    assert main(["run", "--resume", str(out), "--latent-dim", "3", "--no-progress"]) == 2  # bad input
    assert "latent_dim was 100 in the checkpoint but is 3 now" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "mlp-gan"], "cganzoo: error: unknown model 'mlp-gan'; choose one of: "),
    (["run", "mlp-cgan", "--dataset", "mnits"], "cganzoo: error: unknown dataset 'mnits'; choose one of: cifar10, "),
    (["run", "mlp-cgan", "--loss", "hinge2"], "cganzoo: error: unknown loss 'hinge2'; choose one of: bce, hinge, "),
    (["run", "mlp-cgan", "--conditioner", "nope"], "cganzoo: error: unknown conditioner 'nope'; choose one of:"),
    (["run", "mlp-cgan", "--batch-size", "0"], "batch_size: Input should be greater than or equal to 1 (got 0)"),
    (["run", "mlp-cgan", "--epochs", "-2"], "epochs: Input should be greater than or equal to 1 (got -2)"),
    (["run", "mlp-cgan", "--img-size", "2"], "img_size: Input should be greater than or equal to 8 (got 2)"),
    (["list", "gadget"], "cganzoo: error: unknown kind 'gadget'"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_component_fails_before_touching_data(tmp_path, capsys):
    assert main(["run", "mlp-cgan", "--loss", "hinge2", "--out", str(tmp_path / "r"), "--device", "cpu"]) == 2
    assert not (tmp_path / "r" / "config.json").exists()


def test_the_console_script_exits_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "cganzoo", "run", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("cganzoo: error: unknown model 'nope'")
    assert "Traceback" not in proc.stderr


def test_help_names_the_main_flags(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for flag in ("--epochs", "--max-steps", "--batch-size", "--lr", "--b1", "--b2", "--latent-dim", "--img-size",
                 "--loss", "--conditioner", "--seed", "--device", "--sample-interval", "--out", "--data-dir",
                 "--config", "--resume", "--dataset"):
        assert flag in out


@pytest.mark.parametrize("argv", [["run"], ["sample", ".", "--labels", "1", "--n", "0"]])
def test_missing_or_invalid_arguments_exit_2(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("cganzoo: error: ")


@pytest.mark.parametrize("argv, message", [
    (["run", "mlp-cgan", "--batch-size", "abc"],
     "cganzoo: error: run: argument --batch-size: invalid int value: 'abc' (see `cganzoo run --help`)"),
    (["run", "mlp-cgan", "--amp", "fp16"], "cganzoo: error: run: argument --amp: invalid choice: 'fp16'"),
    (["frobnicate"], "cganzoo: error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_argument_type_errors_are_one_line_with_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1, err


# -- a second fresh-user trial ----------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["sample", "RUN", "--labels", "3", "--seed", "99999999999999999999999"],
     "sample: argument --seed: seed 99999999999999999999999 is outside [0, 2**63)"),
    (["eval", "RUN", "--seed", "-1"], "eval: argument --seed: seed -1 is outside [0, 2**63)"),
    (["run", "toy-gan", "--data-dir", "{tmp}/typo", "--max-steps", "1"],
     "--data-dir '{tmp}/typo' does not exist; name the directory holding your data files"),
])
def test_seeds_and_data_dirs_are_checked_before_any_work(argv, message, tmp_path, toy_plugin, capsys):
    argv = [a.format(tmp=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refuses a flag's value while parsing
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cganzoo: error: " + message.format(tmp=tmp_path)) and "\n" not in err, err
    assert not (tmp_path / "typo").exists()  # a mistyped --data-dir is not created and filled


def test_dataset_params_without_a_dataset_refine_the_default_data_set(toy_plugin, capsys):
    assert main(["run", "mlp-cgan", "--dataset-param", "foo=bar", "--device", "cpu"]) == 2
    assert "dataset 'mnist': foo: Extra inputs are not permitted" in capsys.readouterr().err


def test_metrics_that_name_nothing_are_refused(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--metrics", ","]) == 2
    assert "--metrics ',' names no metric" in capsys.readouterr().err
