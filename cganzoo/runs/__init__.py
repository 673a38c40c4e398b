"""Runs: what a run directory holds and who reads it.

* :mod:`~cganzoo.runs.run_dir`: the run directory's layout (every file name), checked before training;
* :mod:`~cganzoo.runs.checkpoint`: the checkpoint format (safetensors + JSON, written atomically);
* :mod:`~cganzoo.runs.history`: reading a run back: its config, logged records and sample grids;
* :mod:`~cganzoo.runs.compare`: runs side by side (``cganzoo compare``);
* :mod:`~cganzoo.runs.plots` and :mod:`~cganzoo.runs.figures`: ``cganzoo plot`` and matplotlib for files.

May import: :mod:`cganzoo.config`, :mod:`cganzoo.io`, :mod:`cganzoo.errors`.
"""
