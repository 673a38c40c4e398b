"""Print the measured rows of docs/results.md from the JSON reports next to this file.

    python docs/results/table.py

Every figure in the tables of docs/results.md is printed by this script from
the reports ``cganzoo eval ... -o`` and ``controls.py`` wrote; none is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
ROWS = [("mlp-cgan (mse), 5 epochs", "mlp-cgan.json"), ("mlp-cgan-bce, 5 epochs", "mlp-cgan-bce.json"),
        ("paper-cgan, 5 epochs", "paper-cgan.json"), ("paper-cgan-strong-y, 5 epochs", "paper-cgan-strong-y.json"),
        ("mlp-cgan (mse), 1 epoch", "mlp-cgan-1epoch.json")]


def row(name: str, report: dict) -> str:
    m = report["metrics"]
    acc = m["conditional-accuracy"]["values"]["accuracy"]
    fd = m["judge-frechet-distance"]["values"]
    pr = m["judge-precision-recall"]["values"]
    pz = m["parzen-log-likelihood"]["values"]
    return (f"| {name} | {pz['log_likelihood']:.0f} ± {pz['standard_error']:.1f} (σ = {pz['sigma']:.3f}) "
            f"| {acc:.3f} | {fd['fd']:.1f} | {fd['fd_intra_class_mean']:.1f} | {pr['precision']:.3f} "
            f"| {pr['recall']:.3f} |")


def seed_table(directory: Path) -> None:
    """Mean and spread over seeds, per model and epoch, from ``<model>-seed<N>.evals.jsonl`` files."""
    runs: dict[str, dict[int, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for path in sorted(directory.glob("*-seed*.evals.jsonl")):
        model, seed = path.name.removesuffix(".evals.jsonl").rsplit("-seed", 1)
        for line in path.read_text().splitlines():
            record = json.loads(line)
            runs[model][record["epoch"] + 1][int(seed)] = record["eval"]["metrics"]

    def cell(reports: list[dict], metric: str, key: str, digits: int) -> str:
        values = [r[metric]["values"][key] for r in reports]
        spread = statistics.stdev(values) if len(values) > 1 else float("nan")
        return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"

    print("| model | epochs | seeds | cond. accuracy | judge FD | precision | recall | Parzen log-likelihood |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in sorted(runs):
        for epochs in sorted(runs[model]):
            by_seed = runs[model][epochs]
            reports = [by_seed[k] for k in sorted(by_seed)]
            print(f"| `{model}` | {epochs} | {', '.join(map(str, sorted(by_seed)))} "
                  f"| {cell(reports, 'conditional-accuracy', 'accuracy', 3)} "
                  f"| {cell(reports, 'judge-frechet-distance', 'fd', 0)} "
                  f"| {cell(reports, 'judge-precision-recall', 'precision', 3)} "
                  f"| {cell(reports, 'judge-precision-recall', 'recall', 3)} "
                  f"| {cell(reports, 'parzen-log-likelihood', 'log_likelihood', 0)} |")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="Takes no arguments: it reads the files "
                            "next to it (docs/results/) and prints every table of docs/results.md.").parse_args()
    print("| model | Parzen log-likelihood | cond. accuracy | judge FD | intra-class judge FD | precision | recall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, file in ROWS:
        path = HERE / file
        if path.is_file():
            print(row(name, json.loads(path.read_text())))
    controls = HERE / "controls.json"
    if controls.is_file():
        print()
        print("| control | Parzen log-likelihood | cond. accuracy | judge FD | intra-class judge FD | precision | recall |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, report in json.loads(controls.read_text()).items():
            print(row(name, report))
    for model in ("mlp-cgan", "mlp-cgan-bce", "paper-cgan", "paper-cgan-strong-y"):
        path = HERE / f"{model}-10epochs.evals.jsonl"
        if path.is_file():
            print(f"\n{model}, evaluated every 5 epochs of a 10-epoch run (eval records of its metrics.jsonl):\n")
            print("| epochs | Parzen log-likelihood | cond. accuracy | judge FD | intra-class judge FD | precision | recall |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for line in path.read_text().splitlines():
                record = json.loads(line)
                print(row(str(record["epoch"] + 1), record["eval"]))
    for model in ("mlp-cgan", "mlp-cgan-bce"):
        long_run = HERE / f"{model}-long.evals.jsonl"
        if long_run.is_file():
            print(f"\n{model}, one long CPU run, evaluated every 5 epochs (eval records of its metrics.jsonl):\n")
            print("| epochs | Parzen log-likelihood | cond. accuracy | judge FD | intra-class judge FD | precision "
                  "| recall |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            for line in long_run.read_text().splitlines():
                record = json.loads(line)
                print(row(str(record["epoch"] + 1), record["eval"]))
    for directory, what in (("seeds-cpu", "2-core CPU, one thread per run"), ("seeds", "one NVIDIA H200")):
        if (HERE / directory).is_dir():
            print(f"\nSeeds, {what} (mean ± sample standard deviation over the seeds; docs/results/{directory}/):\n")
            seed_table(HERE / directory)
    for name, file in ROWS:
        path = HERE / file
        if path.is_file():
            report = json.loads(path.read_text())
            per_class = report["metrics"]["conditional-accuracy"]["values"]["per_class_accuracy"]
            print(f"\n{name}: per-class accuracy " + ", ".join(f"{k}: {v:.2f}" for k, v in enumerate(per_class))
                  + f"; eval wall {report['wall_s']:.1f} s")


if __name__ == "__main__":
    main()
