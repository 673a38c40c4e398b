"""Components: how a registered name becomes an object.

* :mod:`~cganzoo.components.discovery`: plugins found through the ``cganzoo`` entry-point group (pluggy);
* :mod:`~cganzoo.components.registry`: names -> factories, each with its pydantic options model;
* :mod:`~cganzoo.components.factory`: ``create_*`` and ``list_*`` (the timm pattern);
* :mod:`~cganzoo.components.composition`: ``G(z, y)`` and ``D(x, y)`` from a conditioner and a network;
* :mod:`~cganzoo.components.compatibility`: the one rulebook of which components may train together;
* :mod:`~cganzoo.components.layers`: layers network plugins share (conditional BatchNorm, spectral norm);
* :mod:`~cganzoo.components.randomness`: every random draw a component makes (latent prior, batch noise);
* :mod:`~cganzoo.components.sampling`: sample grids, one row per class.

May import: :mod:`cganzoo.config`, :mod:`cganzoo.interfaces`, :mod:`cganzoo.hookspecs`,
:mod:`cganzoo.conditions`, :mod:`cganzoo.io`, :mod:`cganzoo.errors`; never data,
training, evaluation, runs or the front doors.
"""
