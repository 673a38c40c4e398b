"""Built-in evaluation metrics: judge metrics (accuracy, Frechet distance, precision/recall), Parzen, and
Inception FID/KID/IS and density/coverage.

Registered through the ``cganzoo`` entry-point group like any third-party
plugin, using only cganzoo's public API (:mod:`cganzoo.evaluation`). Each
metric reads the shared :class:`~cganzoo.evaluation.EvaluationContext`, so the
judge (and Inception) runs once per image set however many metrics use it.

The Inception metrics need the optional torch-fidelity package
(``pip install 'cganzoo[inception]'``) and its weights file (see
:mod:`cganzoo.evaluation.inception`); without either they raise
:class:`~cganzoo.MetricSkipped` and the evaluation records them as skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cganzoo import EvaluationContext, MetricResult, evaluation, hookimpl

inception = evaluation.inception  # Inception-v3 features through torch-fidelity (optional)

#: Shown next to every judge-feature distance, so nobody reads it as Inception FID.
NOT_FID = ("Frechet distance in the features of the project's judge classifier, not Inception FID: "
           "not comparable with FID values published for other feature extractors")
#: Theis et al. 2016 on the Parzen estimate, shown next to the number.
PARZEN_CAVEAT = ("Parzen-window estimates are unreliable in {dims} dimensions and can rank blurry or memorised "
                 "samples above good ones (Theis, van den Oord & Bethge 2016); reported to compare with the "
                 "paper's Table 1, not as a likelihood")


class ConditionalAccuracy:
    """Fraction of generated images the judge assigns to the class they were generated for.

    Values: ``accuracy`` in ``[0, 1]`` and ``per_class_accuracy`` (list by class).
    A perfect conditional generator approaches the judge's own test accuracy
    (recorded in the protocol); one that ignores ``y`` scores about
    ``1 / num_classes``.
    """

    def compute(self, context: EvaluationContext) -> MetricResult:
        _, labels = context.images("generated")
        _, logits = context.judge_outputs("generated")
        correct = (logits.argmax(1) == labels).float()
        per_class: list[float | None] = []
        for k in range(context.num_classes):
            mask = labels == k
            per_class.append(float(correct[mask].mean()) if bool(mask.any()) else None)
        protocol = {**context.protocol(), "prediction": "argmax of the judge's logits"}
        notes = [f"the judge's own accuracy on real test images is {context.judge.test_accuracy:.4f}"]
        empty = [k for k, v in enumerate(per_class) if v is None]
        if empty:
            notes.append(f"per_class_accuracy is null for class(es) {_classes(empty)}: no generated image of that class")
        accuracy = float(correct.mean()) if labels.numel() else None
        if accuracy is None:
            notes.append("accuracy is null: no generated images")
        return MetricResult({"accuracy": accuracy, "per_class_accuracy": per_class}, protocol, tuple(notes))


def _classes(indices: list[int]) -> str:
    return ", ".join(str(k) for k in indices)


class JudgeFrechetDistance:
    """Frechet distance between Gaussians fitted to judge features of generated and real test images.

    Values: ``fd`` (all classes pooled), ``fd_intra_class_mean`` (the mean over
    classes of the distance between class ``k``'s generated and real test
    images) and ``fd_per_class``. Squared feature units, like FID; 0 for
    identical distributions.
    """

    def compute(self, context: EvaluationContext) -> MetricResult:
        gen_labels = context.images("generated")[1]
        test_labels = context.real("test")[1]
        fake, _ = context.judge_outputs("generated")
        real, _ = context.judge_outputs("test")
        dim = fake.shape[1]
        notes = [NOT_FID]
        # A covariance needs at least 2 vectors; with 2..dim of them it is singular (rank < dim): the distance
        # of the fitted Gaussians is still finite and exact, but it overstates the true one, so it is kept with a note.
        if min(fake.shape[0], real.shape[0]) < 2:
            overall = None
            notes.append(f"fd is null: {fake.shape[0]} generated and {real.shape[0]} real test images, and a "
                         f"covariance needs at least 2 of each")
        else:
            overall = evaluation.frechet_distance_of(fake, real)
            if min(fake.shape[0], real.shape[0]) <= dim:
                notes.append(f"fd: {min(fake.shape[0], real.shape[0])} images are not more than the {dim} feature "
                             f"dimensions, so the covariances are singular and fd is biased upward; compare it only "
                             f"with values from as many images")
        per_class: list[float | None] = []
        missing, singular = [], []
        for k in range(context.num_classes):
            f, r = fake[gen_labels == k], real[test_labels == k]
            if f.shape[0] < 2 or r.shape[0] < 2:
                per_class.append(None)
                missing.append(k)
                continue
            per_class.append(evaluation.frechet_distance_of(f, r))
            if min(f.shape[0], r.shape[0]) <= dim:
                singular.append(k)
        if missing:
            notes.append(f"fd_per_class is null for class(es) {_classes(missing)}: fewer than 2 generated or real "
                         f"test images of that class, too few for a covariance")
        if singular:
            notes.append(f"fd_per_class of class(es) {_classes(singular)}: no more images than the {dim} feature "
                         f"dimensions, so the covariances are singular and the values are biased upward")
        defined = [v for v in per_class if v is not None]
        intra = sum(defined) / len(defined) if defined else None
        if intra is None:
            notes.append("fd_intra_class_mean is null: no class has a defined fd_per_class")
        elif missing:
            notes.append(f"fd_intra_class_mean averages the {len(defined)} classes with a defined fd_per_class")
        judge = context.judge
        protocol = {**context.protocol(), "real": "test split",
                    "feature_layer": judge.record["feature_layer"], "feature_dim": judge.record["feature_dim"],
                    "formula": "Heusel et al. 2017 Eq. 6 in judge features; unbiased covariances"}
        return MetricResult({"fd": overall, "fd_intra_class_mean": intra, "fd_per_class": per_class},
                            protocol, tuple(notes))


class PrecisionRecallParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(3, ge=1, description="k-th nearest neighbour radius (Kynkaanniemi et al. 2019: 3).")
    normalize: bool = Field(True, description="L2-normalise judge features first; without it uniform noise "
                            "scores precision 0.997 on MNIST (see cganzoo.evaluation.precision_recall).")


class JudgePrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019) in judge features, against the test split.

    Values: ``precision`` (how many generated images fall on the real
    manifold) and ``recall`` (how many real images fall on the generated one),
    each in ``[0, 1]``. Features are L2-normalised by default (``normalize``),
    a departure from the paper made because raw judge features let uniform
    noise score precision 0.997.
    """

    def __init__(self, k: int = 3, normalize: bool = True) -> None:
        self.k, self.normalize = k, normalize

    def compute(self, context: EvaluationContext) -> MetricResult:
        fake, _ = context.judge_outputs("generated")
        real, _ = context.judge_outputs("test")
        notes: tuple[str, ...] = ()
        if min(fake.shape[0], real.shape[0]) <= self.k:
            precision = recall = None
            notes = (f"precision and recall are null: {fake.shape[0]} generated and {real.shape[0]} real test images; "
                     f"the k={self.k} nearest-neighbour radii need more than {self.k} of each",)
        else:
            precision, recall = evaluation.precision_recall(real, fake, self.k, normalize=self.normalize)
        judge = context.judge
        protocol = {**context.protocol(), "k": self.k, "real": "test split",
                    "feature_layer": judge.record["feature_layer"], "feature_dim": judge.record["feature_dim"],
                    "distance": "Euclidean" + (" between L2-normalised features" if self.normalize else "")}
        return MetricResult({"precision": precision, "recall": recall}, protocol, notes)


class ParzenParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    validation_split: int = Field(10_000, ge=1, description="The last this many training images are the "
                                  "validation split (Goodfellow et al.: MNIST train[50000:60000]).")
    num_validation: int = Field(1000, ge=1, description="Validation images used to choose sigma (the protocol: 1,000).")
    sigmas: tuple[float, ...] = Field(evaluation.SIGMAS, min_length=1, description="Candidate kernel widths "
                                      "(the protocol: numpy.logspace(-1, 0, 10)).")


class ParzenLogLikelihood:
    """Gaussian Parzen-window log-likelihood of the test split, the protocol of the CGAN paper's Table 1.

    See :mod:`cganzoo.evaluation.parzen` for the protocol. Values:
    ``log_likelihood`` (mean over test images, nats), ``standard_error`` and
    ``sigma``. Pixels are in ``[0, 1]`` at the data set's native size (images
    of another size are resized, see :mod:`cganzoo.evaluation.images`).
    """

    def __init__(self, validation_split: int = 10_000, num_validation: int = 1000,
                 sigmas: tuple[float, ...] = evaluation.SIGMAS) -> None:
        self.validation_split, self.num_validation, self.sigmas = validation_split, num_validation, tuple(sigmas)

    def compute(self, context: EvaluationContext) -> MetricResult:
        samples, _ = context.images("generated")
        train_images, _ = context.real("train")
        test_images, _ = context.real("test")
        size = tuple(context.info.shape[1:])
        n_train = train_images.shape[0]
        # A data set smaller than the protocol's keeps a sixth of its training images for validation.
        split = min(self.validation_split, max(1, n_train // 6))
        start = n_train - split
        stop = min(n_train, start + self.num_validation)
        fake = evaluation.to_parzen_input(samples, size)
        validation = evaluation.to_parzen_input(train_images[start:stop], size)
        test = evaluation.to_parzen_input(test_images, size)
        result = evaluation.parzen_protocol(fake, validation, test, self.sigmas)
        protocol = {**context.protocol(judge=False),
                    "validation": f"training images [{start}:{stop}] (first {stop - start} of the last {split})",
                    "sigmas": list(self.sigmas),
                    "validation_log_likelihoods": result["validation_log_likelihoods"],
                    "pixel_space": "[0, 1], native size, flattened",
                    "reference": "Goodfellow et al. 2014 parzen_ll.py; Mirza & Osindero 2014 Table 1"}
        dims = 1
        for side in context.info.shape:
            dims *= int(side)
        notes = [PARZEN_CAVEAT.format(dims=dims)]  # 784 for MNIST, 3072 for 3x32x32 colour images
        if samples.shape[0] != 10_000:
            notes.append(f"the protocol asks for 10,000 samples; {samples.shape[0]} were used, so the number "
                         "is not comparable with the paper's")
        values = {k: result[k] for k in ("log_likelihood", "standard_error", "sigma")}
        return MetricResult(values, protocol, tuple(notes))


#: Shown next to every Inception FID computed from fewer images than the published protocols use.
FID_BIAS = ("FID is biased upward with fewer images (Chong & Forsyth 2020: the bias falls roughly as 1/N); "
            "compare only values computed from the same numbers of generated and real images")


class InceptionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: str | None = Field(None, description="Path of torch-fidelity's Inception weights file "
                                f"({inception.WEIGHTS_FILE}); default ${inception.WEIGHTS_ENV}, else torch hub's "
                                "checkpoint directory.")
    max_samples: int | None = Field(None, ge=2, description="Use at most this many generated and this many real "
                                    "images (class-balanced); None: all (10,000 generated by default). Inception "
                                    "is slow on a CPU; fewer images bias FID upward.")
    real_split: Literal["test", "train"] = Field("test", description="Real images: the test split (as the judge "
                                                 "metrics) or the training split.")
    batch_size: int = Field(64, ge=1, description="Images per Inception forward pass.")


class _InceptionMetric:
    def __init__(self, weights: str | None = None, max_samples: int | None = None, real_split: str = "test",
                 batch_size: int = 64) -> None:
        self.weights, self.max_samples, self.real_split, self.batch_size = weights, max_samples, real_split, batch_size

    def _extractor(self, context: EvaluationContext) -> inception.InceptionExtractor:
        return inception.context_extractor(context, self.weights)

    def _generated(self, context: EvaluationContext, extractor: inception.InceptionExtractor):
        return inception.context_generated(context, extractor, self.max_samples, self.batch_size)

    def _reference(self, context: EvaluationContext, extractor: inception.InceptionExtractor):
        return inception.context_reference(context, extractor, self.real_split, self.max_samples, self.batch_size)


class InceptionFID(_InceptionMetric):
    """Frechet Inception Distance (Heusel et al. 2017, Eq. 6) through torch-fidelity.

    Values: ``fid`` (squared pool3 feature units, >= 0; lower is better),
    from torch-fidelity's ``fid_features_to_statistics`` and
    ``fid_statistics_to_metric`` on Inception-v3 pool3 features of the
    generated images and of the real ``real_split`` (whose statistics are
    cached by data checksum). Comparable with published FIDs only with the
    official weights and the same image counts; on 28x28 digits Inception sees
    upscaled grayscale, far from ImageNet.
    """

    def compute(self, context: EvaluationContext) -> MetricResult:
        extractor = self._extractor(context)
        pool, _, _ = self._generated(context, extractor)
        reference = self._reference(context, extractor)
        from torch_fidelity.metric_fid import fid_statistics_to_metric

        notes = inception.inception_notes(extractor)
        if pool.shape[0] < 2:
            fid = None
            notes.append(f"fid is null: {pool.shape[0]} generated image(s); a covariance needs at least 2")
        else:
            mu, sigma = inception.fid_statistics(pool)
            real = {"mu": reference.mu.numpy(), "sigma": reference.sigma.numpy()}
            fid = fid_statistics_to_metric({"mu": mu.numpy(), "sigma": sigma.numpy()}, real, False)[
                "frechet_inception_distance"]
            if min(pool.shape[0], reference.pool.shape[0]) < 10_000:
                notes.append(f"{pool.shape[0]} generated and {reference.pool.shape[0]} real images (published FIDs "
                             f"use 10,000 or 50,000): {FID_BIAS}")
            if min(pool.shape[0], reference.pool.shape[0]) <= inception.POOL_DIM:
                notes.append(f"no more images than the {inception.POOL_DIM} feature dimensions: the covariances are "
                             "singular and fid is biased further upward")
        protocol = {**inception.inception_protocol(context, extractor, pool.shape[0], reference),
                    "formula": "torch_fidelity.metric_fid.fid_statistics_to_metric (Heusel et al. 2017 Eq. 6)",
                    "feature_layer": "pool3 (2048-d)"}
        return MetricResult({"fid": fid}, protocol, tuple(notes))


class KIDParams(InceptionParams):
    subsets: int = Field(100, ge=1, description="Random subsets averaged (torch-fidelity's default 100).")
    subset_size: int = Field(1000, ge=2, description="Images per subset (torch-fidelity's default 1000; "
                             "lowered to the image count when fewer are available).")


class InceptionKID(_InceptionMetric):
    """Kernel Inception Distance (Binkowski et al. 2018) through torch-fidelity.

    Values: ``kid`` (mean over ``subsets`` random subsets of the unbiased MMD^2
    with the cubic polynomial kernel ``(x.y / d + 1)^3`` on pool3 features;
    unbiased, so it can be slightly negative; often printed x1000) and
    ``kid_std`` (spread over subsets). Subsets are drawn with torch-fidelity's
    default seed 2020.
    """

    def __init__(self, subsets: int = 100, subset_size: int = 1000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.subsets, self.subset_size = subsets, subset_size

    def compute(self, context: EvaluationContext) -> MetricResult:
        extractor = self._extractor(context)
        pool, _, _ = self._generated(context, extractor)
        reference = self._reference(context, extractor)
        from torch_fidelity.metric_kid import kid_features_to_metric

        notes = inception.inception_notes(extractor)
        size = min(self.subset_size, pool.shape[0], reference.pool.shape[0])
        if size < 2:
            kid = kid_std = None
            notes.append(f"kid is null: {pool.shape[0]} generated image(s); subsets need at least 2")
        else:
            out = kid_features_to_metric(pool, reference.pool, kid_subsets=self.subsets, kid_subset_size=size,
                                         rng_seed=2020, verbose=False)
            kid, kid_std = out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]
            if size < self.subset_size:
                notes.append(f"subset size lowered from {self.subset_size} to {size}, the number of images available")
        protocol = {**inception.inception_protocol(context, extractor, pool.shape[0], reference),
                    "formula": "torch_fidelity.metric_kid.kid_features_to_metric (poly kernel, degree 3, "
                               "gamma 1/d, coef0 1; unbiased MMD^2)",
                    "subsets": self.subsets, "subset_size": size, "rng_seed": 2020, "feature_layer": "pool3 (2048-d)"}
        return MetricResult({"kid": kid, "kid_std": kid_std}, protocol, tuple(notes))


class ISParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: str | None = InceptionParams.model_fields["weights"]
    max_samples: int | None = InceptionParams.model_fields["max_samples"]
    batch_size: int = InceptionParams.model_fields["batch_size"]
    splits: int = Field(10, ge=1, description="Splits whose scores are averaged (Salimans et al. 2016: 10).")


class InceptionScore(_InceptionMetric):
    """Inception Score (Salimans et al. 2016) of the generated images, through torch-fidelity.

    Values: ``inception_score`` (mean over ``splits`` of
    ``exp(E_x KL(p(y|x) || p(y)))`` from the 1008-way unbiased logits; in
    ``[1, 1008]``, higher is better) and ``inception_score_std``. Uses no real
    images. Inception's ImageNet classes say little about digits: on MNIST
    this is a weak signal, reported because it is widely quoted.
    """

    def __init__(self, splits: int = 10, **kwargs) -> None:
        super().__init__(**kwargs)
        self.splits = splits

    def compute(self, context: EvaluationContext) -> MetricResult:
        extractor = self._extractor(context)
        _, logits, _ = self._generated(context, extractor)
        from torch_fidelity.metric_isc import isc_features_to_metric

        notes = inception.inception_notes(extractor)
        splits = min(self.splits, logits.shape[0])
        if splits < 1:
            score = std = None
            notes.append("inception_score is null: no generated images")
        else:
            out = isc_features_to_metric(logits, splits=splits, shuffle=True, rng_seed=2020)
            score, std = out["inception_score_mean"], out["inception_score_std"]
        protocol = {**inception.inception_protocol(context, extractor, logits.shape[0]), "splits": splits,
                    "formula": "torch_fidelity.metric_isc.isc_features_to_metric (shuffled with seed 2020)",
                    "feature_layer": "logits_unbiased (1008-d)"}
        return MetricResult({"inception_score": score, "inception_score_std": std}, protocol, tuple(notes))


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


class DensityCoverage(_InceptionMetric):
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


@hookimpl
def register_metrics(register):
    register("conditional-accuracy", ConditionalAccuracy,
             description="fraction of samples the judge classifies as their condition label, overall and per class")
    register("judge-frechet-distance", JudgeFrechetDistance,
             description="Frechet distance in judge features vs the test split, overall and intra-class; NOT Inception "
                         "FID (see inception-fid), not comparable with published FIDs")
    register("judge-precision-recall", JudgePrecisionRecall, params=PrecisionRecallParams,
             description="improved precision and recall (Kynkaanniemi et al. 2019, k=3) in judge features")
    register("parzen-log-likelihood", ParzenLogLikelihood, params=ParzenParams,
             description="Gaussian Parzen-window log-likelihood of the test split (Goodfellow et al. 2014 protocol)")
    register("inception-fid", InceptionFID, params=InceptionParams,
             description="Frechet Inception Distance, torch-fidelity's Inception-v3 pool3 vs the test split "
                         "(needs cganzoo[inception] and its weights; skipped otherwise)")
    register("inception-kid", InceptionKID, params=KIDParams,
             description="Kernel Inception Distance (Binkowski et al. 2018), torch-fidelity, vs the test split "
                         "(needs cganzoo[inception] and its weights; skipped otherwise)")
    register("inception-score", InceptionScore, params=ISParams,
             description="Inception Score (Salimans et al. 2016), torch-fidelity; a weak signal on digits "
                         "(needs cganzoo[inception] and its weights; skipped otherwise)")
    register("density-coverage", DensityCoverage, params=DensityCoverageParams,
             description="density and coverage (Naeem et al. 2020, k=5) in judge features by default, "
                         "or Inception's")

