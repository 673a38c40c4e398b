"""The training step's fast path: Adam kernels, bf16 autocast, torch.compile, CUDA graphs.

Always on, in :mod:`cganzoo.training` (none of it changes what is computed):

* the data set lives on the training device as one uint8 tensor; a batch is a
  gather plus one scale to ``[-1, 1]`` (:class:`cganzoo.data.EpochBatches`);
* ``z`` and the generator's labels are drawn on the device;
* losses accumulate on the device and are read back only at the log interval;
* D's parameters are frozen during the G update (their gradients would be
  discarded by the D update's ``zero_grad`` anyway);
* ``zero_grad(set_to_none=True)``;
* Adam's kernel is chosen by :func:`adam_options`: fused on CUDA, and on CPU the
  multi-tensor ``foreach`` kernel, which gives bit-identical results to
  PyTorch's default single-tensor loop (checked by ``tests/test_fastpath.py``).
  The fused CPU kernel is about 5x faster but rounds differently (about one
  ulp per step), so on CPU it is used only when exactness is given up anyway
  (``amp="bf16"`` or ``compile=True``) or when asked for (``adam_impl="fused"``).

Opt-in (:class:`cganzoo.config.RunConfig` fields, ``cganzoo run`` flags):

* ``amp="bf16"``: G's and D's forward passes run under
  ``torch.autocast(device, torch.bfloat16)``; weights, gradients and Adam
  stay fp32 and the networks' outputs are cast back to fp32, so losses are
  computed in fp32. Backward runs outside autocast, as PyTorch recommends.
* ``compile=True``: ``torch.compile`` on G and D (``nn.Module.compile``, so
  parameter names and checkpoints are unchanged). Needs a C++ compiler on CPU.
  Dropout draws its masks from the compiler's own random stream, so a compiled
  run is not bit-identical to an eager one.
* ``channels_last=True``: G's and D's 4-D weights are held channels-last
  (NHWC); a convolution with a channels-last weight runs in that layout and
  hands it on, so feature maps stay NHWC through the networks (oneDNN and
  cuDNN both prefer it; measured in ``benchmarks/``). No effect on an all-Linear
  model; results differ from contiguous ones in the last bits.
* ``cuda_graphs=True`` (CUDA only): after a few eager warm-up steps, the whole
  step (noise, G update, D update, both Adam steps) is captured once as one CUDA
  graph and replayed, removing per-kernel launch costs (:class:`CudaGraphStep`).

The measured effect of each option is in ``benchmarks/results/``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
from typing import Any, Callable

import torch
from torch.utils._pytree import tree_map

from cganzoo.config import RunConfig
from cganzoo.errors import ConfigError

#: ``RunConfig.amp`` -> autocast dtype.
AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16}

#: Eager steps before a CUDA graph is captured (lazy initialisation must happen outside capture).
CUDA_GRAPH_WARMUP_STEPS = 3

StepFn = Callable[[torch.Tensor, torch.Tensor], "tuple[torch.Tensor, torch.Tensor]"]


def bf16_support(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` runs bf16 matrix products natively, and what was detected, in words.

    On CPU this is oneDNN's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``:
    AVX-512 with the BF16 extension, or AMX); without it, autocast to bf16 emulates
    every product and was measured 8x slower than fp32 on an AVX2 machine. On CUDA it
    is ``torch.cuda.is_bf16_supported()`` (compute capability 8.0 and up).
    """
    if device.type == "cuda":
        native = bool(torch.cuda.is_bf16_supported())
        name = torch.cuda.get_device_name(device)
        return native, f"{name} {'supports' if native else 'has no'} native bf16"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    capability = torch.backends.cpu.get_cpu_capability()
    return native, (f"this CPU runs bf16 matrix products natively: oneDNN, kernels {capability}" if native else
                    f"this CPU has no native bf16, no AVX-512 BF16 or AMX (kernels {capability}): bf16 is emulated")


def resolved_amp(config: RunConfig, device: torch.device) -> str:
    """What ``amp`` means on ``device``: ``"auto"`` is ``"bf16"`` where bf16 is native, else ``"off"``."""
    if config.amp == "auto":
        return "bf16" if bf16_support(device)[0] else "off"
    return config.amp


