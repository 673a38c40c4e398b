"""Matrix-product throughput of the device: the roof the training step is measured against."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cganzoo.fastpath import quiet_cuda_runtime_warning

quiet_cuda_runtime_warning()  # torch.utils.benchmark imports torch.utils.cpp_extension
from torch.utils.benchmark import Timer  # noqa: E402

#: (m, k, n) shapes measured: a batch-64 layer of the reference model, and a large square product.
MATMUL_SHAPES: tuple[tuple[int, int, int], ...] = ((64, 1024, 1024), (1024, 1024, 1024))
#: A GPU needs a larger product to reach its peak (1024^3 is a few microseconds on a data-centre GPU).
CUDA_EXTRA_SHAPES: tuple[tuple[int, int, int], ...] = ((8192, 8192, 8192),)


@dataclass(frozen=True)
class MatmulResult:
    """Throughput of ``(m, k) @ (k, n)`` in ``dtype`` on ``device``.

    Attributes:
        m, k, n: Shape.
        dtype: ``"fp32"`` or ``"bf16"``.
        seconds: Time of one product (mean over the fastest timed block), s.
        gflops: ``2 m k n / seconds / 1e9``.
    """

    m: int
    k: int
    n: int
    dtype: str
    seconds: float
    gflops: float


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_gflops(m: int, k: int, n: int, dtype: str, device: torch.device, min_seconds: float = 0.5) -> MatmulResult:
    """Time ``torch.mm`` into a preallocated output with all of torch's threads.

    ``torch.utils.benchmark.Timer`` synchronises CUDA and times blocks of
    runs; the fastest block's mean is kept. It defaults to one thread, so the
    thread count is set to the process's (what training uses).

    Raises:
        KeyError: ``dtype`` is not ``"fp32"`` or ``"bf16"``.
    """
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(m, k, generator=gen).to(device=device, dtype=_DTYPES[dtype])
    b = torch.randn(k, n, generator=gen).to(device=device, dtype=_DTYPES[dtype])
    out = torch.empty(m, n, device=device, dtype=_DTYPES[dtype])
    torch.mm(a, b, out=out)  # first call: library initialisation, not timed
    timer = Timer("torch.mm(a, b, out=out)", globals={"torch": torch, "a": a, "b": b, "out": out},
                  num_threads=torch.get_num_threads())
    # The fastest block, not the median: the roof should be what the hardware can do, and a roof lowered by
    # other work on the machine would flatter every row's fraction of it.
    seconds = min(timer.blocked_autorange(min_run_time=min_seconds).times)
    return MatmulResult(m, k, n, dtype, seconds, 2 * m * k * n / seconds / 1e9)


def measure_roofline(device: torch.device, dtypes: tuple[str, ...] = ("fp32", "bf16"),
                     min_seconds: float = 0.5) -> list[MatmulResult]:
    """Every shape of :data:`MATMUL_SHAPES` (and :data:`CUDA_EXTRA_SHAPES` on CUDA) in every dtype.

    On CUDA, fp32 products use PyTorch's default precision setting
    (``torch.backends.cuda.matmul.allow_tf32``, off by default), as training does.
    """
    shapes = MATMUL_SHAPES + (CUDA_EXTRA_SHAPES if device.type == "cuda" else ())
    return [matmul_gflops(m, k, n, dt, device, min_seconds) for dt in dtypes for m, k, n in shapes]


def peak_gflops(results: list[MatmulResult], dtype: str) -> float | None:
    """The best throughput measured in ``dtype`` (the roof), or ``None`` if not measured."""
    values = [r.gflops for r in results if r.dtype == dtype]
    return max(values) if values else None
