"""Train every registered model for a small fixed budget on real MNIST and tabulate what happened.

Writes ``docs/zoo/<model>.png`` (the run's last 10x10 sample grid: row i is
class i) and prints a markdown table of losses and speed. Usage, from the
repository root::

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=937, help="training steps per model (937 = one MNIST epoch)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs")
    parser.add_argument("--models", default="*", help="glob of models to train")
    parser.add_argument("--grids", type=Path, default=Path(__file__).resolve().parent, help="where grids go")
    args = parser.parse_args()
    rows = []
    for model in cganzoo.list_models(args.models):
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
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        first, last = metrics[0], metrics[-1]
        grid = args.grids / f"{model}.png"
        shutil.copyfile(run_dir / "samples" / f"step_{args.steps}.png", grid)
        rows.append({"model": model, "conditioner": config.conditioner.name, "networks": config.generator.name,
                     "loss": config.loss.name, "img_size": config.img_size, "steps": args.steps,
                     "d_first": first["d_loss"], "g_first": first["g_loss"],
                     "d_last": last["d_loss"], "g_last": last["g_loss"],
                     "images_per_s": sum(m["images_per_s"] for m in metrics) / len(metrics),
                     "wall_s": wall, "grid": grid.name})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print("| model | conditioner | networks | loss | px | D loss (steps 1-50 -> last 50) | G loss (same) "
          "| images/s | wall | grid |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| `{r['model']}` | {r['conditioner']} | {r['networks']} | {r['loss']} | {r['img_size']} "
              f"| {r['d_first']:.3f} -> {r['d_last']:.3f} | {r['g_first']:.3f} -> {r['g_last']:.3f} "
              f"| {r['images_per_s']:.0f} | {r['wall_s']:.0f} s | [grid]({r['grid']}) |")


if __name__ == "__main__":
    main()
