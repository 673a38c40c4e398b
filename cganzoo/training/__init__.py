"""Training: state, step, loop and callbacks, each in a small module of its own.

* :class:`TrainingState` (``state.py``): G, D, optimizers, RNGs, step; one ``state_dict()``.
* :class:`TrainStep` (``step.py``): one G update then ``n_dis`` D updates; the only
  ``backward()`` and optimizer ``step()``.
* :class:`FitLoop` (``loop.py``): batches, budget, stopping (it owns its counters); everything else a callback.
* :class:`CallbackList` (``callbacks.py``) and the built-in callbacks: ``progress.py``,
  ``metrics_log.py``, ``sample_grids.py``, ``checkpointing.py``, ``periodic_eval.py``.
* :class:`Trainer` (``trainer.py``): builds all of it from a :class:`cganzoo.config.RunConfig`
  (``build.py``) and owns the run directory (:mod:`cganzoo.runs.run_dir`).
* What only training uses: the objective (``objective.py``), the fast path
  (``fastpath.py``: Adam kernels, autocast, CUDA graphs), finding NaN and
  infinity (``nonfinite.py``), stopping on SIGINT/SIGTERM (``signals.py``).

May import: evaluation (periodic evaluation), runs, distributed, components,
data, config, interfaces, conditions, io, errors; never the API, the CLI or bench.
"""

from cganzoo.training.build import (
    build_generator,
    build_models,
    build_optimizers,
    dataset_differences,
    dataset_identity,
    default_run_dir,
    validate_components,
)
from cganzoo.training.callbacks import CallbackList
from cganzoo.training.loop import FitLoop, StepEnd
from cganzoo.training.state import Optimizers, TrainingState
from cganzoo.training.step import TrainStep
from cganzoo.training.trainer import Trainer

__all__ = [
    "CallbackList",
    "Optimizers",
    "FitLoop",
    "StepEnd",
    "TrainStep",
    "Trainer",
    "TrainingState",
    "build_generator",
    "build_models",
    "build_optimizers",
    "dataset_differences",
    "dataset_identity",
    "default_run_dir",
    "validate_components",
]
