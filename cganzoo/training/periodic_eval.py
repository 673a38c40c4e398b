"""Evaluation during a run: every ``eval_interval`` steps and at the end (``eval_at_end``), rank 0 evaluates."""

from __future__ import annotations

from typing import Any

import torch

from cganzoo.interfaces import Callback


class PeriodicEvaluation(Callback):
    """Evaluates the sampling generator with every registered metric (:mod:`cganzoo.evaluation`).

    Runs under a forked RNG and leaves G in its previous mode, so training
    continues exactly as without it; the record goes to ``metrics.jsonl`` and
    every callback's ``on_evaluation``.
    """

    state_key = "evaluation"

    def __init__(self) -> None:
        super().__init__()
        #: A metric skipped at every evaluation (no Inception weights) is explained once per run.
        self.logged_skip_reasons: set[str] = set()

    def on_step_end(self, trainer: Any, end: Any) -> None:
        cfg = trainer.config
        if (cfg.eval_interval and end.step % cfg.eval_interval == 0) or (
                end.finished and (cfg.eval_at_end or cfg.eval_interval)):
            if trainer.dist.is_main:  # once per job, not once per rank
                self.evaluate(trainer)
            trainer.dist.barrier()

    def evaluate(self, trainer: Any) -> dict[str, Any]:
        """Evaluate now; returns the record ``{"epoch", "step", "eval": report}``."""
        from cganzoo.evaluation import evaluate_generator

        cfg, device = trainer.config, trainer.device
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            report = evaluate_generator(trainer.sampling_generator(), trainer.data,
                                        per_class=cfg.eval_samples_per_class,
                                        latent_distribution=cfg.latent_distribution, cache_root=cfg.data_dir,
                                        device=device, registry=trainer.registry, log=trainer.log,
                                        step=trainer.state.step, extra_protocol=trainer.sampling_protocol(),
                                        logged_skip_reasons=self.logged_skip_reasons)
        step = trainer.state.step
        record = {"epoch": max(0, step - 1) // len(trainer.batches), "step": step, "eval": report.to_json()}
        trainer.log(report.format_summary())
        trainer.callbacks.on_evaluation(trainer, record)
        return record
