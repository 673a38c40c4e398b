"""The Parzen-window log-likelihood of the CGAN paper's Table 1 (Goodfellow et al. 2014's protocol)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cganzoo import EvaluationContext, MetricResult, evaluation

#: Theis et al. 2016 on the Parzen estimate, shown next to the number.
PARZEN_CAVEAT = ("Parzen-window estimates are unreliable in {dims} dimensions and can rank blurry or memorised "
                 "samples above good ones (Theis, van den Oord & Bethge 2016); reported to compare with the "
                 "paper's Table 1, not as a likelihood")


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
