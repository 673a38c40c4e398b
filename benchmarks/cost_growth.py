"""How training cost grows with image size and data-set size: ``python benchmarks/cost_growth.py``.

For each model, data set and image size it trains the model through the
runner's own :class:`cganzoo.training.Trainer` and :meth:`cganzoo.training.Trainer.fit`
(as ``cganzoo bench`` does) for ``--steps`` steps after a warm-up, each cell in
a fresh process so that its peak memory is its own, and records:

* seconds per epoch, **extrapolated** from the timed steps (training images /
  images per second; a full epoch is not run);
* peak memory during the timed steps: process peak resident set size (MiB,
  the data set included) on CPU, ``torch.cuda.max_memory_allocated`` on CUDA;
* model FLOPs per step (matrix products and convolutions, forward and
  backward, counted with ``FlopCounterMode``) and kernels per step: on CUDA the
  kernels the profiler saw launched in one step, on CPU the operators that
  would each launch at least one kernel on a GPU (leaf ATen operators of one
  step, less those that only make views), as a proxy;
* on CPU, an *estimate* of the step time on a GPU:
  ``max(FLOPs / GPU roof, kernels x launch cost)``, with the roof and launch
  cost given by ``--gpu-tflops`` and ``--launch-us``. A CUDA run of this script
  replaces the estimate with a measurement.

Data sets: ``mnist`` (60,000 1x28x28), ``mnist-x4`` (the same images repeated
4 times in memory: 240,000), ``random-mnist`` and ``random-mnist-x4`` (random
images of MNIST's shape and counts, for a machine without the MNIST files) and ``colour-folder`` (a folder of random 3x32x32
PNG images in 10 class subfolders that the script writes, read by the
``imagefolder`` data set). Images are resized to each ``--sizes`` side.

Writes ``<out>/cost-growth-<tag>.md`` and ``.json`` and, with ``--readme``,
puts the table in ``benchmarks/README.md`` between the
``<!-- cost-growth:<tag> -->`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: ATen operators that only make a view or query metadata: no kernel on any device.
VIEW_OPS = frozenset({
    "aten::view", "aten::_unsafe_view", "aten::reshape", "aten::_reshape_alias", "aten::as_strided", "aten::t",
    "aten::transpose", "aten::permute", "aten::expand", "aten::detach", "aten::alias", "aten::empty",
    "aten::empty_like", "aten::empty_strided", "aten::resize_", "aten::select", "aten::slice", "aten::unsqueeze",
    "aten::squeeze", "aten::split", "aten::chunk", "aten::narrow", "aten::unbind", "aten::lift_fresh",
    "aten::is_nonzero", "aten::numpy_T", "aten::flatten", "aten::unflatten", "aten::view_as", "aten::expand_as",
    "aten::split_with_sizes", "aten::contiguous", "aten::to", "aten::_to_copy", "aten::result_type",
    "aten::set_", "aten::item", "aten::_local_scalar_dense", "aten::size", "aten::stride",
})
COLOUR_CLASSES, COLOUR_PER_CLASS = 10, 500


def make_colour_folder(root: Path, seed: int = 0) -> Path:
    """Write ``COLOUR_CLASSES`` x ``COLOUR_PER_CLASS`` random 3x32x32 PNGs, one subfolder per class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k in range(COLOUR_CLASSES):
        folder = root / f"class{k}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, size=3)  # each class its own mean colour, so the labels mean something
        for i in range(COLOUR_PER_CLASS):
            noise = rng.normal(0, 40, size=(32, 32, 3))
            Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def registry_with_growth_datasets():
    """The installed registry plus ``mnist-x4`` (MNIST's training images repeated 4 times in memory)."""
    from cganzoo import LabelledImages
    from cganzoo.components.factory import get_registry
    from cganzoo.components.registry import Registry

    base = get_registry(None)
    registry = Registry()
    for c in base.components():
        registry.register(c.kind, c.name, c.factory, params=c.params, plugin=c.plugin, description=c.description,
                          **c.extra)
    mnist = base.get("dataset", "mnist")

    def mnist_x4(data_dir: Any = None, log: Any = print, **params: Any) -> LabelledImages:
        data = mnist.factory(data_dir=data_dir, log=log, **params)
        return LabelledImages(data.images.repeat(4, 1, 1, 1), data.labels.repeat(4), data.info,
                              data.test_images, data.test_labels)

    registry.register("dataset", "mnist-x4", mnist_x4, params=mnist.params, plugin="cost_growth",
                      description="MNIST's training images repeated 4 times", **mnist.extra)
    for name, repeats in (("random-mnist", 1), ("random-mnist-x4", 4)):
        registry.register("dataset", name, _random_mnist(repeats), plugin="cost_growth",
                          description=f"{60_000 * repeats:,} random 1x28x28 images, 10 classes (MNIST's shapes, "
                                      f"for a machine without the MNIST files)")
    return registry


