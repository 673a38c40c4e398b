"""The condition ``y``: what side information a run accepts, and the one check of a value where it enters.

Mirza & Osindero 2014, Sec. 3.2: ``y`` is "any kind of auxiliary information".
Today a condition is a class index; :mod:`~cganzoo.conditions.labels` validates
labels wherever they enter (data sets, the Python API, the CLI, config files).

May import: :mod:`cganzoo.errors`.
"""
