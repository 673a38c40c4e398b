"""The fast path computes what a plain, straightforward training loop computes.

Exactly on CPU fp32 (the default run config). With ``amp="bf16"``: exactly what
the same plain loop computes under ``torch.autocast``, and within a stated
tolerance of the fp32 loop. The runs use the reference network sizes
(``mlp-cgan``) on the toy data set, which has MNIST's shape.
"""

from __future__ import annotations

import contextlib
import math
import os

import pytest
import torch

import cganzoo
from cganzoo.errors import ConfigError, OptionalDependencyError
from cganzoo.training.fastpath import adam_options, resolved_adam_impl
from cganzoo.components.discovery import load_plugins
from cganzoo.training import Trainer

STEPS = 6
#: Largest |loss difference| accepted between bf16 autocast and fp32 over the first STEPS steps. bf16 keeps
#: 8 significant bits (relative rounding 2**-9 per operation); the differences seen are below 1e-3.
BF16_LOSS_TOLERANCE = 5e-3
#: The ResNet and BigGAN presets (10+ layer discriminators, 5 D updates per step): their first step's losses
#: differ by up to 1.0e-2 between bf16 and fp32 (measured: sngan-projection's G loss 0.0707 vs 0.0606).
DEEP_MODELS = {"sngan-projection", "acgan-resnet", "biggan-32"}
DEEP_BF16_LOSS_TOLERANCE = 2e-2
#: Largest |loss difference| accepted between a compiled and an eager step (kernels fused and reordered by
#: the compiler round differently).
COMPILE_LOSS_TOLERANCE = 1e-4


def make_trainer(tmp_path, registry, name, model="mlp-cgan", **overrides) -> Trainer:
    config = cganzoo.resolve_config(model, registry=registry, overrides={
        "dataset": "toy-digits", "device": "cpu", "batch_size": 16, "max_steps": 100, **overrides})
    return Trainer(config, tmp_path / name, registry=registry, progress=False, log=lambda _: None)


def plain_loop(trainer: Trainer, steps: int, autocast: torch.dtype | None = None) -> list[tuple[float, float]]:
    """The reference script's step written out plainly, with its own default ``torch.optim.Adam``.

    Only ``trainer``'s networks, batches, loss and noise generator are used;
    its optimizers are not. Nothing frozen, plain ``zero_grad()``, a host sync
    per step; under ``autocast`` the networks run inside ``torch.autocast``
    without its weight-cast cache. (With the cache, D's two calls in one
    autocast region share one bf16 copy of each weight, so their weight
    gradients are summed in bf16 before the cast to fp32; the fast path sums
    them in fp32, which rounds less.)
    """
    G, D, loss, cfg = trainer.generator, trainer.discriminator, trainer.loss, trainer.config
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.b1, cfg.b2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.b1, cfg.b2))
    amp = (lambda: torch.autocast("cpu", dtype=autocast, cache_enabled=False)) if autocast else contextlib.nullcontext
    out = []
    batches = trainer.batches.epoch(0)
    for _ in range(steps):
        real, labels = next(batches)
        z = torch.randn(real.shape[0], cfg.latent_dim, generator=trainer.state.noise)
        gen_labels = torch.randint(0, trainer.info.num_classes, (real.shape[0],), generator=trainer.state.noise)
        opt_g.zero_grad()
        with amp():
            gen_imgs = G(z, gen_labels)
            validity = D(gen_imgs, gen_labels)
        g_loss = loss.generator_loss(validity.float())
        g_loss.backward()
        opt_g.step()
        opt_d.zero_grad()
        with amp():
            real_validity = D(real, labels)
            fake_validity = D(gen_imgs.detach(), gen_labels)
        d_loss = loss.discriminator_loss(real_validity.float(), fake_validity.float())
        d_loss.backward()
        opt_d.step()
        out.append((d_loss.item(), g_loss.item()))
    return out


def fast_loop(trainer: Trainer, steps: int) -> list[tuple[float, float]]:
    batches = trainer.batches.epoch(0)
    return [tuple(t.item() for t in trainer.train_step(*next(batches))) for _ in range(steps)]


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_default_fast_path_is_bit_identical_to_the_plain_loop_on_cpu(tmp_path, registry):
    fast = make_trainer(tmp_path, registry, "fast")
    assert resolved_adam_impl(fast.config, fast.device) == "foreach"
    assert fast.state.optimizers.generator.optimizer.defaults["foreach"] is True
    plain = make_trainer(tmp_path, registry, "plain")
    torch.manual_seed(5)  # dropout draws from the global generator
    expected = plain_loop(plain, STEPS)
    torch.manual_seed(5)
    got = fast_loop(fast, STEPS)
    assert got == expected
    assert same_state(fast.generator, plain.generator) and same_state(fast.discriminator, plain.discriminator)


