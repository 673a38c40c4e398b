"""The benchmark's convolution side: FLOP counts by hand, the convolution roof and its guards, channels-last.

Structure and counts on tiny shapes, never speed.
"""

from __future__ import annotations

import math

import pytest
import torch

import cganzoo
from cganzoo.bench import BenchOptions, run_benchmarks
from cganzoo.bench import suite
from cganzoo.bench.flops import conv2d_forward_flops, counted_flops_by_kind
from cganzoo.bench.report import markdown
from cganzoo.bench.roofline import ConvResult, conv_gflops, peak_gflops
from cganzoo.bench.suite import parse_variant, roofline_fraction
from cganzoo.errors import ConfigError
from cganzoo.training import Trainer

QUICK = dict(seconds=0.01, warmup_steps=1, min_steps=1, matmul_seconds=0.01)


def test_one_convolution_layer_counted_by_hand():
    conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    # forward: 2 (multiply and add) x B 2 x C_out 8 x 6 x 6 output pixels x C_in 3 x 3 x 3 taps
    forward = 2 * 2 * 8 * 6 * 6 * 3 * 3 * 3
    assert forward == 31_104 == conv2d_forward_flops(2, 3, 8, (6, 6), (3, 3))
    # backward: input gradient and weight gradient, each as costly as the forward
    assert counted_flops_by_kind(lambda: conv(x).sum().backward()) == {"conv": 3 * forward, "matmul": 0}

    # a real image batch needs no input gradient: weight gradient only; stride 2 halves each output side
    strided = torch.nn.Conv2d(3, 8, kernel_size=4, stride=2, padding=1)
    image = torch.randn(2, 3, 6, 6)
    forward = 2 * 2 * 8 * 3 * 3 * 3 * 4 * 4
    assert counted_flops_by_kind(lambda: strided(image).sum().backward()) == {"conv": 2 * forward, "matmul": 0}

    # a transposed convolution (G's upsampling) costs what the convolution it transposes does:
    # 8 -> 3 channels, 3x3 -> 6x6 is the backward of a 3 -> 8, 6x6 -> 3x3 convolution
    up = torch.nn.ConvTranspose2d(8, 3, kernel_size=4, stride=2, padding=1)
    z = torch.randn(2, 8, 3, 3, requires_grad=True)
    forward = conv2d_forward_flops(2, 3, 8, (3, 3), (4, 4))
    assert forward == 2 * 2 * 8 * 3 * 3 * 3 * 16 == 13_824
    # the linear layer's products are counted apart: 2 x 2 x 5 x 4 forward, twice that backward
    lin = torch.nn.Linear(5, 4)
    v = torch.randn(2, 5, requires_grad=True)
    assert counted_flops_by_kind(lambda: (up(z).sum() + lin(v).sum()).backward()) == {
        "conv": 3 * forward, "matmul": 3 * 2 * 2 * 5 * 4}


@pytest.mark.parametrize("peak, gflops, why", [
    (40.0, 50.0, "not shown: the row's 50 GFLOP/s exceeds the fp32 convolution roof of 40 GFLOP/s"),
    (0.0, 1.0, "not shown: no fp32 convolution roof was measured in this run"),
    (-3.0, 1.0, "not shown: no fp32 convolution roof was measured in this run"),
    (math.nan, 1.0, "not shown: no fp32 convolution roof was measured in this run"),
    (math.inf, 1.0, "not shown: no fp32 convolution roof was measured in this run"),
    (None, 1.0, "not shown: no fp32 convolution roof was measured in this run"),
])
def test_conv_roof_fraction_is_never_above_100_percent_nor_on_a_degenerate_roof(peak, gflops, why):
    pct, basis = roofline_fraction(gflops, peak, "fp32", roof="convolution")
    assert pct is None and basis.startswith(why)
    assert roofline_fraction(30.0, 40.0, "fp32", roof="convolution") == (75.0, "fp32 conv 40 GFLOP/s")
    assert roofline_fraction(30.0, 40.0, "bf16", emulated=True, roof="convolution")[0] is None


def test_conv_gflops_times_one_tiny_shape_in_both_layouts():
    results = [conv_gflops(2, 4, 5, "fp32", layout, torch.device("cpu"), min_seconds=0.001)
               for layout in ("contiguous", "channels-last")]
    assert [r.layout for r in results] == ["contiguous", "channels-last"]
    assert all(r.seconds > 0 and r.gflops == pytest.approx(3 * 2 * 2 * 4 * 25 * 4 * 9 / r.seconds / 1e9)
               for r in results)
    assert peak_gflops(results, "fp32") == max(r.gflops for r in results) and peak_gflops(results, "bf16") is None
    with pytest.raises(ValueError, match="layout must be one of contiguous, channels-last, got 'nhwc'"):
        conv_gflops(2, 4, 5, "fp32", "nhwc", torch.device("cpu"))


