"""Evaluation: honest, offline metrics for conditional generators.

* :mod:`~cganzoo.evaluation.judge`: the judge classifier (a small CNN trained on
  the real training split, its test accuracy recorded), whose features and
  predictions the classifier-based metrics use: shipped in the package for
  MNIST and Fashion-MNIST (``judges/``, made by
  :mod:`~cganzoo.evaluation.make_reference_judges`), else trained once and cached;
* :mod:`~cganzoo.evaluation.images`: how generated ``[-1, 1]`` images of any size
  reach the judge and the Parzen estimator;
* the mathematics: :mod:`~cganzoo.evaluation.frechet` (Frechet distance),
  :mod:`~cganzoo.evaluation.precision_recall` (Kynkaanniemi et al. 2019),
  :mod:`~cganzoo.evaluation.parzen` (Goodfellow et al. 2014's protocol),
  :mod:`~cganzoo.evaluation.density_coverage` (Naeem et al. 2020);
* :mod:`~cganzoo.evaluation.inception`: Inception-v3 features through
  torch-fidelity (optional: ``pip install 'cganzoo[inception]'`` and the
  weights file) for FID, KID and the Inception Score, with real-data reference
  features cached by data checksum;
* :class:`Metric`, the contract a metric plugin implements (``register_metrics``),
  beside :class:`EvaluationContext` / :class:`MetricResult`, what it receives and returns;
* :func:`evaluate_generator`, :func:`evaluate_samples` (and :func:`cganzoo.api.evaluate_run` for a run directory):
  every registered metric on one shared set of samples.

The metrics themselves are registered by the built-in ``metrics`` plugin
(``plugins/cganzoo_metrics``) through the ``register_metrics`` hook, as a
third-party metric would be.

May import: components, data, interfaces, conditions, io, errors; never training,
runs, the API or the CLI.

Example::

    from cganzoo.api import evaluate_run

    report = evaluate_run("runs/mlp-cgan-mnist-...")
    print(report.format_table())
"""

from cganzoo.evaluation import inception
from cganzoo.evaluation.context import SPLITS, EvaluationContext, Metric, MetricResult
from cganzoo.evaluation.density_coverage import density_coverage
from cganzoo.evaluation.evaluate import (
    EVAL_SEED,
    SAMPLES_PER_CLASS,
    EvaluationReport,
    class_balanced_labels,
    evaluate_generator,
    evaluate_samples,
    generate_eval_samples,
)
from cganzoo.evaluation.frechet import frechet_distance, frechet_distance_of, gaussian_stats
from cganzoo.evaluation.images import check_unit_range, to_judge_input, to_parzen_input, uint8_to_unit_range
from cganzoo.evaluation.judge import (
    FEATURE_LAYER,
    Judge,
    JudgeNet,
    JudgeRecipe,
    dataset_checksum,
    load_or_train_judge,
    train_judge,
)
from cganzoo.evaluation.parzen import SIGMAS, parzen_log_likelihood, parzen_protocol, select_sigma
from cganzoo.evaluation.precision_recall import coverage_fraction, kth_neighbour_radii, precision_recall

__all__ = [
    "EVAL_SEED",
    "FEATURE_LAYER",
    "SAMPLES_PER_CLASS",
    "SIGMAS",
    "SPLITS",
    "EvaluationContext",
    "EvaluationReport",
    "Judge",
    "JudgeNet",
    "JudgeRecipe",
    "Metric",
    "MetricResult",
    "check_unit_range",
    "class_balanced_labels",
    "coverage_fraction",
    "density_coverage",
    "dataset_checksum",
    "evaluate_generator",
    "evaluate_samples",
    "frechet_distance",
    "frechet_distance_of",
    "gaussian_stats",
    "inception",
    "generate_eval_samples",
    "kth_neighbour_radii",
    "load_or_train_judge",
    "parzen_log_likelihood",
    "parzen_protocol",
    "precision_recall",
    "select_sigma",
    "to_judge_input",
    "to_parzen_input",
    "train_judge",
    "uint8_to_unit_range",
]
