"""Figures for docs/distributed.md: data-parallel scaling, and what per-rank BatchNorm changes.

Never part of the test run. Two measurements:

``scaling``
    Trains ``mlp-cgan`` on real MNIST (global batch 64) for ``--steps`` steps
    as one process (torch's default threads, and one thread), and as N torchrun
    ranks with gloo (``cganzoo run --nproc N``, one thread each, as torchrun sets
    ``OMP_NUM_THREADS=1``). Reports the median ``images_per_s`` of
    ``metrics.jsonl`` windows after the first (start-up and warm-up excluded).

``batchnorm``
    For the reference model at its initialisation (MNIST's shapes), on
    ``--batches`` batches of 64 noise vectors and labels: the generator step's gradient with BatchNorm
    statistics over all 64 samples (one rank, or N ranks with SyncBatchNorm)
    against the mean of two 32-sample gradients with per-half statistics (two
    ranks without SyncBatchNorm). Reported as ``||g_split - g_full|| / ||g_full||``,
    next to the same figure for the model without BatchNorm in G (float noise).

Usage::

    python benchmarks/distributed.py scaling --steps 300 --nproc 2
    python benchmarks/distributed.py batchnorm --batches 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def _median_rate(run_dir: Path) -> tuple[float, int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["images_per_s"] for r in rows[1:]]  # the first window holds start-up
    return statistics.median(rates), len(rates)


def scaling(steps: int, nprocs: list[int], log_interval: int, repeat: int = 1) -> None:
    base = [sys.executable, "-m", "cganzoo", "run", "mlp-cgan", "--device", "cpu", "--no-progress",
            "--max-steps", str(steps), "--log-interval", str(log_interval), "--sample-interval", str(10 * steps),
            "--checkpoint-interval", str(10 * steps)]
    setups: list[tuple[str, list[str], dict[str, str]]] = [
        (f"1 process, torch default threads ({torch.get_num_threads()})", [], {}),
        ("1 process, 1 thread", [], {"OMP_NUM_THREADS": "1"}),
    ]
    for n in nprocs:
        setups.append((f"{n} ranks, torchrun + gloo, 1 thread each", ["--nproc", str(n)], {}))
    print(f"mlp-cgan, real MNIST, global batch 64, {steps} steps, CPU: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.2f} before")
    print(f"torch {torch.__version__}")
    print("| setup | round | images/s (median of windows) | windows | wall s | load avg after |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, repeat + 1):  # rounds interleave the setups, so drifting load hits all alike
            for i, (name, extra, env) in enumerate(setups):
                out = Path(tmp) / f"run{round_}-{i}"
                start = time.perf_counter()
                subprocess.run([*base, "--out", str(out), *extra], check=True, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                rate, windows = _median_rate(out)
                print(f"| {name} | {round_} | {rate:.0f} | {windows} | {time.perf_counter() - start:.0f} "
                      f"| {os.getloadavg()[0]:.2f} |", flush=True)


def batchnorm(batches: int) -> None:
    import cganzoo
    from cganzoo.components.factory import create_dataset, create_loss
    from cganzoo.training import build_models

    info = create_dataset("mnist", log=lambda _: None).info  # the G step sees no real images

    def g_grad(generator, discriminator, loss, z, y):
        generator.zero_grad(set_to_none=True)
        discriminator.requires_grad_(False)
        loss.generator_loss(discriminator(generator(z, y), y)).backward()
        discriminator.requires_grad_(True)
        return torch.cat([p.grad.flatten() for p in generator.parameters()])

    variants = {
        "mlp-cgan (reference BatchNorm, eps=0.8)": {},
        "mlp-cgan-corrected-bn (eps=1e-5, momentum=0.2)": {"generator": {"name": "mlp", "params": {"batchnorm": "corrected"}}},
        "generator without BatchNorm (hidden [256], control)": {"generator": {"name": "mlp", "params": {"hidden": [256]}}},
    }
    print(f"generator-step gradient, 2 ranks x 32 without SyncBatchNorm vs 1 rank x 64, at initialisation, "
          f"{batches} batches of 64")
    print("| model | relative difference, median | max |\n| --- | ---: | ---: |")
    for name, override in variants.items():
        config = cganzoo.resolve_config("mlp-cgan", overrides={"device": "cpu", **override})
        generator, discriminator = build_models(config, info)
        loss = create_loss(config.loss.name, config.loss.params)
        generator.train()
        discriminator.eval()  # no dropout: isolate BatchNorm
        noise = torch.Generator().manual_seed(1)
        diffs = []
        for _ in range(batches):
            z = torch.randn(64, config.latent_dim, generator=noise)
            y = torch.randint(0, 10, (64,), generator=noise)
            full = g_grad(generator, discriminator, loss, z, y)
            split = (g_grad(generator, discriminator, loss, z[:32], y[:32])
                     + g_grad(generator, discriminator, loss, z[32:], y[32:])) / 2
            diffs.append(((split - full).norm() / full.norm()).item())
        print(f"| {name} | {statistics.median(diffs):.2e} | {max(diffs):.2e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("scaling")
    s.add_argument("--steps", type=int, default=300)
    s.add_argument("--log-interval", type=int, default=50)
    s.add_argument("--nproc", type=int, nargs="+", default=[2])
    s.add_argument("--repeat", type=int, default=1, help="rounds over all setups")
    b = sub.add_parser("batchnorm")
    b.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    if args.what == "scaling":
        scaling(args.steps, args.nproc, args.log_interval, args.repeat)
    else:
        batchnorm(args.batches)


if __name__ == "__main__":
    main()
