"""The benchmark runner's code paths, on the toy data set: structure and counts, never speed."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch

import cganzoo
from cganzoo.bench import BenchOptions, run_benchmarks
from cganzoo.bench.flops import counted_flops, mlp_cgan_step_flops
from cganzoo.bench.reference import ReferencePipeline
from cganzoo.bench.report import console_table, write_results
from cganzoo.cli import main
from cganzoo.components.factory import create_dataset
from cganzoo.training import Trainer

sys.path.insert(0, str(Path(__file__).parent / "evaluation"))
from judges import toy_data, toy_judge_dir  # noqa: E402,F401  (fixtures: a judge for the toy data set)

QUICK = dict(seconds=0.01, warmup_steps=1, min_steps=1, matmul_seconds=0.01)


def test_step_flops_match_the_count_from_layer_shapes(tmp_path, registry):
    # mlp-cgan on toy-digits has MNIST's shapes: 1x28x28 resized to 32x32, 10 classes, latent 100.
    config = cganzoo.resolve_config("mlp-cgan", registry=registry, overrides={
        "dataset": "toy-digits", "device": "cpu", "batch_size": 16})
    trainer = Trainer(config, tmp_path / "run", registry=registry, progress=False, log=lambda _: None)
    real, labels = next(trainer.batches.epoch(0))
    ours = counted_flops(lambda: trainer.train_step(real, labels)) / 16
    assert ours == mlp_cgan_step_flops(trainer.generator, trainer.discriminator) == 27_372_032

    data = create_dataset("toy-digits", registry=registry, log=lambda _: None)
    reference = ReferencePipeline(config, data, tmp_path / "tv", torch.device("cpu"), batch_size=16)
    theirs = counted_flops(reference.step) / 16
    assert theirs == mlp_cgan_step_flops(reference.generator, reference.discriminator,
                                         frozen_discriminator=False) == 29_480_448


def test_reference_pipeline_reads_the_data_through_torchvision(tmp_path, registry):
    config = cganzoo.resolve_config("toy-gan", registry=registry, overrides={"device": "cpu"})
    data = create_dataset("toy-digits", registry=registry, log=lambda _: None)
    pipeline = ReferencePipeline(config, data, tmp_path / "tv", torch.device("cpu"), batch_size=16)
    images, labels = next(iter(pipeline.loader))
    assert images.shape == (16, 1, 32, 32) and images.dtype == torch.float32
    assert -1 <= images.min() and images.max() <= 1
    # Pairs stay together: the toy images encode their own label.
    from toy_plugin import decode

    assert torch.equal(decode(images), labels)
    pipeline.step()
    assert all(v == v for v in pipeline.last_losses)


def test_bench_rows_ratios_and_outputs(tmp_path, registry, native_bf16):
    options = BenchOptions(filter="toy-*", device="cpu", reference_model="toy-gan", batch_size=16,
                           variants=("fp32", "bf16"), sweep_variants=("fp32",), batch_sizes=(16, 32),
                           log=lambda _: None, **QUICK)
    result = run_benchmarks(options, registry=registry)
    sections = [(r.section, r.model, r.variant, r.batch_size) for r in result.rows]
    assert sections == [("reference", "toy-gan", "reference pipeline", 16), ("table", "toy-gan", "fp32", 16),
                        ("table", "toy-gan", "bf16", 16), ("sweep", "toy-gan", "fp32", 16),
                        ("sweep", "toy-gan", "fp32", 32)]
    assert all(r.status == "ok" and r.images_per_s > 0 and r.images_per_cpu_s > 0 and r.steps >= 1 for r in result.rows)
    ref = result.reference
    for row in result.rows:
        assert row.vs_reference == pytest.approx(row.images_per_s / ref.images_per_s)
        assert row.gflops == pytest.approx(row.mflop_per_image * row.images_per_s / 1e3)
        assert row.epoch_s == pytest.approx(512 / row.images_per_s)
        assert row.peak_memory_mib > 0
    assert ref.mflop_per_image > result.rows[1].mflop_per_image  # the reference also computes D's grads in the G step
    assert {(m.dtype, m.m, m.k, m.n) for m in result.matmul} == {
        ("fp32", 64, 1024, 1024), ("fp32", 1024, 1024, 1024), ("bf16", 64, 1024, 1024), ("bf16", 1024, 1024, 1024)}
    assert result.machine["bf16"] == {"native": True, "detail": "treated as native by a test"}
    for row in result.rows:  # a fraction of the roof, or why none is shown (never above 100%)
        assert (row.roofline_pct is not None and 0 < row.roofline_pct <= 100) or row.roofline_basis.startswith("not shown")
    bf16_row = result.rows[2]
    assert bf16_row.roofline_basis.startswith(("bf16 matmul", "not shown"))
    assert result.rows[1].roofline_basis.startswith(("fp32 matmul", "not shown"))

    paths = write_results(result, tmp_path / "results")
    assert sorted(p.name for p in paths) == ["cpu-sweep.png", "cpu.csv", "cpu.json", "cpu.md"]
    with open(tmp_path / "results" / "cpu.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    assert [line["section"] for line in lines] == ["reference", "table", "table", "sweep", "sweep"]
    md = (tmp_path / "results" / "cpu.md").read_text()
    assert "## Machine" in md and "| reference pipeline |" in md and "![throughput against batch size](cpu-sweep.png)" in md
    assert json.loads((tmp_path / "results" / "cpu.json").read_text())["rows"][0]["section"] == "reference"
    text = console_table(result)
    assert "reference pipeline" in text and "1.00x" in text


def test_bench_crosses_conditioners_and_losses(tmp_path, registry):
    options = BenchOptions(filter="toy-gan", device="cpu", reference_model="toy-gan", batch_size=16,
                           conditioners="[eo]*", losses="mse", batch_sizes=(), reference=False, log=lambda _: None,
                           **QUICK)
    result = run_benchmarks(options, registry=registry)
    assert [(r.conditioner, r.loss, r.variant) for r in result.rows] == [
        ("embedding", "mse", "fp32"), ("one-hot", "mse", "fp32")]
    assert result.reference is None and all(r.vs_reference is None for r in result.rows)


def test_cganzoo_bench_command(toy_plugin, tmp_path, capsys, toy_judge_dir, native_bf16):
    code = main(["bench", "--filter", "toy-gan", "--reference-model", "toy-gan", "--device", "cpu",
                 "--data-dir", str(toy_judge_dir), "--quality-eval-samples", "10",
                 "--batch-size", "16", "--variants", "fp32", "--sweep-variants", "fp32", "--batch-sizes", "16",
                 "--seconds", "0.01", "--warmup-steps", "1", "--min-steps", "1", "--matmul-seconds", "0.01",
                 "--repeats", "2", "--quality-steps", "4", "--out", str(tmp_path / "res"),
                 "--note", "a test run"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "batch-size table" in captured.out and "reference pipeline" in captured.out
    md = (tmp_path / "res" / "cpu.md").read_text()
    assert md.splitlines()[2] == "a test run"
    # --repeats 2: two timed windows per row, the fastest kept.
    with open(tmp_path / "res" / "cpu.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        windows = [float(v) for v in row["all_images_per_s"].split(";")]
        assert len(windows) == 2 and float(row["images_per_s"]) == pytest.approx(max(windows), abs=0.06)
    # --quality-steps 4: fp32 and bf16 trained 4 steps each through the runner, evaluated, curves and grids plotted.
    assert "## Quality after the same number of steps (4, same seed)" in md
    quality = {line.split(" | ")[0][2:]: line.split(" | ") for line in md.splitlines() if line.startswith("| fp32 | 4 |")
               or line.startswith("| bf16 | 4 |")}
    assert set(quality) == {"fp32", "bf16"}
    assert quality["fp32"][6].endswith("%") and quality["fp32"][7] == "+0.0"  # accuracy, and its difference to fp32
    assert float(quality["bf16"][8].rstrip(" |")) >= 0  # judge Frechet distance
    record = json.loads((tmp_path / "res" / "cpu.json").read_text())
    assert [q["evaluation"]["metrics"]["conditional-accuracy"]["values"]["accuracy"] >= 0 for q in record["quality"]] \
        == [True, True]
    assert (tmp_path / "res" / "cpu-quality.png").stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["--variants", "fp33"], "cganzoo: error: unknown variant token 'fp33' in 'fp33'; combine with '+' any of: fp32, bf16"),
    (["--filter", "nothing*"], "cganzoo: error: no model matches --filter 'nothing*'"),
    (["--batch-sizes", "64,x"], "cganzoo: error: --batch-sizes takes a comma-separated list of int values, got '64,x'"),
    (["--repeats", "0"], "cganzoo: error: repeats must be at least 1, quality_steps and quality_eval_per_class at "
                         "least 0; got 0, 0, 1000"),
    # A variant named on the command line that this device cannot run is refused before any timing.
    (["--variants", "fp32,cuda-graphs"], "cganzoo: error: variant 'cuda-graphs': cuda_graphs needs a CUDA device, "
                                         "but the device is 'cpu'"),
    (["--variants", "fp32+bf16"], "cganzoo: error: variant 'fp32+bf16' sets amp twice ('fp32' and 'bf16')"),
    (["--variants", "fp32,fp32"], "cganzoo: error: variants names a variant twice: fp32, fp32; name each once"),
    (["--data-dir", "/nonexistent-cganzoo-data"], "cganzoo: error: --data-dir '/nonexistent-cganzoo-data' does not "
                                                  "exist"),
])
def test_cganzoo_bench_bad_input_is_one_line(argv, message, capsys):
    assert main(["bench", "--device", "cpu", "--no-write", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
