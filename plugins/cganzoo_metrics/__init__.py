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

The metrics live in :mod:`cganzoo_metrics.judge` (conditional accuracy, judge
Frechet distance, precision/recall), :mod:`cganzoo_metrics.parzen`,
:mod:`cganzoo_metrics.fidelity` (Inception FID, KID, IS) and
:mod:`cganzoo_metrics.density_coverage`; this module registers them.
"""

from __future__ import annotations

from cganzoo import hookimpl
from cganzoo_metrics.density_coverage import DensityCoverage, DensityCoverageParams
from cganzoo_metrics.fidelity import InceptionFID, InceptionKID, InceptionParams, InceptionScore, ISParams, KIDParams
from cganzoo_metrics.judge import ConditionalAccuracy, JudgeFrechetDistance, JudgePrecisionRecall, PrecisionRecallParams
from cganzoo_metrics.parzen import ParzenLogLikelihood, ParzenParams


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