def check_fast_path(config: RunConfig, device: torch.device) -> None:
    """Reject fast-path options the device cannot run, or would run slowly, before any data is loaded.

    Raises:
        ConfigError: ``amp="bf16"`` where bf16 is emulated (several times slower
            than fp32); ``cuda_graphs`` off CUDA or with a scheduled optimizer
            (sgd); ``compile`` on CPU without a C++ compiler; ``adam_impl="fused"``
            on a device without a fused Adam.
    """
    if config.amp == "bf16":
        native, why = bf16_support(device)
        if not native:
            raise ConfigError(f"amp 'bf16' on {str(device)!r} would be slow: {why}, several times slower than fp32; "
                              f"use --amp auto (bf16 only where it is native) or --amp off")
    if config.cuda_graphs and config.optimizer.name != "adam":
        # A replayed graph reuses the hyper-parameters it was captured with; a schedule that changes
        # them between steps (sgd's lr and momentum) would silently stop taking effect.
        raise ConfigError(f"cuda_graphs needs a constant optimizer, but optimizer {config.optimizer.name!r} "
                          "changes its hyper-parameters every step; use --optimizer adam or drop --cuda-graphs")
    if config.cuda_graphs and device.type != "cuda":
        raise ConfigError(f"cuda_graphs needs a CUDA device, but the device is {str(device)!r}; "
                          "drop --cuda-graphs or use --device cuda")
    if config.compile and device.type == "cpu" and not _cpp_compiler():
        raise ConfigError("compile on CPU needs a C++ compiler (g++, c++ or clang++ on PATH, or $CXX); "
                          "install one or drop --compile")
    if config.adam_impl == "fused" and device.type not in ("cpu", "cuda"):
        raise ConfigError(f"adam_impl 'fused' is available on cpu and cuda, not {device.type!r}; "
                          "use 'foreach' or 'auto'")


def _cpp_compiler() -> str | None:
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else []
    candidates += ["g++", "c++", "clang++"]
    return next((path for path in map(shutil.which, candidates) if path), None)


def resolved_adam_impl(config: RunConfig, device: torch.device) -> str:
    """The Adam kernel ``adam_impl="auto"`` stands for on ``device`` (see module docstring)."""
    if config.adam_impl != "auto":
        return config.adam_impl
    if device.type == "cuda" or resolved_amp(config, device) != "off" or config.compile:
        return "fused"
    return "foreach"


def adam_options(config: RunConfig, device: torch.device) -> dict[str, Any]:
    """Keyword arguments for ``torch.optim.Adam`` beyond lr and betas.

    Returns:
        ``{"foreach": False}``, ``{"foreach": True}`` or ``{"fused": True}``,
        plus ``capturable=True`` when the step is captured as a CUDA graph
        (Adam's step counter then lives on the device).
    """
    impl = resolved_adam_impl(config, device)
    options: dict[str, Any] = {"for-loop": {"foreach": False}, "foreach": {"foreach": True},
                               "fused": {"fused": True}}[impl]
    if config.cuda_graphs:
        options = {**options, "capturable": True}
    return options


def fast_modules(config: RunConfig, device: torch.device, generator: torch.nn.Module,
                 discriminator: torch.nn.Module) -> None:
    """Apply ``channels_last``, ``amp`` and ``compile`` to G and D in place (names, ``state_dict`` and checkpoints unchanged).

    Call it once the training state is final (after a checkpoint is loaded, after
    callbacks such as the EMA copied G): a copy made later would share the wrapper.
    """
    if config.channels_last:  # in place: the optimizers hold these very parameters
        for module in (generator, discriminator):
            module.to(memory_format=torch.channels_last)
    amp = resolved_amp(config, device)
    if amp != "off":
        for module in (generator, discriminator):
            autocast_forward(module, device.type, AMP_DTYPES[amp])
    if config.compile:
        quiet_cuda_runtime_warning()  # the compiler imports torch.utils.cpp_extension
        generator.compile()
        discriminator.compile()


def quiet_cuda_runtime_warning() -> None:
    """Silence ``torch.utils.cpp_extension``'s "No CUDA runtime is found" warning.

    It is logged when that module is first imported (by torch.compile and by
    torch.utils.benchmark) on every machine without CUDA; cganzoo builds no CUDA
    extension, so on a CPU the line is only noise in the command's output.
    """
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