def _random_mnist(repeats: int) -> Any:
    def load(data_dir: Any = None, log: Any = print, **context: Any) -> Any:
        import torch

        from cganzoo import DatasetInfo, LabelledImages

        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (60_000, 1, 28, 28), dtype=torch.uint8, generator=gen)
        labels = torch.randint(0, 10, (60_000,), generator=gen)
        info = DatasetInfo("random-mnist", 10, tuple(str(k) for k in range(10)), (1, 28, 28))
        return LabelledImages(images.repeat(repeats, 1, 1, 1), labels.repeat(repeats), info)

    return load


def kernels_per_step(trainer: Any, batch: tuple[Any, Any]) -> tuple[int, str]:
    """Kernels one training step launches (CUDA), or the operators that would launch them (CPU proxy)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = trainer.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        trainer.train_step(*batch)
        if cuda:
            torch.cuda.synchronize(trainer.device)
    events = prof.events()
    if cuda:
        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
        return len(kernels), "CUDA kernels launched (profiler)"
    leaves = [e for e in events if e.name.startswith("aten::") and e.name not in VIEW_OPS
              and not any(c.name.startswith("aten::") for c in e.cpu_children)]
    return len(leaves), "leaf ATen operators (CPU proxy for GPU kernels)"


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Train one (model, data set, size) cell and measure it; runs in its own process."""
    import torch

    from cganzoo.api import resolve_config
    from cganzoo.bench.flops import counted_flops_by_kind
    from cganzoo.bench.measure import measure_fit
    from cganzoo.training import Trainer

    if cell.get("threads"):
        torch.set_num_threads(cell["threads"])
    registry = registry_with_growth_datasets()
    dataset: dict[str, Any] = {"name": cell["dataset"]}
    if cell["dataset"] == "colour-folder":
        dataset = {"name": "imagefolder", "params": {"root": cell["colour_root"]}}
    config = resolve_config(cell["model"], registry=registry, overrides={
        "dataset": dataset, "img_size": cell["size"], "device": cell["device"], "batch_size": cell["batch_size"],
        "seed": 0, "epochs": 1_000_000})
    start = time.perf_counter()
    trainer = Trainer(config, None, registry=registry, progress=False, log=lambda _: None)
    build_s = time.perf_counter() - start
    batch = next(trainer.batches.epoch(0))
    flops = counted_flops_by_kind(lambda: trainer.train_step(*batch))  # also the first warm-up step
    kernels, kernel_kind = kernels_per_step(trainer, batch)
    m = measure_fit(trainer, warmup_steps=cell["warmup"], min_seconds=0.0, min_steps=cell["steps"])
    images = int(trainer.batches.images.shape[0])
    shape = tuple(trainer.batches.images.shape[1:])
    return {**{k: cell[k] for k in ("model", "dataset", "size", "device", "batch_size")},
            "train_images": images, "image_shape": list(shape), "build_s": build_s,
            "steps_timed": m.steps, "step_ms": m.step_ms, "images_per_s": m.images_per_s,
            "epoch_s": images / m.images_per_s, "steps_per_epoch": len(trainer.batches),
            "peak_memory_mib": m.peak_memory_mib, "memory_kind": m.memory_kind,
            "flops_per_step": sum(flops.values()), "conv_flops_per_step": flops["conv"],
            "kernels_per_step": kernels, "kernel_kind": kernel_kind}


def gpu_estimate(row: dict[str, Any], gpu_tflops: float, launch_us: float) -> dict[str, float]:
    """Step and epoch seconds on a GPU: ``max(FLOPs / roof, kernels x launch cost)`` (an estimate)."""
    compute_s = row["flops_per_step"] / (gpu_tflops * 1e12)
    launch_s = row["kernels_per_step"] * launch_us * 1e-6
    step_s = max(compute_s, launch_s)
    return {"gpu_step_ms": step_s * 1e3, "gpu_epoch_s": step_s * row["steps_per_epoch"],
            "gpu_bound": "launches" if launch_s >= compute_s else "FLOPs"}


