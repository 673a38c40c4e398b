"""The benchmark runner behind ``cganzoo bench`` (and ``benchmarks/run.py``).

May import anything below the CLI (the API, training, evaluation, runs, ...).

It trains registered models through the same :class:`cganzoo.training.Trainer`
users run and reports, per row: training images per second at steady state
(warm-up excluded), step time, peak memory, model FLOPs per image, achieved
GFLOP/s and its fraction of the matrix-product throughput (or, for a row whose
FLOPs are mostly convolutions, the convolution throughput) measured in the same
run (the roofline fraction), and the ratio to a reference-pipeline row trained
the way the reference PyTorch script does it. A batch-size sweep shows how
cost grows. Results go to Markdown, CSV and a plot under ``benchmarks/results/``.

Modules: :mod:`~cganzoo.bench.flops` (FLOP counts), :mod:`~cganzoo.bench.roofline`
(matmul and convolution throughput), :mod:`~cganzoo.bench.reference` (the reference pipeline),
:mod:`~cganzoo.bench.measure` (timing and memory), :mod:`~cganzoo.bench.machine`
(what the machine is), :mod:`~cganzoo.bench.suite` (which rows to run),
:mod:`~cganzoo.bench.quality` (fp32 and fast-path runs side by side),
:mod:`~cganzoo.bench.report` (tables and plots).

Timings are figures to read, never assertions: nothing here is part of a
timed test.
"""

from cganzoo.bench.suite import BenchOptions, BenchResult, run_benchmarks

__all__ = ["BenchOptions", "BenchResult", "run_benchmarks"]