def fast_step(config: RunConfig, device: torch.device, step: StepFn,
              generators: tuple[torch.Generator, ...] = ()) -> StepFn:
    """The training step as the run calls it: ``step`` itself, or captured as one CUDA graph (``cuda_graphs``)."""
    if config.cuda_graphs:
        return CudaGraphStep(step, device, generators=generators)
    return step


def autocast_forward(module: torch.nn.Module, device_type: str, dtype: torch.dtype) -> None:
    """Run ``module``'s forward under ``torch.autocast``; cast floating outputs back to fp32.

    Only the forward pass is autocast (backward then runs in the dtypes the
    forward chose, outside autocast, as PyTorch recommends). The instance's
    ``forward`` is wrapped in place rather than the module wrapped in another,
    so parameter names, ``state_dict`` and checkpoints stay the same. The
    autocast weight cache is off: D runs three times per step and the cache
    would only keep tensors alive between them (and must be off under CUDA
    graph capture).

    Args:
        module: G or D; its parameters stay in their dtype (fp32 master weights).
        device_type: ``"cpu"`` or ``"cuda"``.
        dtype: Autocast dtype, e.g. ``torch.bfloat16``.
    """
    forward = module.forward

    @functools.wraps(forward)
    def autocast_forward_(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device_type, dtype=dtype, cache_enabled=False):
            out = forward(*args, **kwargs)
        return _to_fp32(out)

    module.forward = autocast_forward_


def _to_fp32(out: Any) -> Any:
    """Floating tensors in ``out`` (a tensor, tuples/lists/dicts, or a dataclass such as
    :class:`cganzoo.interfaces.DiscriminatorOutput`) cast to fp32; everything else unchanged."""
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return dataclasses.replace(out, **{f.name: _to_fp32(getattr(out, f.name))
                                           for f in dataclasses.fields(out) if f.init})
    return tree_map(lambda t: t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t, out)


class CudaGraphStep:
    """The whole training step captured once as a CUDA graph, then replayed.

    The first :data:`CUDA_GRAPH_WARMUP_STEPS` calls run eagerly on a side
    stream (they are real training steps; cuBLAS, autograd and the optimizer
    initialise lazily and must not do so during capture). The next call
    captures the step (capture records kernels without running them) and
    replays it; every later call copies the batch into the graph's static input
    tensors and replays. Batches of another shape (a last incomplete batch)
    run eagerly.

    Requirements, which :func:`fast_step` and :func:`adam_options`
    meet: Adam with ``capturable=True``; every random generator used inside
    the step registered with the graph (the default CUDA generator, used by
    dropout, is registered automatically); autocast without its weight cache.

    Args:
        step: The eager step, ``step(real, labels) -> (d_loss, g_loss)``.
        device: A CUDA device.
        generators: Extra ``torch.Generator`` objects the step draws from.

    Note:
        Written to PyTorch's documented whole-network capture recipe; not yet
        run on a GPU in this repository's tests (no GPU in CI).
    """

    def __init__(self, step: StepFn, device: torch.device,
                 generators: tuple[torch.Generator, ...] = ()) -> None:
        self.step, self.device, self.generators = step, device, generators
        self.eager_calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.key: tuple[Any, ...] | None = None
        self.static_in: tuple[torch.Tensor, torch.Tensor] | None = None
        self.static_out: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (tuple(real.shape), real.dtype, tuple(labels.shape), labels.dtype)
        if self.graph is None and self.eager_calls < CUDA_GRAPH_WARMUP_STEPS:
            self.eager_calls += 1
            return self._side_stream(real, labels)
        if self.graph is None:
            self._capture(real, labels, key)
        if key != self.key:
            return self.step(real, labels)
        assert self.static_in is not None and self.static_out is not None and self.graph is not None
        self.static_in[0].copy_(real)
        self.static_in[1].copy_(labels)
        self.graph.replay()
        # Clones: the static outputs are overwritten by the next replay.
        return self.static_out[0].clone(), self.static_out[1].clone()

    def _side_stream(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            out = self.step(real, labels)
        torch.cuda.current_stream(self.device).wait_stream(side)
        return out

    def _capture(self, real: torch.Tensor, labels: torch.Tensor, key: tuple[Any, ...]) -> None:
        torch.cuda.synchronize(self.device)
        self.key = key
        self.static_in = (real.clone(), labels.clone())
        graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            graph.register_generator_state(generator)
        with torch.cuda.graph(graph):
            self.static_out = self.step(*self.static_in)
        self.graph = graph
