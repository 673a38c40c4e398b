"""Density and coverage (Naeem et al. 2020), in the judge's features or Inception's."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cganzoo import EvaluationContext, MetricResult, evaluation
from cganzoo_metrics.fidelity import InceptionMetric, InceptionParams

inception = evaluation.inception  # Inception-v3 features through torch-fidelity (optional)


class DensityCoverageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, ge=1, description="k-th nearest neighbour radius (Naeem et al. 2020: 5).")
    features: Literal["judge", "inception"] = Field(
        "judge", description="judge: the judge's features, trained on this data set (always available); "
        "inception: Inception-v3 pool3 (needs torch-fidelity and its weights, skipped otherwise).")
    normalize: bool | None = Field(None, description="L2-normalise features first; default: yes for judge "
                                   "features (as judge-precision-recall), no for Inception (as the paper).")
    weights: str | None = InceptionParams.model_fields["weights"]
    max_samples: int | None = InceptionParams.model_fields["max_samples"]
    batch_size: int = InceptionParams.model_fields["batch_size"]


class DensityCoverage(InceptionMetric):
    """Density and coverage (Naeem et al. 2020, Eq. 3-4) against the test split.

    Values: ``density`` (about 1 when generated and real match; above 1 when
    samples crowd into dense real regions) and ``coverage`` (fraction of real
    images whose k-NN ball holds a generated one, in ``[0, 1]``). Default
    features: the judge's, trained on this very data set; Inception's
    ImageNet features fit 28x28 digits poorly and cost hours on a CPU
    (``features: inception`` uses them; ``weights``, ``max_samples`` and
    ``batch_size`` apply to that choice only).
    """

    def __init__(self, k: int = 5, features: str = "judge", normalize: bool | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.k, self.features = k, features
        self.normalize = (features == "judge") if normalize is None else normalize

    def compute(self, context: EvaluationContext) -> MetricResult:
        notes: list[str] = []
        if self.features == "judge":
            fake, _ = context.judge_outputs("generated")
            real, _ = context.judge_outputs("test")
            judge = context.judge
            protocol = {**context.protocol(), "feature_layer": judge.record["feature_layer"],
                        "feature_dim": judge.record["feature_dim"]}
        else:
            extractor = self._extractor(context)
            fake, _, _ = self._generated(context, extractor)
            reference = self._reference(context, extractor)
            real = reference.pool
            notes += inception.inception_notes(extractor)
            protocol = {**inception.inception_protocol(context, extractor, fake.shape[0], reference),
                        "feature_layer": "Inception-v3 pool3 (2048-d)"}
        if self.normalize:
            fake = fake.float().div(fake.float().norm(dim=1, keepdim=True).clamp_min(1e-12))
            real = real.float().div(real.float().norm(dim=1, keepdim=True).clamp_min(1e-12))
        if real.shape[0] <= self.k or fake.shape[0] < 1:
            density = coverage = None
            notes.append(f"density and coverage are null: {fake.shape[0]} generated and {real.shape[0]} real test "
                         f"images; the k={self.k} radii need more than {self.k} real ones and one generated")
        else:
            density, coverage = evaluation.density_coverage(real, fake, self.k)
        protocol.update({"k": self.k, "real": "test split", "features": self.features,
                         "distance": "Euclidean" + (" between L2-normalised features" if self.normalize else ""),
                         "reference": "Naeem et al. 2020 Eq. 3-4; a point on a ball's boundary counts as inside"})
        return MetricResult({"density": density, "coverage": coverage}, protocol, tuple(notes))