def test_channels_last_variant_token_parses_and_reaches_the_networks(tmp_path, registry):
    assert parse_variant("channels-last") == {"channels_last": True}
    assert parse_variant("bf16+channels-last") == {"amp": "bf16", "channels_last": True}
    with pytest.raises(ConfigError, match="unknown variant token 'channels_last'.*channels-last"):
        parse_variant("channels_last")
    config = cganzoo.resolve_config("cdcgan", registry=registry, overrides={
        "dataset": "toy-digits", "device": "cpu", "batch_size": 4, "channels_last": True})
    trainer = Trainer(config, None, registry=registry, progress=False, log=lambda _: None)
    convs = [m.weight for net in (trainer.generator, trainer.discriminator) for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs)
    d_loss, g_loss = trainer.train_step(*next(trainer.batches.epoch(0)))
    assert math.isfinite(float(d_loss)) and math.isfinite(float(g_loss))


def test_conv_rows_are_measured_against_the_conv_roof(registry, monkeypatch):
    # A degenerate conv roof (a fake measurement far below any real row): the row must say why, not show > 100%.
    fake = [ConvResult(64, 64, 32, layout, dt, 1.0, 1e-9) for dt in ("fp32", "bf16")
            for layout in ("contiguous", "channels-last")]
    monkeypatch.setattr(suite, "measure_conv_roof", lambda device, dtypes, seconds: fake)
    options = BenchOptions(filter="cdcgan,toy-gan", device="cpu", reference=False, reference_model="toy-gan",
                           variant_models="cdc*", variants=("fp32", "channels-last"), batch_size=4, batch_sizes=(),
                           log=lambda _: None, **QUICK)
    result = run_benchmarks(options, registry=registry)
    rows = {(r.model, r.variant): r for r in result.rows}
    assert set(rows) == {("cdcgan", "fp32"), ("cdcgan", "channels-last"), ("toy-gan", "fp32"),
                         ("toy-gan", "channels-last")}
    assert all(r.status == "ok" for r in result.rows), [r.status for r in result.rows]
    conv, mlp = rows["cdcgan", "fp32"], rows["toy-gan", "fp32"]
    assert conv.conv_share > 0.5 and mlp.conv_share == 0
    assert conv.mflop_per_image == rows["cdcgan", "channels-last"].mflop_per_image
    assert conv.conv_roof_pct is None and conv.conv_roof_basis.startswith(
        "not shown: the row's") and "exceeds the fp32 convolution roof of 0 GFLOP/s" in conv.conv_roof_basis
    assert conv.roofline_pct is None and conv.roofline_basis.startswith("not the roof of this row")
    assert mlp.conv_roof_pct is None and mlp.conv_roof_basis == ""
    assert mlp.roofline_pct is not None or mlp.roofline_basis.startswith("not shown")
    assert result.conv == fake
    md = markdown(result)
    assert "## Convolution throughput (the roof of convolutional models)" in md and "% conv roof" in md
    assert "- cdcgan fp32 batch 4: `% conv roof` not shown: the row's" in md


def test_no_conv_roof_is_timed_for_a_matmul_only_table(registry, monkeypatch):
    def refuse(*args):
        raise AssertionError("the convolution roof was timed for matrix-product rows")

    monkeypatch.setattr(suite, "measure_conv_roof", refuse)
    result = run_benchmarks(BenchOptions(filter="toy-gan", device="cpu", reference=False, reference_model="toy-gan",
                                         variants=("fp32",), batch_size=4, batch_sizes=(), log=lambda _: None,
                                         **QUICK), registry=registry)
    assert result.conv == [] and "Convolution throughput" not in markdown(result)


def test_cganzoo_run_channels_last_flag_reaches_config_json(toy_plugin, tmp_path):
    import json

    from cganzoo.cli import main

    out = tmp_path / "run"
    assert main(["run", "cdcgan", "--dataset", "toy-digits", "--max-steps", "2", "--device", "cpu", "--out", str(out),
                 "--no-progress", "--batch-size", "8", "--channels-last"]) == 0
    assert json.loads((out / "config.json").read_text())["config"]["channels_last"] is True


def test_images_per_cpu_second_counts_every_d_batch(registry):
    # A step with 5 D updates trains on 5 batches: 2 steps of batch 64 are 640 images, not 128.
    from cganzoo.bench.measure import Measurement
    from cganzoo.bench.suite import Row, _Bench

    bench = _Bench(BenchOptions(device="cpu", log=lambda _: None), registry)
    try:
        row = Row("table", "m", "c", "l", "fp32", "cpu", 64)
        m = Measurement(images_per_s=100.0, step_ms=3200.0, steps=2, seconds=6.4, warmup_s=0.0,
                        peak_memory_mib=1.0, memory_kind="x", cpu_seconds=3.2)
        bench.fill(row, m, 1e6, basis="fp32")
        assert row.images_per_cpu_s == pytest.approx(200.0) and row.images_per_s == 100.0
    finally:
        bench.tmp.cleanup()
