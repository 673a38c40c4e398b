"""Where one training step's time goes: ``python benchmarks/profile_step.py --model mlp-cgan --threads 1``.

Builds the model's :class:`cganzoo.training.Trainer` exactly as ``cganzoo run``
(and ``cganzoo bench``) does, runs ``--warmup`` steps, then profiles
``--steps`` steps of ``Trainer.train_step`` with ``torch.profiler`` (CPU
activity) and prints, in milliseconds per step and as a share of the profiled
operator time (the sum of every operator's *self* time, which excludes the
profiler's and Python's own overhead between operators):

* **matrix products**: ``aten::mm``, ``aten::addmm``, ``aten::bmm`` and the
  convolutions (the arithmetic the reference pipeline runs identically, so no
  exact-arithmetic fast path can make it cheaper);
* **optimizer**: everything inside ``Optimizer.step`` and ``zero_grad``
  (inclusive time: Adam's element-wise kernels);
* **everything else**: normalisation, activations, dropout masks, losses,
  autograd bookkeeping, copies;

then the ``--top`` operators by self time. The share of matrix products bounds
what any exact-arithmetic change can give: a step cannot become faster than its
matrix products alone. Figures move with other load on the machine; the
proportions much less.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import defaultdict
from typing import Iterator

os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # the profiler's own log lines (before torch loads it)

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

import cganzoo  # noqa: E402
from cganzoo.training.trainer import Trainer  # noqa: E402

MATRIX_PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_convolution",
                   "aten::convolution_backward", "aten::_convolution")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what native code writes to stderr (the profiler's start/stop trace lines) inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp-cgan")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the model's")
    parser.add_argument("--amp", default="off", choices=("off", "bf16"))
    parser.add_argument("--adam-impl", default="auto", choices=("auto", "fused", "foreach", "for-loop"))
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {"device": "cpu", "amp": args.amp, "adam_impl": args.adam_impl}
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    config = cganzoo.resolve_config(args.model, overrides=overrides)
    trainer = Trainer(config, None, progress=False, log=lambda _: None)
    batches = iter(trainer.batches.epoch(0))
    for _ in range(args.warmup):
        trainer.train_step(*next(batches))
    with quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            trainer.train_step(*next(batches))
    self_ms: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    optimizer_ms = 0.0
    for event in prof.key_averages():
        self_ms[event.key] += event.self_cpu_time_total / 1000 / args.steps
        calls[event.key] += event.count
        if event.key.startswith(("Optimizer.step", "Optimizer.zero_grad")):
            optimizer_ms += event.cpu_time_total / 1000 / args.steps
    total = sum(self_ms.values())
    products = sum(self_ms[name] for name in MATRIX_PRODUCTS)
    other = total - products - optimizer_ms
    print(f"{args.model}, batch {config.batch_size}, {args.threads} thread(s), amp {args.amp}, "
          f"adam {args.adam_impl}, torch {torch.__version__}: {args.steps} steps profiled after {args.warmup}\n")
    print("| part | ms per step | share |")
    print("| --- | ---: | ---: |")
    for name, ms in (("matrix products", products), ("optimizer (step + zero_grad)", optimizer_ms),
                     ("everything else", other), ("all operators", total)):
        print(f"| {name} | {ms:.2f} | {100 * ms / total:.0f}% |")
    print("\n| operator (self time) | ms per step | share | calls per step |")
    print("| --- | ---: | ---: | ---: |")
    for name, ms in sorted(self_ms.items(), key=lambda item: -item[1])[:args.top]:
        print(f"| `{name}` | {ms:.2f} | {100 * ms / total:.1f}% | {calls[name] / args.steps:g} |")


if __name__ == "__main__":
    main()
