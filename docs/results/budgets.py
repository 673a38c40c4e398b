"""Train models over several seeds with an evaluation after every epoch: the runs behind docs/results.md.

Each (model, seed) is one ``cganzoo run`` (the project's own command), with
``--eval-interval`` set to the model's steps per epoch, so a run's
``metrics.jsonl`` holds every metric after epochs 1, 2, ... Runs go to
``<out>/<model>-seed<N>``. ``docs/results/table.py`` prints the tables of
docs/results.md from copies of the runs' eval records in ``docs/results/seeds*/``
(``grep '"eval"' <out>/<run>/metrics.jsonl > docs/results/seeds-cpu/<run>.evals.jsonl``;
docs/results.md gives the exact commands). Usage::

    python docs/results/budgets.py --out runs/budgets --models 'mlp-cgan*,paper-cgan*' \\
        --seeds 0,1,2 --epochs 5 --jobs 6 --device cuda
    python docs/results/budgets.py --out runs/long --models mlp-cgan --seeds 0 --epochs 200 \\
        --eval-every 10 --device cuda

``--jobs N`` runs N trainings at once (separate processes); their timings are
then shared-machine timings. A run stopped from outside (SIGTERM) writes a
checkpoint and keeps the evaluations it made; ``cganzoo run --resume`` continues it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import cganzoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory of the runs, one per model and seed")
    parser.add_argument("--models", default="mlp-cgan*,paper-cgan*", help="comma-separated globs of model names")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds (default 0,1,2)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--eval-every", type=int, default=1, help="evaluate every this many epochs")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--data-dir", type=Path, default=None, help="passed to cganzoo run")
    parser.add_argument("--train-size", type=int, default=60000,
                        help="the data set's number of training images, used only to turn epochs into the "
                             "--eval-interval in steps (MNIST and Fashion-MNIST: 60,000); it does not subsample")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at once (default 1)")
    parser.add_argument("--extra", default="", help="more `cganzoo run` flags, e.g. '--amp bf16'")
    parser.add_argument("--suffix", default="", help="appended to each model's name in the run folders, e.g. "
                        "'-bf16' for <model>-bf16-seed<N> (table.py reads it as part of the model's name)")
    args = parser.parse_args()
    models = cganzoo.list_models(args.models)
    seeds = [int(s) for s in args.seeds.split(",")]
    commands = []
    for model in models:
        config = cganzoo.resolve_config(model)
        steps_per_epoch = args.train_size // (config.batch_size * config.d_steps_per_g_step)
        for seed in seeds:
            command = [sys.executable, "-m", "cganzoo", "run", model, "--epochs", str(args.epochs),
                       "--seed", str(seed), "--device", args.device, "--no-progress",
                       "--eval-interval", str(steps_per_epoch * args.eval_every),
                       "--out", str(args.out / f"{model}{args.suffix}-seed{seed}"), *args.extra.split()]
            if args.data_dir is not None:
                command += ["--data-dir", str(args.data_dir)]
            commands.append((f"{model}{args.suffix}-seed{seed}", command))
    args.out.mkdir(parents=True, exist_ok=True)
    running: list[tuple[str, subprocess.Popen, float]] = []
    failed = 0
    while commands or running:
        while commands and len(running) < args.jobs:
            name, command = commands.pop(0)
            log = open(args.out / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            print("python " + " ".join(command[1:]), flush=True)
            running.append((name, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), time.time()))
        time.sleep(1)
        for entry in list(running):
            name, process, start = entry
            if process.poll() is not None:
                running.remove(entry)
                failed += process.returncode != 0
                print(f"{name}: exit {process.returncode} after {time.time() - start:.0f} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
