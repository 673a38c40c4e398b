"""Evaluate a generator, a run directory, or any set of images: all registered metrics, one shared context.

The protocol (recorded with every result):

* ``samples_per_class`` images of each class (default 1,000: 10,000 for MNIST,
  as the Parzen protocol asks), labels in class order;
* ``z`` from the run's latent prior, drawn from a CPU ``torch.Generator``
  seeded with ``seed`` (default 0, whatever the training seed was), so two
  evaluations of one checkpoint are identical and two runs are compared on the
  same noise;
* the generator in eval mode (dropout off, BatchNorm running statistics);
* real images: the data set's test split at native size, uint8.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from cganzoo.errors import EvaluationError, MetricSkipped
from cganzoo.evaluation.context import EvaluationContext, MetricResult
from cganzoo.evaluation.judge import Judge, JudgeRecipe, load_or_train_judge
from cganzoo.interfaces import LabelledImages
from cganzoo.io import json_safe
from cganzoo.components.randomness import sample_latent
from cganzoo.components.registry import Registry

#: Default evaluation sample count per class (10,000 for 10 classes).
SAMPLES_PER_CLASS = 1000
#: Default evaluation seed.
EVAL_SEED = 0
#: In a JSON report, where a skipped metric's own record and note point for the reason.
SKIP_REASON_POINTER = "see protocol.skipped_metrics"


@dataclass
class EvaluationReport:
    """All metric results of one evaluation.

    Attributes:
        results: metric name -> :class:`MetricResult`, in the order computed.
        protocol: The shared protocol (sample counts, seed, judge record if any;
            ``unreliable_metrics``: the metrics that read a judge below its
            required test accuracy, when there are any).
        wall_s: Seconds the evaluation took (sampling, judge, every metric);
            judge training, if it happened, is excluded and reported separately.
        metric_seconds: metric name -> seconds it took (judge features are
            charged to the first metric that needs them).
        step: Training step of the evaluated generator, if known.
    """

    results: dict[str, MetricResult]
    protocol: dict[str, Any]
    wall_s: float
    metric_seconds: dict[str, float] = field(default_factory=dict)
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The whole report as strict JSON data: undefined values are ``None`` (see :meth:`MetricResult.to_json`).

        A skip reason is written once: in ``protocol["skipped_metrics"]``
        under the first metric it skipped; the other metrics it skipped say
        ``"the reason given for <first>"`` there, and each skipped metric's own
        record and note say :data:`SKIP_REASON_POINTER` (the missing Inception
        weights skip three metrics with one long reason).
        """
        protocol = self.protocol
        metrics = {name: r.to_json() for name, r in self.results.items()}
        skipped = protocol.get("skipped_metrics")
        if isinstance(skipped, dict) and skipped:
            first: dict[str, str] = {}
            for name, reason in skipped.items():
                first.setdefault(reason, name)
                record = metrics.get(name)
                if record is not None and record["protocol"].get("skipped") == reason:
                    record["protocol"]["skipped"] = SKIP_REASON_POINTER
                    record["notes"] = [f"skipped: {SKIP_REASON_POINTER}" if note == f"skipped: {reason}" else note
                                       for note in record["notes"]]
            protocol = {**protocol, "skipped_metrics": {
                name: reason if first[reason] == name else f"the reason given for {first[reason]}"
                for name, reason in skipped.items()}}
        return json_safe({"step": self.step, "wall_s": round(self.wall_s, 3), "protocol": protocol,
                          "metric_seconds": {k: round(v, 3) for k, v in self.metric_seconds.items()},
                          "metrics": metrics})

    def scalars(self) -> dict[str, float]:
        """``"metric/value" -> number`` for every scalar value."""
        return {f"{name}/{key}": value for name, r in self.results.items() for key, value in r.values.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)}

    def format_summary(self) -> str:
        """One line: every scalar, rounded."""
        parts = [f"{k}={_number(v, '.4g')}" for k, v in self.scalars().items()]
        step = f" at step {self.step}" if self.step is not None else ""
        unreliable = self.protocol.get("unreliable_metrics")
        warning = f" (unreliable, the judge missed its required accuracy: {', '.join(unreliable)})" if unreliable else ""
        return f"cganzoo: eval{step} ({self.wall_s:.1f} s): " + ", ".join(parts) + warning

    def format_table(self, class_names: Sequence[str] | None = None) -> str:
        """The report for a console (``cganzoo eval``): a compact table, then the caveats once each.

        Lines, in order: a warning naming the unreliable metrics (only when the judge
        missed its required accuracy); each metric with its scalar values, marked
        ``[n]`` where a note applies; one row per class with every per-class list
        (per-class conditional accuracy, per-class judge FD, ...); the notes, numbered;
        the protocol, the judge (accuracy against its requirement, reliable or not)
        and the wall time. Undefined values are ``n/a``; ``to_json`` holds everything.

        Args:
            class_names: Row labels of the per-class table (default: class indices).
        """
        p = self.protocol
        lines = []
        if p.get("unreliable_metrics"):
            lines.append(f"warning: unreliable metrics (the judge missed its required test accuracy): "
                         f"{', '.join(p['unreliable_metrics'])}")
        notes: list[str] = []  # each distinct note once; metrics point at them by number
        scalar_rows: list[tuple[str, str]] = []
        per_class: dict[str, list[float | None]] = {}
        for name, result in self.results.items():
            marks = []
            for note in result.notes:
                if note not in notes:
                    notes.append(note)
                marks.append(str(notes.index(note) + 1))
            scalar_rows.append((name + (f" [{','.join(marks)}]" if marks else ""), ""))
            for key, value in result.values.items():
                if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                    scalar_rows.append((f"  {key}", _number(value, ".4g")))
                elif isinstance(value, list) and value and all(v is None or isinstance(v, (int, float))
                                                                for v in value):
                    per_class[key if key not in per_class else f"{name}/{key}"] = value
        width = max(len(label) for label, _ in scalar_rows) if scalar_rows else 0
        lines += [f"{label:<{width}}  {value}".rstrip() for label, value in scalar_rows]
        if per_class:
            count = max(len(v) for v in per_class.values())
            labels = list(class_names) if class_names and len(class_names) == count else [str(i) for i in range(count)]
            header = ["class", *per_class]
            rows = [[labels[i], *(_number(v[i], ".4g") if i < len(v) else "-" for v in per_class.values())]
                    for i in range(count)]
            widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
            lines.append("per class:")
            lines += ["  " + "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
                      for row in [header, *rows]]
        if notes:
            lines.append("notes:")
            lines += [f"  [{i}] {note}" for i, note in enumerate(notes, 1)]
        lines.append(f"protocol: {p.get('num_samples')} generated images "
                     f"({(p.get('samples_per_class') or ['?'])[0]} per class), seed {p.get('seed')}, "
                     f"{p.get('num_test')} real test images of {p.get('dataset')!r}")
        judge = p.get("judge")
        if judge:
            if judge.get("source") == "shipped":
                origin = f"shipped reference judge {judge.get('file')} (the same on every machine)"
            else:  # reports written before judges were shipped carry no source: they were all local
                origin = ("local judge (trained on this machine): numbers compare only with runs that used this "
                          "same judge")
            required = judge.get("required_test_accuracy")
            verdict = "" if required is None else (f" (required {required}: "
                                                   f"{'reliable' if judge.get('reliable') else 'UNRELIABLE'})")
            lines.append(f"judge: {origin}, test accuracy {_number(judge.get('test_accuracy'), '.4f')}{verdict}, "
                         f"sha256 {str(judge.get('weights_sha256'))[:16]}..., features {judge.get('feature_layer')}, "
                         f"{judge.get('feature_dim')}-d")
        lines.append(f"wall time: {self.wall_s:.1f} s")
        return "\n".join(lines)


