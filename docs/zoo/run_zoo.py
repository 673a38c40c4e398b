"""Train every registered model for a small fixed budget on one data set, evaluate it, and tabulate.

Writes ``<grids>/<prefix><model>.png`` (the run's last 10x10 sample grid: row i
is class i), ``<out>/<model>/row.json`` and prints a markdown table:
conditional accuracy and Frechet distance in judge features (``cganzoo eval``'s
metrics, 1,000 samples per class, seed 0), losses and speed. Usage, from the
repository root::

    OMP_NUM_THREADS=1 python docs/zoo/run_zoo.py --steps 937 --out /tmp/zoo-runs
    python docs/zoo/run_zoo.py --epochs 1 --dataset fashion-mnist --data-dir DIR \\
        --device cuda --jobs 4 --out /tmp/zoo-fashion --prefix fashion-mnist-

``--jobs N`` trains N models at once in separate processes (each row then
shares the machine with the others: its images/s and wall time are rough).
The numbers are what one run measured on one machine; rerun to reproduce.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

import cganzoo
from cganzoo.api import evaluate_run
from cganzoo.errors import OptionalDependencyError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps per model (937 = one MNIST epoch)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs per model instead of --steps (an epoch of a model with k D steps "
                             "per G step is 1/k as many steps)")
    parser.add_argument("--out", type=Path, required=True, help="directory for the runs")
    parser.add_argument("--models", default="*", help="comma-separated globs of models to train")
    parser.add_argument("--dataset", default=None, help="data set of every run (default: each model's own)")
    parser.add_argument("--data-dir", type=Path, default=None, help="hand-placed data files / cache")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="models trained at once, in separate processes")
    parser.add_argument("--grids", type=Path, default=Path(__file__).resolve().parent, help="where grids go")
    parser.add_argument("--prefix", default="", help="prefix of the grid file names")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: train one model
    parser.add_argument("--reference", action="store_true",
                        help="only measure real training images (1,000 per class) the same way, as a reference row")
    args = parser.parse_args()
    if args.steps is None and args.epochs is None:
        args.steps = 937
    if args.reference:
        real_reference(args)
        return
    if args.one is not None:
        row = train_one(args, args.one)
        print(json.dumps(row), flush=True)
        return
    # In the order the globs give (slow models first keeps --jobs busy), each once.
    models = list(dict.fromkeys(m for pattern in args.models.split(",") for m in cganzoo.list_models(pattern.strip())))
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dataset:  # train (or load) the data set's judge once, before the runs need it at the same time
        from cganzoo.evaluation import load_or_train_judge

        data = cganzoo.create_dataset(args.dataset, data_dir=args.data_dir, log=print)
        load_or_train_judge(data, cache_root=args.data_dir, device=args.device, log=print)
    pending = list(models)
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < args.jobs:
            model = pending.pop(0)
            log = open(args.out / f"{model}.log", "w")  # noqa: SIM115 - closed with the process
            command = [sys.executable, __file__, *forwarded(args), "--one", model]
            running.append((model, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(0.5)
        for model, process in list(running):
            if process.poll() is not None:
                running.remove((model, process))
                status = "ok" if process.returncode == 0 else f"exit {process.returncode}"
                print(f"{model}: {status} (log {args.out / (model + '.log')})", flush=True)
    rows = [json.loads((args.out / m / "row.json").read_text()) for m in sorted(models)
            if (args.out / m / "row.json").exists()]
    print_table(rows, args)


def forwarded(args: argparse.Namespace) -> list[str]:
    """The options a child process needs to train one model as this process would."""
    out = ["--out", str(args.out), "--device", args.device, "--seed", str(args.seed),
           "--grids", str(args.grids), "--prefix", args.prefix, "--jobs", str(args.jobs)]
    out += ["--steps", str(args.steps)] if args.steps is not None else []
    out += ["--epochs", str(args.epochs)] if args.epochs is not None else []
    out += ["--dataset", args.dataset] if args.dataset else []
    out += ["--data-dir", str(args.data_dir)] if args.data_dir else []
    return out


def train_one(args: argparse.Namespace, model: str) -> dict:
    run_dir = args.out / model
    overrides: dict = {"device": args.device, "out": str(run_dir), "log_interval": 50, "seed": args.seed}
    if args.epochs is not None:
        overrides.update(epochs=args.epochs, max_steps=None)
    else:
        overrides.update(max_steps=args.steps)
    if args.dataset:
        overrides["dataset"] = {"name": args.dataset}
    if args.data_dir:
        overrides["data_dir"] = str(args.data_dir.resolve())
    config = cganzoo.resolve_config(model, overrides=overrides)
    # One grid and one checkpoint at the end: the budget's last step.
    config = config.model_copy(update={"sample_interval": 10**9, "checkpoint_interval": 10**9})
    start = time.perf_counter()
    try:
        cganzoo.train(config, progress=False, log=lambda line: None)
    except OptionalDependencyError as exc:
        print(f"skipped {model}: {exc}")
        return {}
    wall = time.perf_counter() - start
    eval_start = time.perf_counter()
    report = evaluate_run(run_dir, metrics=["conditional-accuracy", "judge-frechet-distance"],
                          device=args.device, log=lambda line: None)
    eval_wall = time.perf_counter() - eval_start
    scalars = report.scalars()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "d_loss" in m]
    first, last = steps[0], steps[-1]
    grids = sorted((run_dir / "samples").glob("step_*.png"), key=lambda p: int(p.stem.split("_")[1]))
    grid = args.grids / f"{args.prefix}{model}.png"
    shutil.copyfile(grids[-1], grid)
    judge = report.protocol.get("judge", {})
    row = {"model": model, "dataset": config.dataset.name, "conditioner": config.conditioner.name,
           "networks": config.generator.name, "loss": config.loss.name, "img_size": config.img_size,
           "steps": last["step"], "epochs": last.get("epoch"),
           "d_steps_per_g_step": config.d_steps_per_g_step,
           "d_first": first["d_loss"], "g_first": first["g_loss"],
           "d_last": last["d_loss"], "g_last": last["g_loss"],
           "images_per_s": sum(m["images_per_s"] for m in steps) / len(steps),
           "wall_s": wall, "eval_s": eval_wall, "grid": grid.name, "device": str(args.device),
           "jobs": args.jobs, "judge": judge,
           "accuracy": scalars["conditional-accuracy/accuracy"],
           "fd": scalars["judge-frechet-distance/fd"],
           "fd_intra": scalars["judge-frechet-distance/fd_intra_class_mean"]}
    (run_dir / "row.json").write_text(json.dumps(row, indent=1))
    return row


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    print(f"\ntorch {torch.__version__}, device {args.device}, {args.jobs} model(s) at once\n")
    print("| model | conditioner | networks | loss | px | steps | conditional accuracy | judge FD "
          "| intra-class judge FD | D loss (first 50 steps -> last 50) | G loss (same) | images/s | train wall "
          "| grid (row i = class i) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| `{r['model']}` | {r['conditioner']} | {r['networks']} | {r['loss']} | {r['img_size']} "
              f"| {r['steps']} | {r['accuracy']:.3f} | {r['fd']:.1f} | {r['fd_intra']:.1f} "
              f"| {r['d_first']:.3f} -> {r['d_last']:.3f} | {r['g_first']:.3f} -> {r['g_last']:.3f} "
              f"| {r['images_per_s']:.0f} | {r['wall_s']:.0f} s | [{r['grid']}](zoo/{r['grid']}) |")


def real_reference(args: argparse.Namespace) -> None:
    """The metrics of real training images, 1,000 per class: what a perfect generator would score."""
    from cganzoo.evaluation import evaluate_samples, uint8_to_unit_range

    name = args.dataset or "mnist"
    data = cganzoo.create_dataset(name, data_dir=args.data_dir, log=lambda line: None)
    picks = torch.cat([(data.labels == k).nonzero()[:1000, 0] for k in range(data.info.num_classes)])
    report = evaluate_samples(uint8_to_unit_range(data.images[picks]), data.labels[picks], data,
                              metrics=["conditional-accuracy", "judge-frechet-distance"], log=lambda line: None)
    scalars = report.scalars()
    print(f"| real {name} training images (1,000 per class) | | | | {data.images.shape[-1]} | "
          f"| {scalars['conditional-accuracy/accuracy']:.3f} | {scalars['judge-frechet-distance/fd']:.1f} "
          f"| {scalars['judge-frechet-distance/fd_intra_class_mean']:.1f} | | | | | |")


if __name__ == "__main__":
    main()
