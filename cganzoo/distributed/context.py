"""Data-parallel training on PyTorch's own engine: ``torch.distributed``, DDP, ``torchrun``.

``torchrun --nproc_per_node N -m cganzoo run ...`` (or ``cganzoo run --nproc N``,
which launches torchrun, see :mod:`cganzoo.distributed.launch`) starts N processes
("ranks"). Each finds its rank in the environment torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins one
process group: NCCL when training on CUDA (rank ``r`` on ``cuda:LOCAL_RANK``),
gloo on CPU. Outside torchrun, or with one rank, nothing here talks to another
process and the runner computes exactly what it computes alone.

How one step is split across ``N`` ranks (``B = batch_size``, the *global* batch):

* **Data.** Every rank computes the same epoch permutation,
  :func:`cganzoo.data.batches.epoch_permutation` ``(num_images, seed, epoch)``, and cuts
  it into the same global batches of ``B`` indices. Rank ``r`` keeps the
  contiguous shard ``[r * B/N, (r + 1) * B/N)`` of each, so the ranks' shards are
  disjoint and together are exactly the global batch. ``B`` must be divisible by
  ``N`` and the last incomplete batch is dropped (``drop_last``), so every
  shard has the same size.
* **Noise.** The noise generator is seeded from the run seed identically on
  every rank; each rank draws the *global* batch's ``z`` ``(B, latent_dim)`` and
  generated labels ``(B,)`` and keeps its shard. Which ``z`` goes with which
  position of the global batch therefore does not depend on ``N``, and the
  generator's state is the same on every rank (a checkpoint needs only one).
* **Gradients.** ``DistributedDataParallel`` averages gradients over ranks.
  Every adversarial loss is a mean over its rank's ``B/N`` samples, and the
  mean of ``N`` equal-sized shard means is the mean over the global batch, so
  the update equals the single-process update on the global batch (up to float
  summation order) for any model whose forward pass treats samples
  independently. BatchNorm does not (its statistics are per rank unless
  ``sync_batchnorm``), nor does dropout (its masks come from per-rank seeds).
* **Per-rank seeds.** torch's global generator (dropout, any component's
  unseeded draws) is reseeded on rank ``r`` before step ``s`` with
  :func:`rank_step_seed` ``(seed, r, s)``: ranks draw different masks, and a
  run resumed at step ``s`` draws what it would have drawn uninterrupted.
* **Outputs.** Rank 0 alone writes config, metrics, samples and checkpoints and
  shows progress. Logged losses are averaged over ranks; images/s counts the
  global batch (all ranks' shards) against rank 0's training clock.
* **Failures.** Every collective has a timeout (``dist_timeout_s``); a rank that
  dies is noticed by torchrun, which stops the others. A collective that fails
  or times out becomes :class:`~cganzoo.errors.DistributedError`, one line naming
  the rank.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator, TypeVar

import torch
from torch import nn

from cganzoo.data.batches import EpochBatches
from cganzoo.errors import CganzooError, ConfigError, DistributedError, describe

T = TypeVar("T")

#: Environment variables torchrun sets for every worker.
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

#: Mixed into the run seed for per-rank seeds, so they never share a stream with the
#: noise generator, the shuffle or the sample grid's fixed noise.
_RANK_STREAM = 0xD1_57_5EED


def launched_by_torchrun() -> bool:
    """Whether this process is a torchrun worker (``TORCHELASTIC_RUN_ID`` or ``RANK`` is set)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "RANK" in os.environ