def _number(value: float | None, spec: str) -> str:
    """A value for the console: ``n/a`` where it is undefined (``None``, NaN; the notes say why)."""
    if value is None or value != value:
        return "n/a"
    return format(value, spec)


def class_balanced_labels(num_classes: int, per_class: int) -> torch.Tensor:
    """int64 ``(num_classes * per_class,)``: ``per_class`` zeros, then ones, ..."""
    return torch.arange(num_classes).repeat_interleave(per_class)


@torch.no_grad()
def generate_eval_samples(generator: torch.nn.Module, num_classes: int, *, per_class: int = SAMPLES_PER_CLASS,
                          seed: int = EVAL_SEED, latent_distribution: str = "normal",
                          batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the evaluation samples: ``per_class`` images of every class, G in eval mode.

    Args:
        generator: A :class:`cganzoo.ConditionalGenerator` (``latent_dim``
            attribute, ``forward(z, y)``), on any device.
        num_classes: Classes to draw.
        per_class: Images per class.
        seed: Seeds the latent noise (a CPU generator).
        latent_distribution: The run's latent prior.
        batch_size: Images per forward pass.

    Returns:
        float32 images ``(num_classes * per_class, C, H, W)`` on the CPU and their
        int64 labels, class by class. G's train/eval mode is restored.
    """
    first = next(itertools.chain(generator.parameters(), generator.buffers()), None)
    device = first.device if first is not None else torch.device("cpu")
    labels = class_balanced_labels(num_classes, per_class)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = sample_latent(labels.numel(), generator.latent_dim, latent_distribution, generator=gen)
    was_training = generator.training
    generator.eval()
    try:
        images = [generator(zc.to(device), yc.to(device)).float().cpu()
                  for zc, yc in zip(z.split(batch_size), labels.split(batch_size))]
    finally:
        generator.train(was_training)
    return torch.cat(images), labels


def _metric_components(metrics: Sequence[str | dict[str, Any]] | None, registry: Registry | None):
    from cganzoo.components.factory import get_registry

    reg = get_registry(registry)
    if metrics is None:
        chosen = [{"name": n, "params": {}} for n in reg.names("metric")]
    else:
        chosen = [{"name": m, "params": {}} if isinstance(m, str) else dict(m) for m in metrics]
    if not chosen:
        raise EvaluationError("no metric is registered (is the built-in 'metrics' plugin blocked?)")
    built = []
    for spec in chosen:
        metric = reg.create("metric", spec["name"], spec.get("params"))
        if not callable(getattr(metric, "compute", None)):
            raise EvaluationError(f"metric {spec['name']!r} has no compute(context) method")
        built.append((spec["name"], metric))
    return built


def evaluate_samples(samples: torch.Tensor, labels: torch.Tensor, data: LabelledImages, *,
                     metrics: Sequence[str | dict[str, Any]] | None = None, seed: int = EVAL_SEED,
                     judge: Judge | None = None, cache_root: Path | str | None = None,
                     judge_recipe: JudgeRecipe | None = None, device: torch.device | str = "cpu",
                     registry: Registry | None = None, log: Callable[[str], None] = print,
                     extra_protocol: dict[str, Any] | None = None, step: int | None = None,
                     use_shipped_judge: bool = True,
                     logged_skip_reasons: set[str] | None = None) -> EvaluationReport:
    """Compute metrics of a given image set (generated, or a control such as real or noise images).

    Args:
        samples: float ``(N, C, h, w)`` in ``[-1, 1]``.
        labels: int64 ``(N,)``: the class each image is meant to show.
        data: The real data set (needs a test split).
        metrics: Metric names (or ``{"name", "params"}``); default every registered metric.
        seed: Recorded, and seeds any randomness a metric uses.
        judge: A judge to use; default: the shipped reference judge when one
            matches the data and recipe (MNIST, Fashion-MNIST), else loaded from
            the cache under ``cache_root``, or trained there once. The report's
            ``protocol["judge"]["source"]`` says which (``"shipped"``/``"local"``).
        cache_root: Cache root of the judge and of real-data reference statistics
            (default :func:`cganzoo.data.default_cache_dir`).
        judge_recipe: Recipe of the judge to load or train.
        device: Where the judge runs.
        registry: Component registry (default: installed plugins).
        log: Receives progress lines.
        extra_protocol: Added to every metric's protocol.
        step: Training step, recorded in the report.
        use_shipped_judge: ``False`` trains (or loads from the cache) a local
            judge even where a shipped one matches.
        logged_skip_reasons: Skip reasons already logged in full by the caller
            (a run that evaluates every few epochs); such a reason is logged
            again only as a short line, and new ones are added to the set.

    Raises:
        EvaluationError: out-of-range images, no test split, an unusable metric.
        UnknownComponentError: a metric name is not registered.

    A metric that raises :class:`~cganzoo.errors.MetricSkipped` (its optional
    package or weights are absent) is recorded with empty values and the reason
    (``protocol["skipped_metrics"]``, and a ``skipped: ...`` note), one line per
    reason goes to ``log`` (and one copy of it to the JSON form, see
    :meth:`EvaluationReport.to_json`), and the other metrics are computed.
    """
    built = _metric_components(metrics, registry)
    device = torch.device(device)
    loaded: dict[str, float] = {}

    def judge_loader() -> Judge:
        if judge is not None:
            return judge
        start = time.perf_counter()
        result = load_or_train_judge(data, cache_root=cache_root, recipe=judge_recipe, device=device, log=log,
                                     use_shipped=use_shipped_judge)
        loaded["seconds"] = time.perf_counter() - start
        return result

    context = EvaluationContext(samples, labels, data, seed=seed, judge_loader=judge_loader, device=device,
                                extra_protocol=dict(extra_protocol or {}),
                                cache_root=Path(cache_root) if cache_root is not None else None, log=log)
    start = time.perf_counter()
    results: dict[str, MetricResult] = {}
    seconds: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name, metric in built:
        t0 = time.perf_counter()
        try:
            result = metric.compute(context)
        except MetricSkipped as exc:
            skipped[name] = str(exc)
            results[name] = MetricResult({}, {"skipped": str(exc)}, (f"skipped: {exc}",))
            seconds[name] = time.perf_counter() - t0
            continue
        if not isinstance(result, MetricResult):
            raise EvaluationError(f"metric {name!r} returned {type(result).__name__}, not MetricResult")
        results[name] = result
        seconds[name] = time.perf_counter() - t0
    wall = time.perf_counter() - start - loaded.get("seconds", 0.0)
    protocol = context.protocol(judge=context._judge is not None)
    if skipped:
        protocol["skipped_metrics"] = skipped
        _log_skipped(skipped, log, logged_skip_reasons if logged_skip_reasons is not None else set())
    if context._judge is not None and not context._judge.reliable:
        results, protocol["unreliable_metrics"] = _mark_unreliable(results, context._judge, context.info.name)
    if "seconds" in loaded:
        protocol["judge_load_or_train_s"] = round(loaded["seconds"], 1)
    return EvaluationReport(results, protocol, wall, seconds, step)


def _log_skipped(skipped: dict[str, str], log: Callable[[str], None], logged: set[str]) -> None:
    """One line per distinct reason, naming the metrics it skipped; a reason in ``logged`` only by reference."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in skipped.items():
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        if reason in logged:
            log(f"cganzoo: skipped {', '.join(names)} (the reason is in the first evaluation's log)")
        else:
            logged.add(reason)
            log(f"cganzoo: skipped {', '.join(names)}: {reason}")


def _mark_unreliable(results: dict[str, MetricResult], judge: Judge, dataset: str
                     ) -> tuple[dict[str, MetricResult], list[str]]:
    """Add a note to every metric that read a judge below its required accuracy; return their names."""
    note = (f"UNRELIABLE: the judge reached test accuracy {judge.test_accuracy:.4f} on {dataset!r}, below the "
            f"{judge.required_accuracy} its recipe requires; its features and predictions, and so this value, "
            "cannot be trusted")
    marked, names = {}, []
    for name, result in results.items():
        if "judge" in result.protocol:
            result = MetricResult(result.values, result.protocol, (note, *result.notes))
            names.append(name)
        marked[name] = result
    return marked, names


def evaluate_generator(generator: torch.nn.Module, data: LabelledImages, *, per_class: int = SAMPLES_PER_CLASS,
                       seed: int = EVAL_SEED, latent_distribution: str = "normal",
                       step: int | None = None, **kwargs: Any) -> EvaluationReport:
    """Draw ``per_class`` samples of each class from ``generator`` and compute metrics.

    Sampling time is included in ``wall_s``. Other keyword arguments go to
    :func:`evaluate_samples`.
    """
    start = time.perf_counter()
    samples, labels = generate_eval_samples(generator, data.info.num_classes, per_class=per_class, seed=seed,
                                            latent_distribution=latent_distribution)
    sampling = time.perf_counter() - start
    extra = {"latent_distribution": latent_distribution, "sampling": "generator in eval mode, z from a CPU "
             "torch.Generator seeded with the evaluation seed, labels class by class",
             **kwargs.pop("extra_protocol", {})}
    report = evaluate_samples(samples, labels, data, seed=seed, step=step, extra_protocol=extra, **kwargs)
    report.wall_s += sampling
    report.metric_seconds = {"sampling": sampling, **report.metric_seconds}
    return report
