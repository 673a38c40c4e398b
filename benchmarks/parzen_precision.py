"""Figures for docs/results.md: the Parzen window's rounding error and cost, float32 against float64 distances.

Never part of the test run. On real MNIST (the training images 0..9,999 as the
kernel centres, as 10,000 generated images would be; the 10,000 test images as
queries; pixels in [0, 1], 784 dims, sigma = 0.1, the protocol's smallest and
most sensitive width):

* time of :func:`cganzoo.evaluation.parzen_log_likelihood` (float64
  distances) and of the same formula with float32 Gram distances (what
  cganzoo computed before), on one thread, wall and processor seconds;
* the largest and mean absolute difference of each from a float64
  transcription of the formula with direct differences, on ``--check``
  queries (the transcription is slow: one query at a time).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/parzen_precision.py --check 300
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from cganzoo.components.factory import create_dataset
from cganzoo.evaluation import parzen_log_likelihood


def float32_gram(queries: torch.Tensor, samples: torch.Tensor, sigma: float, block: int = 500) -> torch.Tensor:
    """The formula with float32 Gram distances and a float64 log-sum-exp (cganzoo before float64 distances)."""
    s = samples.float()
    s_sq = s.square().sum(1)
    norm = samples.shape[1] * math.log(sigma * math.sqrt(2 * math.pi)) + math.log(samples.shape[0])
    out = []
    for start in range(0, queries.shape[0], block):
        q = queries[start:start + block].float()
        d = (q.square().sum(1, keepdim=True) + s_sq - 2 * q @ s.T).clamp_min_(0).double()
        out.append(torch.logsumexp(d * (-0.5 / sigma ** 2), dim=1) - norm)
    return torch.cat(out)


def direct_float64(queries: torch.Tensor, samples: torch.Tensor, sigma: float) -> torch.Tensor:
    """``log mean_j exp(-||x - s_j||^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi))`` from differences, in float64."""
    s = samples.double()
    rows = [torch.logsumexp(-(x.double() - s).square().sum(1) / (2 * sigma ** 2), 0) for x in queries]
    return torch.stack(rows) - math.log(s.shape[0]) - s.shape[1] * math.log(sigma * math.sqrt(2 * math.pi))


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=int, default=300, help="queries compared with the direct transcription")
    parser.add_argument("--sigma", type=float, default=0.1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = create_dataset("mnist", log=lambda line: None)
    samples = data.images[:10000].reshape(10000, -1).double() / 255
    queries = data.test_images.reshape(data.test_images.shape[0], -1).double() / 255
    new, new_wall, new_cpu = timed(parzen_log_likelihood, queries, samples, args.sigma)
    old, old_wall, old_cpu = timed(float32_gram, queries, samples, args.sigma)
    print(f"{queries.shape[0]} queries x {samples.shape[0]} centres x {samples.shape[1]} dims, sigma {args.sigma}, "
          "one thread")
    print(f"float32 distances: {old_wall:.1f} s wall, {old_cpu:.1f} s CPU")
    print(f"float64 distances: {new_wall:.1f} s wall, {new_cpu:.1f} s CPU")
    ref = direct_float64(queries[:args.check], samples, args.sigma)
    for name, values in (("float32", old), ("float64", new)):
        err = (values[:args.check] - ref).abs()
        print(f"{name}: |error| max {float(err.max()):.2e} nats, mean {float(err.mean()):.2e}, "
              f"error of the mean {float((values[:args.check] - ref).mean()):.2e} (first {args.check} queries)")


if __name__ == "__main__":
    main()