def rank_step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of torch's global generator on ``rank`` before ``step``.

    A pure function of its arguments (a SplitMix64-style mix), so per-rank
    streams are independent of each other and of the world size, and a
    resumed run can recompute them.

    Returns:
        An int in ``[0, 2**63)``.
    """
    x = (seed * 0x9E3779B97F4A7C15 + (rank + 1) * 0xBF58476D1CE4E5B9 + step * 0x94D049BB133111EB + _RANK_STREAM)
    x &= 2**64 - 1
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        x = ((x ^ (x >> shift)) * mult) & (2**64 - 1)
    return (x ^ (x >> 31)) % 2**63


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise DistributedError(f"environment variable {name} is not set; launch with torchrun (see docs/distributed.md)")
        return default
    try:
        return int(value)
    except ValueError:
        raise DistributedError(f"environment variable {name}={value!r} is not an integer") from None


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a data-parallel job.

    A single process is the context ``DistContext(device=...)``: rank 0 of 1,
    every method a no-op that returns its input.

    Attributes:
        device: This rank's training device (``cuda:LOCAL_RANK`` under torchrun on CUDA).
        rank: Global rank in ``[0, world_size)``.
        world_size: Number of ranks.
        local_rank: Rank on this node (picks the GPU).
        backend: ``"nccl"`` or ``"gloo"``; ``None`` when not distributed.
        timeout_s: Timeout of every collective, in seconds.
    """

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    timeout_s: float = 600.0

    @property
    def enabled(self) -> bool:
        """True when there is more than one rank (a process group exists)."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one rank that writes outputs."""
        return self.rank == 0

    # -- splitting the global batch ------------------------------------------------------------

    def check_batch(self, batch_size: int, drop_last: bool) -> None:
        """Check that a global batch splits evenly over this job's ranks (:func:`check_batch_split`)."""
        if self.enabled:
            check_batch_split(batch_size, drop_last, self.world_size)

    def shard(self, global_size: int) -> slice:
        """This rank's contiguous slice of a global batch of ``global_size`` (divisible by the world size)."""
        per_rank = global_size // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def epoch_batches(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int, *,
                      drop_last: bool = True, device: torch.device | str = "cpu", min_batch: int = 1,
                      batches_per_step: int = 1) -> EpochBatches:
        """The batches this rank trains on: its shard of every global batch.

        Args:
            images: uint8 ``(N, C, H, W)`` (the whole training set, on every rank).
            labels: int64 ``(N,)``.
            batch_size: The global batch.
            seed: Run seed (the shuffle of epoch ``e`` is ``epoch_permutation(N, seed, e)``).
            drop_last: Drop each epoch's last incomplete global batch.
            device: Where batches live.
            min_batch: Smallest last batch kept with one rank (see :class:`EpochBatches`);
                several ranks always drop the last incomplete batch.
            batches_per_step: Batches per training step (one per D update); each
                rank takes its shard of each of them.

        Returns:
            An :class:`EpochBatches` (one rank) or :class:`ShardedEpochBatches`;
            ``len()`` is the number of *global* steps per epoch either way.
        """
        if not self.enabled:
            return EpochBatches(images, labels, batch_size, seed, drop_last=drop_last, device=device,
                                min_batch=min_batch, batches_per_step=batches_per_step)
        return ShardedEpochBatches(images, labels, batch_size, seed, rank=self.rank, world_size=self.world_size,
                                   drop_last=drop_last, device=device, batches_per_step=batches_per_step)

    def seed_step(self, seed: int, step: int) -> None:
        """Reseed torch's global generator for ``step`` on this rank (see :func:`rank_step_seed`).

        A no-op with one rank, where the global generator runs on as it always has
        (and is restored exactly from a checkpoint).
        """
        if self.enabled:
            torch.manual_seed(rank_step_seed(seed, self.rank, step))

    # -- models --------------------------------------------------------------------------------

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in ``DistributedDataParallel`` (the module itself with one rank).

        DDP broadcasts rank 0's parameters and buffers once here, then
        averages gradients during ``backward()``. Keep using the unwrapped
        module for anything but training forward passes (sampling, checkpoints,
        a forward whose parameters are frozen).
        """
        if not self.enabled:
            return module
        device_ids = [self.device] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    # -- reductions and coordination -----------------------------------------------------------

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Average ``values`` (any shape, on this rank's device) over ranks; the input itself with one rank."""
        if not self.enabled:
            return values
        out = values.detach().clone()
        torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
        return out.div_(self.world_size)

    def barrier(self) -> None:
        """Wait for every rank (bounded by the timeout)."""
        if self.enabled:
            torch.distributed.barrier()

    def main_then_share(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 and hand its result (or its cganzoo error) to every rank.

        For work only rank 0 may do (checking and creating the run directory,
        reading a checkpoint): an error it raises on rank 0 is raised on every
        rank, rather than leaving the others waiting for a step that never
        comes. Objects travel pickled between the ranks of this job (never from
        a file).

        Raises:
            CganzooError: whatever ``fn`` raised on rank 0.
        """
        if not self.enabled:
            return fn()
        box: list[Any] = [None]
        if self.is_main:
            try:
                box = [("ok", fn())]
            except CganzooError as exc:
                box = [("error", exc)]
        torch.distributed.broadcast_object_list(box, src=0, device=self._object_device)
        kind, value = box[0]
        if kind == "error":
            raise value
        return value

    def local_main_first(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on each node's local rank 0 first, then on the other ranks.

        For loading a data set: the first process on a node fills the node's
        cache, the others then read it instead of all downloading at once. An
        error raised by a first process is raised on every rank.

        Raises:
            CganzooError: what ``fn`` raised on the first rank that failed.
        """
        if not self.enabled:
            return fn()
        first = self.local_rank == 0
        result: Any = None
        error: CganzooError | None = None
        if first:
            try:
                result = fn()
            except CganzooError as exc:
                error = exc
        errors: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(errors, error)
        for exc in errors:
            if exc is not None:
                raise exc
        return result if first else fn()

    @property
    def _object_device(self) -> torch.device | None:
        return self.device if self.backend == "nccl" else None

    def describe(self, batch_size: int) -> str:
        """One line for the log: ranks, backend, how the global batch splits."""
        return (f"cganzoo: {self.world_size} ranks ({self.backend}, {self.device.type}): global batch {batch_size} "
                f"= {self.world_size} x {batch_size // self.world_size} per rank")

    def record(self, batch_size: int, sync_batchnorm: bool) -> dict[str, Any]:
        """What ``config.json`` records about the job's layout."""
        return {"world_size": self.world_size, "backend": self.backend, "global_batch_size": batch_size,
                "per_rank_batch_size": batch_size // self.world_size, "sync_batchnorm": sync_batchnorm,
                "timeout_s": self.timeout_s}


class ShardedEpochBatches(EpochBatches):
    """One rank's shard of every global batch of an epoch.

    Global batch ``i`` of epoch ``e`` is ``perm[i * B:(i + 1) * B]`` with
    ``perm = epoch_permutation(N, seed, e)``, exactly as for one process;
    rank ``r`` of ``W`` yields its ``[r * B/W, (r + 1) * B/W)`` part.

    Args:
        images, labels, batch_size, seed, drop_last, device, dtype: as for
            :class:`EpochBatches`; ``batch_size`` is the global batch.
        rank: This rank.
        world_size: Number of ranks (divides ``batch_size``).

    Raises:
        ValueError: ``batch_size`` is not divisible by ``world_size``, or
            ``drop_last`` is off.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int, *, rank: int,
                 world_size: int, drop_last: bool = True, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32, batches_per_step: int = 1) -> None:
        if batch_size % world_size or not drop_last:
            raise ValueError(f"global batch {batch_size} must split evenly over {world_size} ranks, with drop_last")
        super().__init__(images, labels, batch_size, seed, drop_last=drop_last, device=device, dtype=dtype,
                         batches_per_step=batches_per_step)
        self.rank, self.world_size = rank, world_size

    def batch_slice(self, i: int) -> slice:
        """This rank's part of global batch ``i``: ``[i B + r B/W, i B + (r + 1) B/W)`` of the permutation."""
        per_rank = self.batch_size // self.world_size
        first = i * self.batch_size + self.rank * per_rank
        return slice(first, first + per_rank)


def check_batch_split(batch_size: int, drop_last: bool, world_size: int) -> None:
    """Check that a global batch splits evenly over ``world_size`` ranks.

    Raises:
        ConfigError: ``batch_size`` is not divisible by the world size, or
            ``drop_last`` is off with more than one rank (the last batch
            could not be split evenly).
    """
    if batch_size % world_size:
        lower = batch_size - batch_size % world_size
        raise ConfigError(
            f"batch_size {batch_size} (the global batch) does not split over {world_size} ranks; "
            f"use a multiple of {world_size}, e.g. {max(lower, world_size)}"
        )
    if not drop_last:
        raise ConfigError(f"drop_last must be true with {world_size} ranks: every rank needs an equal shard")


def check_multi_rank_config(config: Any, device: torch.device) -> None:
    """Refuse run settings that cannot work on several ranks, before any rank trains.

    Called by the runner under torchrun and by ``cganzoo run --nproc`` before it
    launches anything.

    Raises:
        ConfigError: ``sync_batchnorm`` off CUDA (torch's SyncBatchNorm has no CPU
            implementation), or ``cuda_graphs`` (a captured step cannot hold DDP's
            gradient all-reduce).
    """
    if config.sync_batchnorm and device.type != "cuda":
        raise ConfigError("sync_batchnorm needs CUDA: torch's SyncBatchNorm has no CPU implementation; "
                          "drop --sync-batchnorm for gloo/CPU runs")
    if config.cuda_graphs:
        raise ConfigError("cuda_graphs cannot capture a step whose gradients DDP averages across ranks; "
                          "drop --cuda-graphs when training on several ranks")


# -- process group lifetime --------------------------------------------------------------------


def init_distributed(device: torch.device, timeout_s: float = 600.0) -> DistContext:
    """Join the process group torchrun described in the environment, if any.

    Args:
        device: The resolved training device (``resolve_device(config.device)``).
            Under torchrun a CUDA device becomes ``cuda:LOCAL_RANK``.
        timeout_s: Timeout of every collective in seconds (also the NCCL watchdog's).

    Returns:
        The context; a single-process one (no process group) outside torchrun
        or when ``WORLD_SIZE`` is 1.

    Raises:
        ConfigError: an explicit ``cuda:N`` with several ranks on a node.
        DistributedError: the environment is incomplete, or the rendezvous failed.
    """
    if not launched_by_torchrun():
        return DistContext(device=device, timeout_s=timeout_s)
    world_size = _env_int("WORLD_SIZE")
    rank = _env_int("RANK")
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size <= 1:
        return DistContext(device=device, timeout_s=timeout_s)
    if device.type == "cuda":
        local_world = _env_int("LOCAL_WORLD_SIZE", 1)
        if device.index is not None and local_world > 1:
            raise ConfigError(
                f"device 'cuda:{device.index}' names one GPU for {local_world} ranks on this node; "
                f"use --device cuda (or auto): rank r uses cuda:LOCAL_RANK"
            )
        if device.index is None:
            if local_rank >= torch.cuda.device_count():
                raise ConfigError(f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}")
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        # A NCCL collective past the timeout is caught by torch's watchdog thread, which
        # tears the process down (TORCH_NCCL_ASYNC_ERROR_HANDLING, default 3); torchrun
        # then stops the others. No Python exception is raised on that path.
        backend = "nccl"
    else:
        backend = "gloo"
    try:
        kwargs: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
        torch.distributed.init_process_group(backend, timeout=timedelta(seconds=timeout_s), rank=rank,
                                             world_size=world_size, **kwargs)
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"rank {rank} of {world_size} could not join the process group ({backend}): "
                               f"{describe(exc, first_sentence=True, typed=False)}") from exc
    return DistContext(device=device, rank=rank, world_size=world_size, local_rank=local_rank, backend=backend,
                       timeout_s=timeout_s)