def test_bf16_fast_path_is_the_plain_autocast_loop_and_close_to_fp32(tmp_path, registry, native_bf16):
    # With the same (default, single-tensor) Adam kernel, the bf16 path equals the straightforward autocast loop.
    fast = make_trainer(tmp_path, registry, "fast", amp="bf16", adam_impl="for-loop")
    plain = make_trainer(tmp_path, registry, "plain")
    torch.manual_seed(5)
    expected = plain_loop(plain, STEPS, autocast=torch.bfloat16)
    torch.manual_seed(5)
    got = fast_loop(fast, STEPS)
    assert got == expected
    assert same_state(fast.generator, plain.generator)
    # Master weights, gradients and optimizer state stay fp32; so do the networks' outputs.
    assert all(p.dtype == torch.float32 for p in fast.generator.parameters())
    assert all(s["exp_avg"].dtype == torch.float32 for s in fast.state.optimizers.generator.optimizer.state.values())
    z = torch.randn(4, fast.config.latent_dim)
    assert fast.generator(z, torch.arange(4)).dtype == torch.float32

    # The bf16 path as run by default (fused Adam) tracks fp32 training within the stated tolerance.
    bf16 = make_trainer(tmp_path, registry, "bf16", amp="bf16")
    assert resolved_adam_impl(bf16.config, bf16.device) == "fused"
    fp32 = make_trainer(tmp_path, registry, "fp32")
    torch.manual_seed(5)
    reference = plain_loop(fp32, STEPS)
    torch.manual_seed(5)
    mixed = fast_loop(bf16, STEPS)
    worst = max(abs(a - b) for pair_a, pair_b in zip(reference, mixed) for a, b in zip(pair_a, pair_b))
    assert 0 < worst < BF16_LOSS_TOLERANCE, worst


def test_fused_adam_on_cpu_stays_close_to_the_default(tmp_path, registry):
    # The fused CPU kernel rounds differently (about one ulp per update); Adam's normalisation by
    # sqrt(v) amplifies that where v is tiny, so parameters are compared in units of one Adam step.
    fast = make_trainer(tmp_path, registry, "fast", adam_impl="fused")
    assert fast.state.optimizers.generator.optimizer.defaults["fused"] is True
    plain = make_trainer(tmp_path, registry, "plain")
    torch.manual_seed(5)
    expected = plain_loop(plain, STEPS)
    torch.manual_seed(5)
    got = fast_loop(fast, STEPS)
    flat = lambda pairs: [v for pair in pairs for v in pair]
    assert flat(got) == pytest.approx(flat(expected), rel=1e-4, abs=1e-6)
    for p, q in zip(fast.generator.parameters(), plain.generator.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-4)  # half of one Adam step (lr 2e-4)


@pytest.mark.parametrize("device, overrides, expected", [
    ("cpu", {}, {"foreach": True}),
    ("cpu", {"amp": "bf16"}, {"fused": True}),
    ("cpu", {"compile": True}, {"fused": True}),
    ("cpu", {"adam_impl": "for-loop"}, {"foreach": False}),
    ("cuda", {}, {"fused": True}),
    ("cuda", {"cuda_graphs": True}, {"fused": True, "capturable": True}),
    ("cuda", {"adam_impl": "foreach", "cuda_graphs": True}, {"foreach": True, "capturable": True}),
])
def test_adam_kernel_choice(device, overrides, expected):
    config = cganzoo.RunConfig(**overrides)
    assert adam_options(config, torch.device(device)) == expected


def test_cuda_graphs_off_cuda_is_a_config_error(tmp_path, registry):
    with pytest.raises(ConfigError, match="cuda_graphs needs a CUDA device, but the device is 'cpu'"):
        make_trainer(tmp_path, registry, "run", cuda_graphs=True)


def test_amp_and_adam_flags_reach_the_run_config(toy_plugin, tmp_path, native_bf16):
    import json

    from cganzoo.cli import main

    out = tmp_path / "run"
    code = main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(out), "--no-progress",
                 "--batch-size", "16", "--amp", "bf16", "--adam-impl", "for-loop"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["amp"], config["adam_impl"], config["compile"], config["cuda_graphs"]) == ("bf16", "for-loop", False, False)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CGANZOO_TEST_COMPILE"),
                    reason="torch.compile of G and D takes about 1.5-3.5 min on a shared 2-core CPU (cold cache); "
                           "set CGANZOO_TEST_COMPILE=1 to run it")
def test_compiled_step_tracks_the_plain_loop(tmp_path, registry, monkeypatch):
    import torch._inductor.config as inductor_config

    # Dropout masks from PyTorch's eager random stream rather than the compiler's own.
    monkeypatch.setattr(inductor_config, "fallback_random", True)
    fast = make_trainer(tmp_path, registry, "fast", compile=True, adam_impl="for-loop")
    plain = make_trainer(tmp_path, registry, "plain")
    torch.manual_seed(5)
    expected = plain_loop(plain, 4)
    torch.manual_seed(5)
    got = fast_loop(fast, 4)
    flat = lambda pairs: [v for pair in pairs for v in pair]
    assert flat(got) == pytest.approx(flat(expected), abs=COMPILE_LOSS_TOLERANCE)
    # nn.Module.compile() compiles in place: parameter names, hence checkpoints, are unchanged.
    assert list(fast.generator.state_dict()) == list(plain.generator.state_dict())


