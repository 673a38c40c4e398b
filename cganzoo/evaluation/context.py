"""A metric's contract: :class:`Metric`, what it receives (:class:`EvaluationContext`) and returns (:class:`MetricResult`).

Every metric of an evaluation sees the same context: one set of generated
images with their condition labels, the real data set (train and test splits),
the evaluation seed, and the judge classifier. Expensive shared work (the
judge, its features of each image set) is computed on first use and cached in
the context, so four metrics cost one pass of the judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Protocol, runtime_checkable

import torch

from cganzoo.errors import EvaluationError
from cganzoo.evaluation.images import check_unit_range
from cganzoo.evaluation.judge import Judge, require_test_split
from cganzoo.interfaces import DatasetInfo, LabelledImages
from cganzoo.io import json_safe

#: Image sets a context can hand to the judge.
SPLITS = ("generated", "test", "train")


@dataclass(frozen=True)
class MetricResult:
    """The outcome of one metric.

    Attributes:
        values: Named results. Scalars are floats; per-class results are lists
            indexed by class label (``len == num_classes``). JSON-serialisable.
            A value that is undefined for this evaluation (a class without
            samples, too few samples for a covariance) is ``None``, with a note
            saying why; NaN and infinities are never written (strict JSON).
        protocol: How the values were obtained: at least sample counts, the
            evaluation seed, and the judge's checksum when a judge was used
            (see :meth:`EvaluationContext.protocol`), plus the metric's own
            settings.
        notes: Caveats a reader must see next to the number (e.g. the Parzen
            estimator's known weakness).
    """

    values: dict[str, Any]
    protocol: dict[str, Any]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Strict-JSON record ``{"values", "protocol", "notes"}``.

        A NaN or infinite value a metric returned becomes ``null``; unless a
        note of the metric already names that value, a note saying so is added.
        """
        notes = list(self.notes)
        bad = [key for key, value in self.values.items() if _has_non_finite(value)]
        unexplained = [key for key in bad if not any(key in note for note in notes)]
        if unexplained:
            notes.append(f"{', '.join(unexplained)}: not finite (NaN or infinite) in this evaluation, written as null")
        return json_safe({"values": self.values, "protocol": self.protocol, "notes": notes})


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    return False


@dataclass
class EvaluationContext:
    """The inputs of every metric of one evaluation.

    Args:
        samples: Generated images, float ``(N, C, h, w)`` in ``[-1, 1]`` (any
            size; the judge resizes to the data set's native size), on the CPU.
        sample_labels: ``(N,)`` of any integer dtype (stored as int64): the condition ``y`` each image was
            generated for.
        data: The real data set: uint8 train split and test split at native size.
        seed: The evaluation seed (recorded; metrics that draw random numbers
            derive their generators from it).
        judge_loader: Returns the judge; called at most once, on first use.
        device: Where heavy computations may run.
        extra_protocol: Recorded in every metric's protocol (e.g. the run's
            step, the latent distribution, how samples were drawn).
        log: Receives progress lines of metrics (e.g. "computing reference features once").
        cache_root: Where metrics may cache what they compute from the real
            data (the judge, Inception reference statistics); ``None``: the
            default data cache (:func:`cganzoo.data.default_cache_dir`).

    Raises:
        EvaluationError: samples outside ``[-1, 1]``, labels of the wrong shape
            or range, or a data set without a test split.
    """

    samples: torch.Tensor
    sample_labels: torch.Tensor
    data: LabelledImages
    seed: int = 0
    judge_loader: Callable[[], Judge] | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    extra_protocol: dict[str, Any] = field(default_factory=dict)
    cache_root: Path | None = None
    log: Callable[[str], None] = print
    _judge: Judge | None = field(default=None, init=False, repr=False)
    _judge_out: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, init=False, repr=False)
    _shared: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        check_unit_range(self.samples, what="generated images")
        labels = self.sample_labels
        if isinstance(labels, torch.Tensor) and not (labels.dtype.is_floating_point or labels.dtype.is_complex
                                                     or labels.dtype == torch.bool):
            self.sample_labels = labels.to(torch.int64)  # any integer dtype, as everywhere labels enter
        if self.sample_labels.shape != (self.samples.shape[0],) or self.sample_labels.dtype != torch.int64:
            raise EvaluationError(
                f"sample_labels must be int64 ({self.samples.shape[0]},), got {self.sample_labels.dtype} "
                f"{tuple(self.sample_labels.shape)}"
            )
        if self.sample_labels.numel() and (int(self.sample_labels.min()) < 0
                                           or int(self.sample_labels.max()) >= self.info.num_classes):
            raise EvaluationError(f"sample_labels must lie in [0, {self.info.num_classes})")
        require_test_split(self.data)

    @property
    def info(self) -> DatasetInfo:
        return self.data.info

    @property
    def num_classes(self) -> int:
        return self.data.info.num_classes

    @property
    def judge(self) -> Judge:
        """The judge classifier (loaded or trained on first use).

        Raises:
            EvaluationError: the context has no judge loader.
        """
        if self._judge is None:
            if self.judge_loader is None:
                raise EvaluationError("this evaluation has no judge classifier (no judge_loader given)")
            self._judge = self.judge_loader()
        return self._judge

    def real(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Real uint8 images ``(N, C, H, W)`` and int64 labels of ``"train"`` or ``"test"``."""
        if split == "train":
            return self.data.images, self.data.labels
        if split == "test":
            return require_test_split(self.data)
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def images(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and labels of ``split`` (one of :data:`SPLITS`): generated float, real uint8."""
        if split == "generated":
            return self.samples, self.sample_labels
        return self.real(split)

    def judge_outputs(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The judge's ``(features (N, feature_dim), logits (N, num_classes))`` of ``split``, cached.

        ``split`` is ``"generated"``, ``"test"`` or ``"train"``.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if split not in self._judge_out:
            images, _ = self.images(split)
            self._judge_out[split] = self.judge.run(images)
        return self._judge_out[split]

    def shared(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per evaluation and ``key``; later calls with the same key return that value.

        Lets several metrics share expensive work (e.g. the Inception features
        of the generated images) without knowing about each other. An
        exception raised by ``compute`` is raised again, and ``compute`` is
        tried again, on the next call.
        """
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def resolved_cache_root(self) -> Path:
        """:attr:`cache_root`, or the default data cache when it is ``None``."""
        if self.cache_root is not None:
            return Path(self.cache_root).expanduser()
        from cganzoo.data import default_cache_dir

        return default_cache_dir()

    def protocol(self, *, judge: bool = True) -> dict[str, Any]:
        """The shared part of every metric's protocol.

        Args:
            judge: Include the judge's checksum, test accuracy and feature layer.
        """
        counts = torch.bincount(self.sample_labels, minlength=self.num_classes)
        record = {
            "num_samples": int(self.samples.shape[0]),
            "samples_per_class": [int(c) for c in counts],
            "sample_shape": list(self.samples.shape[1:]),
            "seed": self.seed,
            "dataset": self.info.name,
            "num_test": int(require_test_split(self.data)[1].numel()),
            **self.extra_protocol,
        }
        if judge:
            record["judge"] = self.judge.describe()
        return record


@runtime_checkable
class Metric(Protocol):
    """An evaluation metric: a pure function of an evaluation context.

    ``compute`` receives a :class:`cganzoo.evaluation.EvaluationContext`
    holding the generated images ``(N, C, h, w)`` in ``[-1, 1]`` with their
    condition labels ``(N,)``, the real data set (uint8 train and test splits),
    the evaluation seed and, on demand, the judge classifier and its cached
    features and logits of each image set. It returns a
    :class:`cganzoo.evaluation.MetricResult`: named values, the protocol they
    were measured under (start from ``context.protocol()``: sample counts,
    seed, judge checksum) and caveats. A metric never trains the generator and
    draws random numbers only from generators seeded with ``context.seed``, so
    an evaluation is repeatable.

    Every metric of an evaluation shares one context, so a metric reads what
    it needs from it rather than computing it again:
    ``context.images("generated")`` (float ``(N, C, h, w)`` in ``[-1, 1]`` and
    int64 labels ``(N,)``), ``context.real("test")`` (uint8 at native size),
    ``context.judge_outputs(split)`` (the judge's cached features and logits)
    and ``context.protocol()``. ``context.shared(key, compute)`` computes
    expensive work once per evaluation for every metric that asks with the
    same key (the Inception metrics share their features so), and
    ``context.resolved_cache_root()`` is where to cache what is computed from
    the real data.
    """

    def compute(self, context: EvaluationContext) -> MetricResult:
        """Measure the context's generated images.

        Raises:
            MetricSkipped: the metric cannot run here (an optional package or
                weights file is absent); its one-line reason says how to get
                it. The report records the metric as skipped and the others
                still run.
            EvaluationError: the metric cannot be computed on this context
                (e.g. too few samples); the message says what it needs.
        """
        ...