#: Text of errors torch raises when a peer or a collective fails (gloo raises plain RuntimeError).
_COLLECTIVE_FAILURE_MARKS = ("gloo", "nccl", "timed out", "connection closed", "connection reset",
                             "broken pipe", "process group", "processgroup")


def is_collective_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says a collective failed (peer gone, timeout, network), rather than a bug."""
    dist_error = getattr(torch.distributed, "DistError", None)
    if dist_error is not None and isinstance(exc, dist_error):
        return True
    return isinstance(exc, RuntimeError) and any(mark in str(exc).lower() for mark in _COLLECTIVE_FAILURE_MARKS)


#: Set when a collective of this process failed; read by ``python -m cganzoo`` on the way out.
_GROUP_BROKEN = False


def group_broken() -> bool:
    """Whether a collective of this process failed, leaving its process group unusable.

    Such a process must exit without the interpreter's teardown: destroying a
    gloo or NCCL group whose peer died can end in ``std::terminate`` from a
    worker thread ("terminate called without an active exception", SIGABRT),
    which replaces exit code 75 and makes the launcher blame this rank for the
    failure of another (seen on CI: rank 1 died with exit code 3, rank 0 was
    reported as "failed first, killed by signal 6").
    """
    return _GROUP_BROKEN


@contextlib.contextmanager
def distributed_session(device: torch.device, timeout_s: float = 600.0) -> Iterator[DistContext]:
    """Join the torchrun process group for the duration of a run, then leave it.

    A collective that fails inside (a rank died, hung past ``timeout_s``, or the
    network broke) is re-raised as :class:`DistributedError` naming this rank.
    The group is destroyed on the way out unless a collective failed (tearing
    down a broken NCCL communicator can hang; the process is exiting anyway).

    Yields:
        The :class:`DistContext` (single-process outside torchrun).
    """
    ctx = init_distributed(device, timeout_s)
    broken = False
    try:
        yield ctx
    except CganzooError:
        raise
    except Exception as exc:
        if ctx.enabled and is_collective_failure(exc):
            global _GROUP_BROKEN
            broken = _GROUP_BROKEN = True
            raise DistributedError(
                f"rank {ctx.rank} of {ctx.world_size}: a collective failed: {describe(exc, first_sentence=True, typed=False)}. Another rank "
                f"died, stalled for more than {ctx.timeout_s:g} s (--dist-timeout), or the network broke; "
                f"the other ranks' messages may say which"
            ) from exc
        raise
    finally:
        if ctx.enabled and not broken and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
