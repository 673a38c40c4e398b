"""``cganzoo run --nproc N``: start the same run on N processes with torchrun.

This builds a ``torch.distributed.run`` (torchrun) command line and runs it in
this process, exactly as if one had typed::

    torchrun --nproc-per-node N [--nnodes ... rendezvous ...] -m cganzoo run <the same run flags>

torchrun starts the workers, gives each its rank, watches them, and stops all of
them when one fails (no restarts: ``--max-restarts 0``). Nothing here is a
launcher of our own; see :mod:`cganzoo.distributed.context` for what the workers do.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, Sequence

from cganzoo.errors import CganzooError, ConfigError, DistributedError

#: dest -> (flag, metavar, help). Every one is handed to torchrun, none to the workers.
LAUNCH_OPTIONS: dict[str, tuple[str, str, str]] = {
    "nproc": ("--nproc", "N", "launch N processes on this node with torchrun (int, or gpu | cpu | auto as torchrun "
                              "takes them); the global --batch-size is split over all processes of all nodes"),
    "nnodes": ("--nnodes", "N", "number of nodes, or MIN:MAX (torchrun --nnodes; default 1)"),
    "node_rank": ("--node-rank", "R", "rank of this node for static rendezvous (torchrun --node-rank)"),
    "rdzv_backend": ("--rdzv-backend", "NAME", "rendezvous backend, e.g. c10d (torchrun --rdzv-backend)"),
    "rdzv_endpoint": ("--rdzv-endpoint", "HOST:PORT", "rendezvous endpoint (torchrun --rdzv-endpoint)"),
    "rdzv_id": ("--rdzv-id", "ID", "job id shared by all nodes (torchrun --rdzv-id)"),
    "master_addr": ("--master-addr", "HOST", "address of node rank 0 for static rendezvous (torchrun --master-addr)"),
    "master_port": ("--master-port", "PORT", "port on node rank 0 for static rendezvous (torchrun --master-port)"),
}

_NPROC_WORDS = ("gpu", "cpu", "auto")


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the torchrun launcher flags and the distributed run settings to ``cganzoo run``."""
    group = parser.add_argument_group(
        "distributed (torchrun)",
        "Run on several processes with DistributedDataParallel: `cganzoo run --nproc N ...` or "
        "`torchrun --nproc-per-node N -m cganzoo run ...` (see docs/distributed.md).")
    for dest, (flag, metavar, help_text) in LAUNCH_OPTIONS.items():
        group.add_argument(flag, dest=dest, metavar=metavar, help=help_text)
    group.add_argument("--sync-batchnorm", dest="sync_batchnorm", action="store_const", const=True, default=None,
                       help="BatchNorm statistics over the global batch (SyncBatchNorm; CUDA only)")
    group.add_argument("--dist-timeout", dest="dist_timeout_s", type=float, metavar="SECONDS",
                       help="seconds a rank waits for the others before the job fails (default 600)")


def check_no_launch_flags(args: argparse.Namespace) -> None:
    """Refuse torchrun's flags without ``--nproc``, rather than ignore them.

    Raises:
        ConfigError: names the first such flag.
    """
    for dest, (flag, _, _) in LAUNCH_OPTIONS.items():
        if dest != "nproc" and getattr(args, dest, None) is not None:
            raise ConfigError(f"{flag} is a torchrun option: give it with --nproc N (or to torchrun itself)")


def _world_size(args: argparse.Namespace) -> int | None:
    """Total ranks if both counts are plain integers, else ``None`` (torchrun decides)."""
    try:
        nproc = int(args.nproc)
        nnodes = int(args.nnodes) if args.nnodes else 1
    except ValueError:
        return None
    return nproc * nnodes


def check_launch_args(args: argparse.Namespace, batch_size: int) -> None:
    """Reject launcher flags torchrun would choke on, before any process starts.

    Raises:
        ConfigError: a bad ``--nproc``, a nested launch, or a global batch that
            does not split over the ranks.
    """
    from cganzoo.distributed.context import launched_by_torchrun

    if launched_by_torchrun():
        raise ConfigError("--nproc launches torchrun, but this process already runs under torchrun; "
                          "give the process count to torchrun only")
    nproc = str(args.nproc)
    if nproc not in _NPROC_WORDS and not (nproc.isdigit() and int(nproc) >= 1):
        raise ConfigError(f"--nproc must be a positive integer or one of {', '.join(_NPROC_WORDS)}, got {nproc!r}")
    world = _world_size(args)
    if world is not None and batch_size % world:
        raise ConfigError(
            f"--batch-size {batch_size} is the global batch and must split evenly over {world} processes; "
            f"use a multiple of {world}"
        )


