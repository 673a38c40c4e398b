"""Table 1's row for a paper-cgan run, with the paper's early-stopping rule, from the runs' own files.

The CGAN paper (Mirza & Osindero 2014, Sec. 4.1) reports the Parzen window
log-likelihood of the model chosen by its validation log-likelihood. This
script applies that rule to the evaluation records a run writes when trained
with ``--eval-interval`` (``metrics.jsonl``): for each run it picks the
record whose Parzen validation log-likelihood (the mean log-likelihood of
training images 50,000..50,999 at the selected sigma, Goodfellow et al.
2014's ``parzen_ll.py`` protocol) is highest, and reports that record's
test-set estimate, standard error, sigma, step and conditional accuracy.
With several runs (seeds) it also prints their mean and spread.

Usage (any number of run directories, or ``metrics.jsonl`` files / copies of their
evaluation records such as ``docs/results/paper/*.evals.jsonl``)::

    python docs/results/paper_table1.py runs/paper-cgan-s0 runs/paper-cgan-s1 [--json]
    python docs/results/paper_table1.py --curve runs/paper-cgan-s0   # one row per evaluation
    python docs/results/paper_table1.py --summary docs/results/paper/sweep-*.evals.jsonl  # last and best

Errors: a directory without ``metrics.jsonl`` or without an evaluation
record carrying the Parzen metric is named in one line and the script exits 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

PAPER = "132 ± 1.8"


def evaluations(run: Path) -> list[dict]:
    """One summary per evaluation record of a run (directory, ``metrics.jsonl`` or a copy of its eval lines)."""
    path = run / "metrics.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise SystemExit(f"paper_table1: {str(run)!r} has no metrics.jsonl; give a run directory of `cganzoo run`")
    rows = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        parzen = record.get("eval", {}).get("metrics", {}).get("parzen-log-likelihood")
        if parzen is None:
            continue
        metrics = record["eval"]["metrics"]
        accuracy = metrics.get("conditional-accuracy", {}).get("values", {}).get("accuracy")
        fd = metrics.get("judge-frechet-distance", {}).get("values", {})
        pr = metrics.get("judge-precision-recall", {}).get("values", {})
        rows.append({"run": str(run), "step": record["step"], "epoch": record.get("epoch"),
                     "fd": fd.get("fd"), "fd_intra": fd.get("fd_intra_class_mean"),
                     "precision": pr.get("precision"), "recall": pr.get("recall"),
                     "validation_ll": max(parzen["protocol"]["validation_log_likelihoods"]),
                     "test_ll": parzen["values"]["log_likelihood"], "se": parzen["values"]["standard_error"],
                     "sigma": parzen["values"]["sigma"], "accuracy": accuracy})
    return rows


def best_record(run: Path) -> dict:
    """The run's evaluation record with the highest Parzen validation log-likelihood, summarised."""
    rows = evaluations(run)
    if not rows:
        raise SystemExit(f"paper_table1: {str(run)!r} has no evaluation record with parzen-log-likelihood; "
                         "train with --eval-interval N")
    best = max(rows, key=lambda r: r["validation_ll"])
    best["evaluations"] = len(rows)
    best["last_step"] = rows[-1]["step"]
    return best


def _name(run: Path) -> str:
    return run.name.removesuffix(".evals.jsonl") if run.name != "metrics.jsonl" else run.parent.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories trained with --eval-interval")
    parser.add_argument("--label", default=None, help="model name in the table (default: the runs' config model)")
    parser.add_argument("--json", action="store_true", help="print the chosen records as JSON")
    parser.add_argument("--curve", action="store_true", help="print every evaluation of each run as a table")
    parser.add_argument("--summary", action="store_true",
                        help="one row per run: its last evaluation and the one with the best validation LL")
    args = parser.parse_args(argv)
    if args.summary:
        print("| run | last step | cond. accuracy | judge FD | precision | recall | Parzen | "
              "best validation LL at step: Parzen |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for run in args.runs:
            rows = evaluations(run)
            last, best = rows[-1], max(rows, key=lambda r: r["validation_ll"])
            print(f"| {_name(run)} | {last['step']} | {last['accuracy']:.3f} | {last['fd']:.0f} | "
                  f"{last['precision']:.3f} | {last['recall']:.3f} | {last['test_ll']:.0f} ± {last['se']:.1f} | "
                  f"{best['step']}: {best['test_ll']:.0f} ± {best['se']:.1f} |")
        return 0
    if args.curve:
        print("| run | step | cond. accuracy | judge FD | intra-class judge FD | precision | recall | "
              "Parzen test (σ) | Parzen validation |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for run in args.runs:
            for r in evaluations(run):
                print(f"| {_name(run)} | {r['step']} | {r['accuracy']:.3f} | {r['fd']:.1f} | "
                      f"{r['fd_intra']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                      f"{r['test_ll']:.0f} ± {r['se']:.1f} ({r['sigma']:.3f}) | {r['validation_ll']:.0f} |")
        return 0
    try:
        chosen = [best_record(run) for run in args.runs]
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(chosen, indent=1))
        return 0
    label = args.label
    if label is None:
        first = args.runs[0]
        config = (first if first.is_dir() else first.parent) / "config.json"
        label = json.loads(config.read_text()).get("config", {}).get("model") if config.is_file() else None
        label = label or first.name.removesuffix(".evals.jsonl")
    for r in chosen:
        print(f"{r['run']}: best validation log-likelihood {r['validation_ll']:.1f} at step {r['step']} "
              f"(of {r['evaluations']} evaluations up to step {r['last_step']}): test {r['test_ll']:.1f} ± "
              f"{r['se']:.1f} (sigma {r['sigma']:.3f}), conditional accuracy {r['accuracy']:.3f}")
    tests = [r["test_ll"] for r in chosen]
    if len(chosen) == 1:
        ours = f"{tests[0]:.0f} ± {chosen[0]['se']:.1f}"
    else:
        ours = (f"{statistics.mean(tests):.0f} (seeds: {', '.join(f'{t:.0f}' for t in tests)}; "
                f"sd {statistics.stdev(tests):.1f})")
    print()
    print("| model | Mirza & Osindero 2014, Table 1 | cganzoo, best validation log-likelihood |")
    print("| --- | --- | --- |")
    print(f"| Conditional adversarial nets | {PAPER} | `{label}`: {ours} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
