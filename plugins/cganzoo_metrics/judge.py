"""Metrics in the judge's features: conditional accuracy, Frechet distance, improved precision and recall.

The judge is the data set's reference classifier
(:attr:`cganzoo.evaluation.EvaluationContext.judge`); every metric here reads
its logits or features of the generated images and of the real test split
through the shared context, so the judge runs once per image set.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cganzoo import EvaluationContext, MetricResult, evaluation

#: Shown next to every judge-feature distance, so nobody reads it as Inception FID.
NOT_FID = ("Frechet distance in the features of the project's judge classifier, not Inception FID: "
           "not comparable with FID values published for other feature extractors")


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
