"""Which rows a benchmark runs, and running them.

Rows, all in one process and one run:

* the **reference row**: the reference model trained the reference script's
  way (:mod:`cganzoo.bench.reference`) at its batch size, 64;
* the **main table**: every registered model matching ``--filter`` (crossed
  with ``--conditioners`` / ``--losses`` globs when given) in plain fp32, and
  the focus model (the reference model if it matches, else the first) in every
  fast-path variant, at the main batch size;
* the **sweep**: the focus model at each batch size in each sweep variant.

Each row is measured against one roof: the matrix-product roof, or, when most
of its counted FLOPs are convolutions, the convolution roof, timed the first
time such a row is built (:mod:`cganzoo.bench.roofline`).

Every trainer row builds a :class:`cganzoo.training.Trainer` without a run
directory and trains it with :meth:`cganzoo.training.Trainer.fit`: the same state,
step object and loop ``cganzoo run`` uses (next batches, step, losses recorded
on the device and read back at the log interval), with the fast-path options
of the variant set in the run config, and no output callbacks; a
:class:`cganzoo.bench.measure.Stopwatch` callback times it and ends each window.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from cganzoo.bench.flops import counted_flops, counted_flops_by_kind
from cganzoo.bench.machine import describe_machine, format_load, format_threads, load_average
from cganzoo.bench.measure import Measurement, measure_fit, measure_loop
from cganzoo.bench.quality import QualityRun, compare_quality
from cganzoo.bench.reference import ReferencePipeline
from cganzoo.bench.roofline import ConvResult, MatmulResult, measure_conv_roof, measure_roofline, peak_gflops
from cganzoo.components.factory import create_dataset, get_registry
from cganzoo.config import RunConfig
from cganzoo.errors import CganzooError, ConfigError
from cganzoo.components.registry import Registry
from cganzoo.distributed.device import resolve_device
from cganzoo.training import fastpath
from cganzoo.training import Trainer

#: Variant name tokens (joined with ``+``, e.g. ``bf16+compile``) -> RunConfig fields.
VARIANT_TOKENS: dict[str, dict[str, Any]] = {
    "fp32": {"amp": "off"},
    "bf16": {"amp": "bf16"},
    "compile": {"compile": True},
    "cuda-graphs": {"cuda_graphs": True},
    "fused-adam": {"adam_impl": "fused"},
    "foreach-adam": {"adam_impl": "foreach"},
    "for-loop-adam": {"adam_impl": "for-loop"},
    "channels-last": {"channels_last": True},
}
#: A row whose counted FLOPs are at least this fraction convolutions is measured against the convolution roof.
CONV_ROOF_SHARE = 0.5

#: Fast-path variants of the focus model in the main table, per device type.
DEFAULT_VARIANTS: dict[str, tuple[str, ...]] = {
    "cpu": ("fp32", "fp32+fused-adam", "bf16"),  # compile: minutes of compiling on a small CPU; opt in
    "cuda": ("fp32", "fp32+cuda-graphs", "bf16", "bf16+cuda-graphs", "bf16+compile"),
}
#: Variants of the batch-size sweep, per device type.
DEFAULT_SWEEP_VARIANTS: dict[str, tuple[str, ...]] = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "bf16+cuda-graphs")}
DEFAULT_BATCH_SIZES: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)


def parse_variant(name: str) -> dict[str, Any]:
    """``"bf16+compile"`` -> ``{"amp": "bf16", "compile": True}``.

    Raises:
        ConfigError: an unknown token (the message lists the accepted ones), or two
            tokens that set one setting (``fp32+bf16``, ``bf16+bf16``).
    """
    overrides: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for token in name.split("+"):
        if token not in VARIANT_TOKENS:
            raise ConfigError(f"unknown variant token {token!r} in {name!r}; combine with '+' any of: "
                              f"{', '.join(VARIANT_TOKENS)}")
        for key in VARIANT_TOKENS[token]:
            if key in seen:
                raise ConfigError(f"variant {name!r} sets {key} twice ({seen[key]!r} and {token!r}); "
                                  f"name each setting once, e.g. 'bf16+fused-adam'")
            seen[key] = token
        overrides.update(VARIANT_TOKENS[token])
    return overrides


@dataclass
class BenchOptions:
    """What ``cganzoo bench`` runs.

    Attributes:
        filter: Glob over registered model names; several globs separated by commas
            (``"cdcgan,sngan-*"``) select every model any of them matches.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        conditioners, losses: Globs; when set, each model is crossed with every
            matching conditioner / loss (default: the model's own).
        dataset: Train every row on this data set instead of each model's own.
        data_dir: Hand-placed data files / data cache.
        batch_size: Batch size of the main table (the reference's: 64).
        variants: Fast-path variants of the focus model (default per device).
        variant_models: Comma-separated globs of further models run in every variant
            (e.g. ``"cdcgan,sngan-*"`` with ``variants=("fp32", "channels-last")``);
            default: only the focus model.
        sweep_variants: Variants of the batch-size sweep (default per device).
        batch_sizes: Batch sizes of the sweep (empty: no sweep).
        reference: Run the reference-pipeline row.
        reference_model: The model the reference row stands for (and the focus model).
        seconds: Minimum timed seconds per row (after warm-up).
        warmup_steps: Untimed steps per row (compilation and graph capture happen here).
        min_steps: Minimum timed steps per row.
        matmul_seconds: Minimum timing per matrix-product shape (and per convolution
            shape and layout of the convolution roof).
        seed: Run seed of every row.
        threads: ``torch.set_num_threads`` for the run (default: PyTorch's choice).
        repeats: Timed windows per row, the fastest kept; the model table is
            timed round-robin (every row once, then again), which evens out
            bursts of other work on a shared machine.
        quality_steps: If positive, also train the focus model this many steps
            in fp32 and in each ``quality_variants`` through ``cganzoo.train``
            and compare loss curves and sample grids (:mod:`cganzoo.bench.quality`).
        quality_variants: Variants compared with fp32 for quality.
        quality_eval_per_class: Generated images per class for each quality
            run's evaluation (conditional accuracy, judge FD); 0 skips it.
        log: Receives one progress line per row.
    """

    filter: str = "mlp-cgan*"
    device: str = "auto"
    conditioners: str | None = None
    losses: str | None = None
    dataset: str | None = None
    data_dir: Path | None = None
    batch_size: int = 64
    variants: tuple[str, ...] | None = None
    variant_models: str | None = None
    sweep_variants: tuple[str, ...] | None = None
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    reference: bool = True
    reference_model: str = "mlp-cgan"
    seconds: float = 2.0
    warmup_steps: int = 3
    min_steps: int = 3
    matmul_seconds: float = 0.5
    seed: int = 0
    threads: int | None = None
    repeats: int = 1
    quality_steps: int = 0
    quality_variants: tuple[str, ...] = ("bf16",)
    quality_eval_per_class: int = 1000
    log: Callable[[str], None] = print


@dataclass
class Row:
    """One benchmark row (a CSV line). Speeds are ``None`` when the row failed (see ``status``)."""

    section: str  # "reference", "table" or "sweep"
    model: str
    conditioner: str
    loss: str
    variant: str
    device: str
    batch_size: int
    images_per_s: float | None = None
    images_per_cpu_s: float | None = None
    step_ms: float | None = None
    epoch_s: float | None = None
    vs_reference: float | None = None
    mflop_per_image: float | None = None
    gflops: float | None = None
    roofline_pct: float | None = None
    roofline_basis: str = ""
    conv_share: float | None = None
    conv_roof_pct: float | None = None
    conv_roof_basis: str = ""
    peak_memory_mib: float | None = None
    memory_kind: str = ""
    warmup_s: float | None = None
    steps: int | None = None
    all_images_per_s: str = ""
    status: str = "ok"


@dataclass
class BenchResult:
    """Everything one benchmark run measured."""

    machine: dict[str, Any]
    matmul: list[MatmulResult]
    rows: list[Row]
    options: dict[str, Any]
    seconds: float = 0.0
    load_average_end: tuple[float, float, float] | None = None
    train_size: int | None = None
    quality: list[QualityRun] = field(default_factory=list)
    conv: list[ConvResult] = field(default_factory=list)

    @property
    def reference(self) -> Row | None:
        return next((r for r in self.rows if r.section == "reference" and r.images_per_s), None)


def _memoized_datasets(base: Registry) -> Registry:
    """A copy of ``base`` whose data set factories load each data set once per benchmark."""
    registry = Registry()
    for c in base.components():
        factory = c.factory
        if c.kind == "dataset":
            factory = _memoize_dataset(factory)
        registry.register(c.kind, c.name, factory, params=c.params, plugin=c.plugin, description=c.description,
                          **c.extra)
    return registry


def _memoize_dataset(factory: Callable[..., Any]) -> Callable[..., Any]:
    cache: dict[str, Any] = {}

    @functools.wraps(factory)
    def load(data_dir: Any = None, log: Callable[[str], None] = print, **params: Any) -> Any:
        key = json.dumps([str(data_dir), params], sort_keys=True, default=str)
        if key not in cache:
            cache[key] = factory(data_dir=data_dir, log=log, **params)
        return cache[key]

    return load


class _Bench:
    def __init__(self, options: BenchOptions, registry: Registry | None) -> None:
        self.o = options
        self.device = resolve_device(options.device)
        self.registry = _memoized_datasets(get_registry(registry))
        self.tmp = tempfile.TemporaryDirectory(prefix="cganzoo-bench-")
        self.roof: dict[str, float | None] = {}
        self.bf16_native = fastpath.bf16_support(self.device)[0]
        self.flops: dict[str, tuple[float, float]] = {}  # model key -> (FLOPs per image, convolutions' share)
        self.conv: list[ConvResult] = []
        self.conv_roof: dict[str, float | None] | None = None  # timed when the first convolution-bound row is built

    # -- configs -------------------------------------------------------------------------------

    def config(self, model: str, batch_size: int, variant: str = "fp32",
               components: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> RunConfig:
        from cganzoo.api import resolve_config

        overrides: dict[str, Any] = {"device": str(self.device), "batch_size": batch_size, "seed": self.o.seed,
                                     "epochs": 1_000_000, **parse_variant(variant)}
        if self.o.dataset:
            overrides["dataset"] = {"name": self.o.dataset}
        if self.o.data_dir:
            overrides["data_dir"] = self.o.data_dir
        for kind, name in (components or {}).items():
            overrides[kind] = {"name": name}
        overrides.update(extra or {})
        return resolve_config(model, overrides=overrides, registry=self.registry)

    def combos(self, model: str) -> list[dict[str, str]]:
        kinds = {"conditioner": self.o.conditioners, "loss": self.o.losses}
        choices = {k: self.registry.names(k, pattern) for k, pattern in kinds.items() if pattern}
        for kind, names in choices.items():
            if not names:
                raise ConfigError(f"no {kind} matches {kinds[kind]!r}; see `cganzoo list {kind}`")
        keys = list(choices)
        return [dict(zip(keys, values)) for values in itertools.product(*(choices[k] for k in keys))]

    # -- rows ----------------------------------------------------------------------------------

    def new_row(self, section: str, config: RunConfig, variant: str) -> Row:
        return Row(section=section, model=config.model or "", conditioner=config.conditioner.name,
                   loss=config.loss.name, variant=variant, device=str(self.device), batch_size=config.batch_size)

    def prepare(self, section: str, config: RunConfig, variant: str) -> _Prepared | Row:
        """Build a row's trainer (or the reference pipeline) and count its FLOPs; a failed row comes back as a Row."""
        row = self.new_row(section, config, variant)
        try:
            if section == "reference":
                window, flops = self.reference_loop(config)
                conv_share = 0.0
            else:
                window, (flops, conv_share) = self.trainer_loop(config)
        except _ROW_ERRORS as exc:
            return self.failed(row, exc)
        row.conv_share = conv_share
        if conv_share >= CONV_ROOF_SHARE and self.conv_roof is None:
            self.measure_conv_roof()
        return _Prepared(row, config, window, flops)

    def measure_conv_roof(self) -> None:
        dtypes = ("fp32", "bf16")
        self.conv = measure_conv_roof(self.device, dtypes, self.o.matmul_seconds)
        self.conv_roof = {dt: peak_gflops(self.conv, dt) for dt in dtypes}
        self.o.log("bench: conv " + ", ".join(f"{r.dtype} {r.shape} {r.layout} {r.gflops:.0f} GFLOP/s"
                                               for r in self.conv))

    def measure(self, prepared: _Prepared, first: bool) -> None:
        """Time one window of ``prepared``; keep the fastest window (``--repeats``)."""
        row, config = prepared.row, prepared.config
        if row.status != "ok":
            return
        try:
            m = prepared.window(self.o.warmup_steps if first else 1, self.o.seconds, self.o.min_steps)
        except _ROW_ERRORS as exc:
            self.failed(row, exc)
            return
        prepared.windows.append(m.images_per_s)
        row.all_images_per_s = ";".join(f"{v:.1f}" for v in prepared.windows)
        if first:
            row.warmup_s = m.warmup_s
        if row.images_per_s is None or m.images_per_s > row.images_per_s:
            self.fill(row, m, prepared.flops, basis=fastpath.resolved_amp(config, self.device).replace("off", "fp32"))
        self.o.log(f"bench: {row.section:9} {row.model} {row.conditioner}/{row.loss} {row.variant} batch "
                   f"{row.batch_size}: {m.images_per_s:,.0f} img/s, {m.step_ms:.1f} ms/step, "
                   f"{prepared.flops * m.images_per_s / 1e9:.1f} GFLOP/s, peak {m.peak_memory_mib:,.0f} MiB")

    def failed(self, row: Row, exc: BaseException) -> Row:
        row.status = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        row.images_per_s = None
        self.o.log(f"bench: {row.model} {row.variant} batch {row.batch_size}: {row.status}")
        return row

    def fill(self, row: Row, m: Measurement, flops_per_image: float, basis: str) -> None:
        row.images_per_s, row.step_ms, row.steps = m.images_per_s, m.step_ms, m.steps
        # images, not steps x batch: a step with n_dis D updates trains on n_dis batches
        row.images_per_cpu_s = m.images_per_s * m.seconds / m.cpu_seconds if m.cpu_seconds > 0 else None
        row.peak_memory_mib, row.memory_kind = m.peak_memory_mib, m.memory_kind
        row.mflop_per_image = flops_per_image / 1e6
        row.gflops = flops_per_image * m.images_per_s / 1e9
        emulated = basis == "bf16" and not self.bf16_native
        if row.conv_share is not None and row.conv_share >= CONV_ROOF_SHARE:
            row.roofline_basis = f"not the roof of this row: {100 * row.conv_share:.0f}% of its FLOPs are convolutions"
            row.conv_roof_pct, row.conv_roof_basis = roofline_fraction(
                row.gflops, (self.conv_roof or {}).get(basis), basis, emulated=emulated, roof="convolution")
        else:
            row.roofline_pct, row.roofline_basis = roofline_fraction(row.gflops, self.roof.get(basis), basis,
                                                                     emulated=emulated)
        if self.train_size:
            row.epoch_s = self.train_size / m.images_per_s

    def trainer_loop(self, config: RunConfig) -> tuple[Callable[[int, float, int], Measurement], tuple[float, float]]:
        trainer = self.trainer(config)
        self.train_size = int(trainer.batches.images.shape[0])
        flops = self.flops_per_image(config, trainer, next(trainer.batches.epoch(0)))

        def window(warmup_steps: int, min_seconds: float, min_steps: int) -> Measurement:
            return measure_fit(trainer, warmup_steps=warmup_steps, min_seconds=min_seconds, min_steps=min_steps)

        return window, flops

    def trainer(self, config: RunConfig) -> Trainer:
        return Trainer(config, None, registry=self.registry, progress=False, log=lambda _: None)

    def flops_per_image(self, config: RunConfig, trainer: Trainer, batch: tuple[torch.Tensor, torch.Tensor]
                        ) -> tuple[float, float]:
        """FLOPs per image and the convolutions' share of them, counted once per model (neither depends on the batch size).

        Counted on an eager step: the counter sees the arithmetic the step asks
        for, in whatever dtype; compiled or graph-captured steps are counted on
        a plain fp32 trainer of the same model instead. The counted step is a
        real training step of ``trainer`` (part of its warm-up).
        """
        key = json.dumps({k: config.to_json_dict()[k] for k in
                          ("dataset", "conditioner", "generator", "discriminator", "loss", "latent_dim", "img_size")},
                         sort_keys=True)
        if key not in self.flops:
            if config.compile or config.cuda_graphs:
                trainer = self.trainer(config.model_copy(update={"compile": False, "cuda_graphs": False}))
            split = counted_flops_by_kind(lambda: trainer.train_step(*batch))
            total = sum(split.values())
            self.flops[key] = (total / batch[0].shape[0], split["conv"] / total if total else 0.0)
        return self.flops[key]

    def reference_loop(self, config: RunConfig) -> tuple[Callable[[int, float, int], Measurement], float]:
        data = create_dataset(config.dataset.name, config.dataset.params, data_dir=config.data_dir,
                              log=lambda _: None, registry=self.registry, img_size=config.img_size)
        self.train_size = int(data.images.shape[0])
        root = Path(self.tmp.name) / "torchvision-root"
        pipeline = ReferencePipeline(config, data, root, self.device, batch_size=config.batch_size)
        flops = counted_flops(pipeline.step) / config.batch_size  # a real step, part of the warm-up

        def window(warmup_steps: int, min_seconds: float, min_steps: int) -> Measurement:
            return measure_loop(pipeline.step, pipeline.finish, batch_size=config.batch_size, device=self.device,
                                warmup_steps=warmup_steps, min_seconds=min_seconds, min_steps=min_steps)

        return window, flops

    train_size: int | None = None


_ROOF_NAMES = {"matrix-product": "matmul", "convolution": "conv"}


def roofline_fraction(gflops: float, peak: float | None, basis: str, *, emulated: bool = False,
                      roof: str = "matrix-product") -> tuple[float | None, str]:
    """A row's ``% matmul`` (or ``% conv roof``) and what it was measured against, or ``None`` and why it is not shown.

    Never above 100%: a row faster than the roof means the roof is not the
    hardware's (other work slowed the roof's timing, or the dtype is emulated,
    where the product kernel is not what limits the row); the reason is given instead.

    Args:
        gflops: The row's achieved GFLOP/s.
        peak: The roof in the row's dtype, GFLOP/s (``None``: not measured).
        basis: The row's dtype, ``"fp32"`` or ``"bf16"``.
        emulated: The dtype is emulated on this device.
        roof: ``"matrix-product"`` or ``"convolution"``.
    """
    if peak is None or not math.isfinite(peak) or peak <= 0:
        return None, f"not shown: no {basis} {roof} roof was measured in this run"
    if emulated:
        return None, f"not shown: {basis} is emulated on this CPU, so its {peak:.0f} GFLOP/s roof is no hardware limit"
    if gflops > peak:
        kind = " convolution" if roof == "convolution" else ""
        return None, (f"not shown: the row's {gflops:.0f} GFLOP/s exceeds the {basis}{kind} roof of {peak:.0f} "
                      f"GFLOP/s measured in this run (the roof was timed while other work shared the machine)")
    return 100 * gflops / peak, f"{basis} {_ROOF_NAMES.get(roof, roof)} {peak:.0f} GFLOP/s"


_ROW_ERRORS = (CganzooError, RuntimeError, FloatingPointError, MemoryError, ValueError)


@dataclass
class _Prepared:
    row: Row
    config: RunConfig
    window: Callable[[int, float, int], Measurement]  # (warmup_steps, min_seconds, min_steps) -> one timed window
    flops: float
    windows: list[float] = field(default_factory=list)


def run_benchmarks(options: BenchOptions, registry: Registry | None = None) -> BenchResult:
    """Run the matrix-product roof, the reference row, the main table and the sweep.

    Args:
        options: What to run (see :class:`BenchOptions`).
        registry: Component registry (default: installed plugins).

    Returns:
        The measurements; :func:`cganzoo.bench.report.write_results` writes them out.

    Raises:
        UnknownComponentError: ``reference_model`` is not registered.
        ConfigError: no model matches the filter, a variant or option is invalid,
            or the device is unavailable.
    """
    start = time.perf_counter()
    bench = _Bench(options, registry)
    try:
        return _run(bench, options, start)
    finally:
        bench.tmp.cleanup()


def _matching(registry: Registry, patterns: str) -> list[str]:
    """Registered models matching any of the comma-separated globs ``patterns``, sorted."""
    return registry.names("model", patterns)  # the registry reads comma-separated globs


def _run(bench: _Bench, o: BenchOptions, start: float) -> BenchResult:
    device = bench.device
    if o.threads is not None:
        if o.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {o.threads}")
        torch.set_num_threads(o.threads)
    models = _matching(bench.registry, o.filter)
    if not models:
        raise ConfigError(f"no model matches --filter {o.filter!r}; see `cganzoo list model`")
    bench.registry.get("model", o.reference_model)
    variants = o.variants or DEFAULT_VARIANTS.get(device.type, ("fp32",))
    sweep_variants = o.sweep_variants or DEFAULT_SWEEP_VARIANTS.get(device.type, ("fp32",))
    for flag, names in (("variants", variants), ("sweep_variants", sweep_variants),
                        ("quality_variants", o.quality_variants)):
        for name in names:
            parse_variant(name)
        if len(set(names)) != len(names):
            raise ConfigError(f"{flag} names a variant twice: {', '.join(names)}; name each once")
    # A variant the user named that this device cannot run (CUDA graphs on a CPU, bf16 where it is emulated)
    # is refused now; the default variants instead get a row saying why, so one table fits every machine.
    for name in (*(o.variants or ()), *(o.sweep_variants or ()), *(o.quality_variants if o.quality_steps else ())):
        try:
            fastpath.check_fast_path(bench.config(o.reference_model, o.batch_size, name), device)
        except ConfigError as exc:
            raise ConfigError(f"variant {name!r}: {exc}") from None
    if o.repeats < 1 or o.quality_steps < 0 or o.quality_eval_per_class < 0:
        raise ConfigError(f"repeats must be at least 1, quality_steps and quality_eval_per_class at least 0; got "
                          f"{o.repeats}, {o.quality_steps}, {o.quality_eval_per_class}")
    for batch in (o.batch_size, *o.batch_sizes):
        if batch < 1:
            raise ConfigError(f"batch sizes must be at least 1, got {batch}")
    focus = o.reference_model if o.reference_model in models else models[0]
    in_variants = {focus, *(_matching(bench.registry, o.variant_models) if o.variant_models else ())}

    machine = describe_machine(device)
    o.log(f"bench: {machine['processor']}, {format_threads(machine['torch_threads'])}, device {device}; "
          f"load average {format_load(machine['load_average_start'])}")
    dtypes = ("fp32", "bf16")
    matmul = measure_roofline(device, dtypes, o.matmul_seconds)
    bench.roof = {dt: peak_gflops(matmul, dt) for dt in dtypes}
    o.log("bench: matmul " + ", ".join(f"{r.dtype} {r.m}x{r.k}x{r.n} {r.gflops:.0f} GFLOP/s" for r in matmul))

    # With --repeats > 1 the reference and model-table rows are built first and timed round-robin (the fastest
    # of `repeats` windows kept), so a burst of other work on the machine hits every row alike rather than one;
    # their peak memory then includes the other rows' trainers. Otherwise each row is built, timed and freed.
    specs: list[tuple[str, RunConfig, str]] = []
    if o.reference:
        specs.append(("reference", bench.config(o.reference_model, o.batch_size), "reference pipeline"))
    for model in models:
        for combo in bench.combos(model):
            for variant in (variants if model in in_variants and not combo else ("fp32",)):
                specs.append(("table", bench.config(model, o.batch_size, variant, combo), variant))
    for variant in sweep_variants:
        for batch in o.batch_sizes:
            specs.append(("sweep", bench.config(focus, batch, variant), variant))
    rows: list[Row] = []
    round_robin = [spec for spec in specs if spec[0] != "sweep"] if o.repeats > 1 else []
    prepared = [bench.prepare(*spec) for spec in round_robin]
    for round_ in range(o.repeats if prepared else 0):
        for item in prepared:
            if isinstance(item, _Prepared):
                bench.measure(item, first=round_ == 0)
    rows += [item.row if isinstance(item, _Prepared) else item for item in prepared]
    del prepared
    for spec in specs[len(round_robin):]:
        item = bench.prepare(*spec)
        if isinstance(item, _Prepared):
            for round_ in range(o.repeats):
                bench.measure(item, first=round_ == 0)
        rows.append(item.row if isinstance(item, _Prepared) else item)
        del item

    quality = []
    if o.quality_steps:
        quality = compare_quality(
            lambda variant, extra: bench.config(focus, o.batch_size, variant, extra=extra),
            o.quality_variants, o.quality_steps, Path(bench.tmp.name) / "quality",
            eval_per_class=o.quality_eval_per_class, registry=bench.registry, log=o.log)

    ref = next((r for r in rows if r.section == "reference" and r.images_per_s), None)
    for row in rows:
        if ref and row.images_per_s:
            row.vs_reference = row.images_per_s / ref.images_per_s
    options_record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(o).items() if k != "log"}
    options_record.update(variants=list(variants), sweep_variants=list(sweep_variants), focus_model=focus)
    return BenchResult(machine=machine, matmul=matmul, rows=rows, options=options_record,
                       seconds=time.perf_counter() - start, load_average_end=load_average(),
                       train_size=bench.train_size, quality=quality, conv=bench.conv)