def test_compile_without_a_cpp_compiler_is_a_config_error(tmp_path, registry, monkeypatch):
    import shutil

    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="compile on CPU needs a C.. compiler"):
        make_trainer(tmp_path, registry, "run", compile=True)
    assert not (tmp_path / "run").exists()  # refused before the run directory was made


def test_cuda_graphs_on_cpu_from_the_cli_is_one_line_exit_2(toy_plugin, tmp_path, capsys):
    from cganzoo.cli import main

    code = main(["run", "toy-gan", "--device", "cpu", "--cuda-graphs", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cganzoo: error: cuda_graphs needs a CUDA device") and err.count("\n") == 1


@pytest.mark.parametrize("model", load_plugins().registry.names("model"))
def test_every_model_trains_under_bf16_autocast_close_to_fp32(model, tmp_path, registry, native_bf16):
    """Every registered model's bf16 steps track its fp32 steps, and D's outputs come back in fp32."""
    runs = {}
    for amp in ("off", "bf16"):
        try:
            trainer = make_trainer(tmp_path, registry, amp, model=model, amp=amp)
        except OptionalDependencyError as exc:
            pytest.skip(str(exc))
        batches = trainer.batches.epoch(0)
        torch.manual_seed(5)
        runs[amp] = [v for _ in range(3) for v in (t.item() for t in trainer.train_step(*next(batches)))]
        real, labels = next(batches)
        out = trainer.discriminator(real, labels, full=True)
        assert all(t.dtype == torch.float32 for t in (out.logits, out.class_logits) if t is not None)
    if model in DEEP_MODELS:  # one step: D's 10+ layers in bf16 move its mean logit by ~1e-2, and 5 D updates
        # per step (Adam's first updates are nearly sign(grad)) turn rounding into different trajectories
        assert runs["bf16"][:2] == pytest.approx(runs["off"][:2], rel=2e-2, abs=DEEP_BF16_LOSS_TOLERANCE)
        assert all(math.isfinite(v) for v in runs["bf16"])
    else:
        assert runs["bf16"] == pytest.approx(runs["off"], rel=2e-2, abs=BF16_LOSS_TOLERANCE)


def test_cuda_graphs_refuse_a_scheduled_optimizer(tmp_path, registry):
    with pytest.raises(ConfigError, match="cuda_graphs needs a constant optimizer, but optimizer 'sgd'"):
        make_trainer(tmp_path, registry, "run", cuda_graphs=True, optimizer={"name": "sgd"})


# -- no slow surprises: bf16 only where the hardware runs it --------------------------------------


@pytest.fixture
def emulated_bf16(monkeypatch):
    """A CPU without native bf16 (an AVX2 machine): oneDNN's check says no."""
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)


def test_bf16_where_it_is_emulated_is_refused_before_training_in_one_line(emulated_bf16, toy_plugin, tmp_path,
                                                                          capsys):
    from cganzoo.cli import main

    code = main(["run", "toy-gan", "--max-steps", "2", "--device", "cpu", "--out", str(tmp_path / "run"),
                 "--no-progress", "--amp", "bf16"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("cganzoo: error: amp 'bf16' on 'cpu' would be slow: this CPU has no native bf16")
    assert "use --amp auto (bf16 only where it is native) or --amp off" in err
    assert not (tmp_path / "run").exists()


def test_amp_auto_is_bf16_where_native_and_fp32_where_emulated(tmp_path, registry, monkeypatch):
    from cganzoo.training import fastpath

    native = make_trainer(tmp_path, registry, "native", amp="auto") if fastpath.bf16_support(torch.device("cpu"))[0] \
        else None
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    emulated = make_trainer(tmp_path, registry, "emulated", amp="auto")
    assert fastpath.resolved_amp(emulated.config, emulated.device) == "off"
    assert not hasattr(emulated.generator.forward, "__wrapped__")  # no autocast wrapper: plain fp32
    assert emulated.state.optimizers.generator.optimizer.defaults["foreach"] is True  # the exact kernel
    if native is not None:  # this machine has native bf16: auto turns it on
        assert hasattr(native.generator.forward, "__wrapped__")
        assert native.state.optimizers.generator.optimizer.defaults["fused"] is True


def test_the_bench_never_shows_a_fraction_of_a_roof_it_does_not_trust():
    from cganzoo.bench.suite import roofline_fraction

    assert roofline_fraction(50.0, 100.0, "fp32") == (50.0, "fp32 matmul 100 GFLOP/s")
    pct, why = roofline_fraction(120.0, 100.0, "fp32")
    assert pct is None and "exceeds the fp32 roof of 100 GFLOP/s" in why
    pct, why = roofline_fraction(20.0, 1.0, "bf16", emulated=True)
    assert pct is None and "bf16 is emulated on this CPU" in why
    assert roofline_fraction(20.0, None, "bf16")[0] is None