def torchrun_argv(args: argparse.Namespace, worker_argv: Sequence[str]) -> list[str]:
    """torchrun's own arguments for ``args``'s launcher flags, then ``-m cganzoo`` and ``worker_argv``.

    One node without a rendezvous endpoint runs ``--standalone`` (torchrun picks
    a free port, so several jobs can share a machine).
    """
    argv = ["--nproc-per-node", str(args.nproc), "--max-restarts", "0"]
    multi = any(getattr(args, d) for d in ("nnodes", "node_rank", "rdzv_backend", "rdzv_endpoint", "rdzv_id",
                                             "master_addr", "master_port"))
    if not multi:
        argv.append("--standalone")
    for dest in ("nnodes", "node_rank", "rdzv_backend", "rdzv_endpoint", "rdzv_id", "master_addr", "master_port"):
        value = getattr(args, dest)
        if value:
            argv += [LAUNCH_OPTIONS[dest][0], str(value)]
    return argv + ["-m", "cganzoo", *worker_argv]


def worker_argv(args: argparse.Namespace, parser: argparse.ArgumentParser, **replace: Any) -> list[str]:
    """The ``cganzoo run`` command line each worker runs: every run flag the user gave, minus the launcher's.

    Args:
        args: Parsed ``cganzoo run`` arguments.
        parser: The ``run`` subparser (its actions say how each value is spelt).
        replace: Values to use instead of ``args``'s (e.g. ``out=...``).
    """
    out = ["run"]
    for action in parser._actions:  # every argument the parser knows (argparse has no public accessor)
        dest = action.dest
        if dest in LAUNCH_OPTIONS or dest == "help" or isinstance(action, argparse._HelpAction):
            continue
        value = replace.get(dest, getattr(args, dest, None))
        if value is None or value is False:
            continue
        if not action.option_strings:
            out.append(str(value))
        elif action.nargs == 0:
            out.append(action.option_strings[-1])
        elif isinstance(value, list):  # a repeatable flag (action="append"): once per value
            for item in value:
                out += [action.option_strings[-1], str(item)]
        else:
            out += [action.option_strings[-1], str(value)]
    return out


def launch(torchrun_args: Sequence[str]) -> int:
    """Run torchrun (``torch.distributed.run``) with ``torchrun_args`` in this process.

    Returns:
        0 when every rank finished; ``128 + signal`` when the launcher was
        interrupted (SIGINT, SIGTERM): torchrun forwards the signal, and the ranks
        stop together at their next log step after writing a checkpoint.

    Raises:
        CganzooError: a rank failed (exit code 1); the message names the rank that
            failed first, as opposed to those that only lost contact with it
            (exit code 75) or that torchrun stopped (SIGTERM).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    parsed = get_args_parser().parse_args(list(torchrun_args))
    print("cganzoo: launching: torchrun " + " ".join(torchrun_args), file=sys.stderr, flush=True)
    try:
        run(parsed)
    except ChildFailedError as exc:
        raise CganzooError(describe_failure(exc.failures)) from None
    except SignalException as exc:  # Ctrl-C or SIGTERM to the launcher: torchrun passed it on to the ranks
        name = signal.Signals(exc.sigval).name
        print(f"cganzoo: torchrun got {name} and stopped the ranks; rank 0's message above says where the last "
              f"checkpoint is and how to resume", file=sys.stderr)
        return 128 + int(exc.sigval)
    return 0


def describe_failure(failures: dict[int, Any]) -> str:
    """One line naming the rank that brought a torchrun job down.

    Args:
        failures: torchrun's global rank -> ``ProcessFailure`` (``local_rank``,
            ``exitcode``, ``timestamp``; a negative exit code is a signal).
    """
    lost = DistributedError.exit_code
    first_seen = min(failure.timestamp for failure in failures.values())

    def order(item: tuple[int, Any]) -> tuple[bool, bool, int, int]:
        rank, failure = item
        # torchrun stops the survivors with SIGTERM, then SIGKILL for a rank that does not
        # exit (one blocked in a collective, or stalled): signals after the first failure
        # are its doing. A rank that lost its peers (exit 75) is a consequence too.
        stopped_by_torchrun = failure.exitcode == -signal.SIGTERM or (
            failure.exitcode == -signal.SIGKILL and failure.timestamp > first_seen)
        return (stopped_by_torchrun, failure.exitcode == lost, failure.timestamp, rank)

    rank, failure = min(failures.items(), key=order)
    where = f"rank {rank} (local rank {failure.local_rank})"
    if failure.exitcode == lost:
        what = (f"lost contact with the other ranks (exit code {lost}: a collective failed or timed out, "
                f"so another rank died or stalled)")
    elif failure.exitcode < 0:
        what = f"failed first, killed by signal {-failure.exitcode} ({failure.signal_name()})"
    else:
        what = f"failed first, exit code {failure.exitcode}"
    return f"{where} {what}; torchrun stopped the other ranks. The ranks' own messages are above"
