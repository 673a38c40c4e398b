"""Matrix-product and convolution throughput of the device: the roofs a training step is measured against.

A row whose counted FLOPs are mostly matrix products (the MLP models) is
measured against the matrix-product roof (:func:`measure_roofline`); one whose
FLOPs are mostly convolutions (DCGAN, ResNet, BigGAN) against the convolution
roof (:func:`measure_conv_roof`): oneDNN's (cuDNN's on CUDA) ``conv2d`` forward
and backward at shapes typical of those models, in both memory layouts.
"""

from __future__ import annotations

from dataclasses import dataclass

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F

from cganzoo.training.fastpath import quiet_cuda_runtime_warning

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


def peak_gflops(results: list[MatmulResult] | list[ConvResult], dtype: str) -> float | None:
    """The best throughput measured in ``dtype`` (the roof), or ``None`` if not measured."""
    values = [r.gflops for r in results if r.dtype == dtype]
    return max(values) if values else None


#: (batch, channels in = out, pixels) of 3x3, stride 1, padding 1 convolutions at batch 64: DCGAN-like blocks
#: (64 channels at 32 px, 128 at 16, 256 at 8; about 7 GFLOP forward and backward each) and the 256-channel
#: blocks of the 32 px SNGAN/BigGAN ResNets at 16 and 32 px (58 and 232 GFLOP), whose larger products run
#: closer to the hardware's peak: a roof of small shapes alone was beaten by those models' rows.
CONV_SHAPES: tuple[tuple[int, int, int], ...] = ((64, 64, 32), (64, 128, 16), (64, 256, 8), (64, 256, 16),
                                                 (64, 256, 32))
#: Memory layouts tried for every convolution shape.
CONV_LAYOUTS: tuple[str, ...] = ("contiguous", "channels-last")


@dataclass(frozen=True)
class ConvResult:
    """Throughput of a 3x3 ``conv2d`` forward and backward (input and weight gradients).

    Attributes:
        batch, channels, size: Input ``(batch, channels, size, size)``; ``channels`` out as well.
        layout: ``"contiguous"`` (NCHW) or ``"channels-last"`` (NHWC) for input, weight and gradient.
        dtype: ``"fp32"`` or ``"bf16"``.
        seconds: Time of one forward and backward (the fastest timed block's mean), s.
        gflops: ``3 * conv2d_forward_flops / seconds / 1e9`` (backward = 2 forward).
    """

    batch: int
    channels: int
    size: int
    layout: str
    dtype: str
    seconds: float
    gflops: float

    @property
    def shape(self) -> str:
        return f"{self.batch}x{self.channels}x{self.size}x{self.size}, 3x3"


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """On CUDA, let cuDNN pick its fastest algorithm per shape while the roof is timed (the roof is the best
    the hardware does); training keeps PyTorch's default, so a row may sit below a roof it could reach with
    ``torch.backends.cudnn.benchmark = True``."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def conv_gflops(batch: int, channels: int, size: int, dtype: str, layout: str, device: torch.device,
                min_seconds: float = 0.5) -> ConvResult:
    """Time a 3x3 ``conv2d`` (padding 1) forward and backward, as :func:`matmul_gflops` times a product.

    Raises:
        KeyError: ``dtype`` is not ``"fp32"`` or ``"bf16"``.
        ValueError: ``layout`` is not one of :data:`CONV_LAYOUTS`.
    """
    from cganzoo.bench.flops import conv2d_forward_flops

    if layout not in CONV_LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(CONV_LAYOUTS)}, got {layout!r}")
    fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    gen = torch.Generator(device="cpu").manual_seed(0)

    def tensor(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(device=device, dtype=_DTYPES[dtype], memory_format=fmt)

    x, w = tensor(batch, channels, size, size).requires_grad_(), tensor(channels, channels, 3, 3).requires_grad_()
    grad = tensor(batch, channels, size, size)

    def forward_backward() -> None:
        torch.autograd.grad(F.conv2d(x, w, padding=1), (x, w), grad)

    with _cudnn_benchmark(device):
        forward_backward()  # first call: library initialisation (and cuDNN's algorithm search), not timed
        timer = Timer("f()", globals={"f": forward_backward}, num_threads=torch.get_num_threads())
        seconds = min(timer.blocked_autorange(min_run_time=min_seconds).times)
    flops = 3 * conv2d_forward_flops(batch, channels, channels, (size, size), (3, 3))
    return ConvResult(batch, channels, size, layout, dtype, seconds, flops / seconds / 1e9)


def measure_conv_roof(device: torch.device, dtypes: tuple[str, ...] = ("fp32", "bf16"),
                      min_seconds: float = 0.5) -> list[ConvResult]:
    """Every shape of :data:`CONV_SHAPES` in every layout of :data:`CONV_LAYOUTS` and every dtype."""
    return [conv_gflops(b, c, s, dt, layout, device, min_seconds)
            for dt in dtypes for b, c, s in CONV_SHAPES for layout in CONV_LAYOUTS]
