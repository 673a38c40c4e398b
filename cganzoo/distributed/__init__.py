"""Where a run executes: the device, the process group (DDP) and the ``torchrun`` launch.

* :mod:`~cganzoo.distributed.device`: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` resolved once;
* :mod:`~cganzoo.distributed.context`: the process context (rank, world size, DDP wrapping, sharded batches);
* :mod:`~cganzoo.distributed.launch`: ``cganzoo run --nproc N`` through ``torchrun``.

May import: :mod:`cganzoo.data`, :mod:`cganzoo.config`, :mod:`cganzoo.io`, :mod:`cganzoo.errors`.
"""