def table(rows: list[dict[str, Any]], estimate: bool) -> str:
    head = ["model", "data set", "train images", "image", "ms/step", "s/epoch (extrapolated)", "peak MiB",
            "GFLOP/step", "conv %", "kernels/step"]
    if estimate:
        head += ["GPU ms/step (estimate)", "GPU s/epoch (estimate)", "GPU bound by"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['dataset']} | {r['size']} px: {r['error']} |")
            continue
        c, h, w = r["image_shape"]
        cells = [r["model"], r["dataset"], f"{r['train_images']:,}", f"{c}x{h}x{w}", f"{r['step_ms']:,.1f}",
                 f"{r['epoch_s']:,.0f}", f"{r['peak_memory_mib']:,.0f}", f"{r['flops_per_step'] / 1e9:.2f}",
                 f"{100 * r['conv_flops_per_step'] / max(r['flops_per_step'], 1):.0f}%", str(r["kernels_per_step"])]
        if estimate:
            cells += [f"{r['gpu_step_ms']:.2f}", f"{r['gpu_epoch_s']:.1f}", r["gpu_bound"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, machine: dict[str, Any], seconds: float) -> str:
    estimate = args.device == "cpu"
    ok = [r for r in rows if "error" not in r]
    lines = [
        f"Measured with `{args.command}` on {machine['processor']} ({machine['logical_cpus']} logical CPUs, flags "
        f"{', '.join(machine['cpu_flags'])}; torch {machine['versions'].get('torch', '?')}"
        + (f"; {machine['accelerator']['name']}" if machine.get("accelerator") else "")
        + f"), load average at start {', '.join(f'{v:.1f}' for v in machine['load_average_start'] or ())} (1, 5, 15 min; above the number of CPUs means other work shared the machine); {seconds:.0f} s in all.",
        "",
        f"Batch {args.batch_size}, fp32, each cell in its own process: {args.warmup} warm-up steps, then "
        f"{args.steps} timed steps; **seconds per epoch are extrapolated** from them (training images / images per "
        f"second). Peak memory: {ok[0]['memory_kind'] if ok else 'peak memory'} during the timed steps"
        + (" (the whole process: Python, PyTorch and the data set in memory)." if not machine.get("accelerator")
           else "."),
        "",
        table(rows, estimate),
        "",
    ]
    if estimate:
        lines += [
            f"GPU columns are an **estimate, not a measurement**: step time = max(FLOPs per step / "
            f"{args.gpu_tflops:g} TFLOP/s, kernels per step x {args.launch_us:g} us launch cost); kernels per step are "
            "the CPU proxy (leaf ATen operators of one profiled step, less view-only ones). Data loading costs nothing "
            "there either way: the data set sits on the device and a batch is one gather. A CUDA run "
            "(`python benchmarks/cost_growth.py --device cuda`) replaces the estimate with measured figures.", ""]
    return "\n".join(lines)


def update_readme(readme: Path, tag: str, text: str) -> None:
    start, end = f"<!-- cost-growth:{tag} -->", f"<!-- /cost-growth:{tag} -->"
    body = readme.read_text()
    if start not in body or end not in body:
        raise SystemExit(f"{readme} has no {start} ... {end} markers to put the table between")
    before, rest = body.split(start, 1)
    after = rest.split(end, 1)[1]
    readme.write_text(f"{before}{start}\n{text.strip()}\n{end}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mlp-cgan,cdcgan", help="comma-separated (default mlp-cgan,cdcgan)")
    parser.add_argument("--datasets", default="mnist,mnist-x4,colour-folder")
    parser.add_argument("--sizes", default="28,32,64")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="timed steps per cell (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per cell (default 5)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads in each cell")
    parser.add_argument("--gpu-tflops", type=float, default=50.0,
                        help="GPU fp32 roof of the estimate, TFLOP/s (default 50: an H100/H200's 67 datasheet fp32, "
                             "derated for small products)")
    parser.add_argument("--launch-us", type=float, default=5.0, help="cost of one kernel launch, us (default 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--tag", help="file stem suffix (default the device type)")
    parser.add_argument("--readme", action="store_true", help="also put the table in benchmarks/README.md")
    parser.add_argument("--make-colour-folder", type=Path, metavar="DIR", help="only write the colour folder to DIR")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell:
        print(json.dumps(run_cell(json.loads(args.cell))))
        return 0
    if args.make_colour_folder:
        make_colour_folder(args.make_colour_folder)
        return 0

    import torch

    from cganzoo.bench.machine import describe_machine
    from cganzoo.distributed.device import resolve_device

    args.command = "python benchmarks/cost_growth.py " + " ".join(argv if argv is not None else sys.argv[1:])
    tag = args.tag or resolve_device(args.device).type
    machine = describe_machine(resolve_device(args.device))
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cganzoo-cost-growth-") as tmp:
        colour_root = str(make_colour_folder(Path(tmp) / "colour")) if "colour-folder" in args.datasets else None
        for model in args.models.split(","):
            for dataset in args.datasets.split(","):
                for size in (int(s) for s in args.sizes.split(",")):
                    cell = {"model": model, "dataset": dataset, "size": size, "device": args.device,
                            "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
                            "threads": args.threads, "colour_root": colour_root}
                    done = subprocess.run([sys.executable, __file__, "--cell", json.dumps(cell)], capture_output=True,
                                          text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                              [str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])})
                    if done.returncode:
                        error = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
                        row = {"model": model, "dataset": dataset, "size": size, "error": error}
                    else:
                        row = json.loads(done.stdout.strip().splitlines()[-1])
                        if args.device == "cpu":
                            row.update(gpu_estimate(row, args.gpu_tflops, args.launch_us))
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    text = report(rows, args, machine, seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"cost-growth-{tag}.md").write_text(f"# How cost grows: {tag}\n\n{text}")
    (args.out / f"cost-growth-{tag}.json").write_text(json.dumps(
        {"machine": machine, "command": args.command, "seconds": seconds, "rows": rows}, indent=1, default=str))
    if args.readme:
        update_readme(ROOT / "benchmarks" / "README.md", tag, text)
    print(text)
    del torch
    return 0


if __name__ == "__main__":
    sys.exit(main())
