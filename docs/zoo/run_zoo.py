"""Train every registered model for a small fixed budget on real MNIST, evaluate it, and tabulate.

Writes ``docs/zoo/<model>.png`` (the run's last 10x10 sample grid: row i is
class i) and prints a markdown table: conditional accuracy and Frechet
distance in judge features (``cganzoo eval``'s metrics, 1,000 samples per
class, seed 0), losses and speed. Usage, from the repository root::

    OMP_NUM_THREADS=1 python docs/zoo/run_zoo.py --steps 937 --out /tmp/zoo-runs

The numbers are what one run measured on one machine; rerun to reproduce.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

import cganzoo
from cganzoo.errors import OptionalDependencyError
from cganzoo.api import evaluate_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=937, help="training steps per model (937 = one MNIST epoch)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs")
    parser.add_argument("--models", default="*", help="comma-separated globs of models to train")
    parser.add_argument("--grids", type=Path, default=Path(__file__).resolve().parent, help="where grids go")
    parser.add_argument("--reference", action="store_true",
                        help="only measure real training images (1,000 per class) the same way, as a reference row")
    args = parser.parse_args()
    if args.reference:
        real_reference()
        return
    rows = []
    models = sorted({m for pattern in args.models.split(",") for m in cganzoo.list_models(pattern.strip())})
    for model in models:
        run_dir = args.out / model
        config = cganzoo.resolve_config(model, overrides={
            "max_steps": args.steps, "device": "cpu", "out": str(run_dir), "log_interval": 50,
            "sample_interval": args.steps, "checkpoint_interval": args.steps})
        start = time.perf_counter()
        try:
            cganzoo.train(config, progress=False, log=lambda line: None)
        except OptionalDependencyError as exc:
            print(f"skipped {model}: {exc}")
            continue
        wall = time.perf_counter() - start
        report = evaluate_run(run_dir, metrics=["conditional-accuracy", "judge-frechet-distance"],
                              log=lambda line: None)
        scalars = report.scalars()
        print(json.dumps(scalars), flush=True)
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        first, last = metrics[0], metrics[-1]
        grid = args.grids / f"{model}.png"
        shutil.copyfile(run_dir / "samples" / f"step_{args.steps}.png", grid)
        rows.append({"model": model, "conditioner": config.conditioner.name, "networks": config.generator.name,
                     "loss": config.loss.name, "img_size": config.img_size, "steps": args.steps,
                     "d_first": first["d_loss"], "g_first": first["g_loss"],
                     "d_last": last["d_loss"], "g_last": last["g_loss"],
                     "images_per_s": sum(m["images_per_s"] for m in metrics) / len(metrics),
                     "wall_s": wall, "grid": grid.name,
                     "accuracy": scalars["conditional-accuracy/accuracy"],
                     "fd": scalars["judge-frechet-distance/fd"],
                     "fd_intra": scalars["judge-frechet-distance/fd_intra_class_mean"]})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print("| model | conditioner | networks | loss | px | conditional accuracy | judge FD | intra-class judge FD "
          "| D loss (steps 1-50 -> last 50) | G loss (same) | images/s | train wall | grid |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| `{r['model']}` | {r['conditioner']} | {r['networks']} | {r['loss']} | {r['img_size']} "
              f"| {r['accuracy']:.3f} | {r['fd']:.2f} | {r['fd_intra']:.2f} "
              f"| {r['d_first']:.3f} -> {r['d_last']:.3f} | {r['g_first']:.3f} -> {r['g_last']:.3f} "
              f"| {r['images_per_s']:.0f} | {r['wall_s']:.0f} s | [{r['grid']}](zoo/{r['grid']}) |")


def real_reference() -> None:
    """The metrics of real MNIST training images, 1,000 per class: what a perfect generator would score."""
    from cganzoo.evaluation import evaluate_samples, uint8_to_unit_range

    data = cganzoo.create_dataset("mnist", log=lambda line: None)
    picks = torch.cat([(data.labels == k).nonzero()[:1000, 0] for k in range(data.info.num_classes)])
    report = evaluate_samples(uint8_to_unit_range(data.images[picks]), data.labels[picks], data,
                              metrics=["conditional-accuracy", "judge-frechet-distance"], log=lambda line: None)
    scalars = report.scalars()
    print(f"| real MNIST training images (1,000 per class) | | | | 28 "
          f"| {scalars['conditional-accuracy/accuracy']:.3f} | {scalars['judge-frechet-distance/fd']:.2f} "
          f"| {scalars['judge-frechet-distance/fd_intra_class_mean']:.2f} | | | | | |")


if __name__ == "__main__":
    main()
