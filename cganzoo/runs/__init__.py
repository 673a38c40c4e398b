"""Runs: what a run directory holds and who reads it.

* :mod:`~cganzoo.runs.layout`: :class:`~cganzoo.runs.layout.RunDir`, a run directory's layout: every file
  name (``config.json``, ``metrics.jsonl``, ``samples/``, ``checkpoints/``, the checkpoint-name scheme) and
  the one reader of ``config.json`` and ``metrics.jsonl``; it imports nothing else of runs;
* :mod:`~cganzoo.runs.run_dir`: the run directory checked and created before training, ``config.json`` written;
* :mod:`~cganzoo.runs.checkpoint`: the checkpoint format (safetensors + JSON, written atomically);
* :mod:`~cganzoo.runs.history`: reading a run back: its config, logged records and sample grids;
* :mod:`~cganzoo.runs.compare`: runs side by side (``cganzoo compare``);
* :mod:`~cganzoo.runs.plots` and :mod:`~cganzoo.runs.figures`: ``cganzoo plot`` and matplotlib for files.

May import: :mod:`cganzoo.config`, :mod:`cganzoo.io`, :mod:`cganzoo.errors`.
"""
