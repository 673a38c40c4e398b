"""Train the reference judges that ship inside the package (``cganzoo/evaluation/judges/``).

A judge trained on first use gives other weights on another CPU (other SIMD
kernels round differently), so judge-based numbers would compare only within
one machine. The reference judges for MNIST and Fashion-MNIST are trained once,
with the project's own :func:`~cganzoo.evaluation.judge.train_judge` and the
data sets' reference recipes, and shipped as ``<dataset>.safetensors`` plus a
``<dataset>.json`` record (recipe, data sha256, test accuracy, weights sha256,
the command below, torch version, CPU). :func:`~cganzoo.evaluation.judge.load_or_train_judge`
uses them whenever the data's checksum and the recipe match.

Usage (one thread, about 2-3 minutes of CPU per data set)::

    OMP_NUM_THREADS=1 python -m cganzoo.evaluation.make_reference_judges --dataset mnist
    OMP_NUM_THREADS=1 python -m cganzoo.evaluation.make_reference_judges --dataset fashion-mnist \\
        --data-dir /usr/share/datasets/fashion-mnist

``--data-dir`` names a directory holding the four IDX files (Debian's
``dataset-fashion-mnist`` package installs Fashion-MNIST's official ones
there); they are read through a temporary directory, so nothing is written
next to them. ``--out DIR`` writes elsewhere than the package's ``judges/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

import torch

from cganzoo.components.factory import create_dataset
from cganzoo.evaluation.judge import SHIPPED_JUDGES_DIR, recipe_for, save_shipped_judge, train_judge

#: The data sets whose reference judges ship with cganzoo.
DATASETS = ("mnist", "fashion-mnist")


def cpu_description() -> str:
    """The CPU model and the SIMD level torch dispatches to, e.g. ``'AMD EPYC (x86_64), torch CPU capability AVX512'``."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()
    return f"{model} ({platform.machine()}), torch CPU capability {capability}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cganzoo.evaluation.make_reference_judges",
                                     description="Train a reference judge to ship with cganzoo.")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory holding the data set's four IDX files (default: the data cache)")
    parser.add_argument("--out", type=Path, default=SHIPPED_JUDGES_DIR, help="where to write NAME.safetensors/json")
    args = parser.parse_args(argv)
    command = "OMP_NUM_THREADS=1 python -m cganzoo.evaluation.make_reference_judges " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    with tempfile.TemporaryDirectory(prefix="cganzoo-judge-data-") as temp:
        data_dir = None
        if args.data_dir is not None:
            # Read hand-placed files through links so the data cache is written here, not next to them.
            data_dir = Path(temp)
            for f in args.data_dir.expanduser().resolve().iterdir():
                if f.is_file():
                    (data_dir / f.name).symlink_to(f)
        data = create_dataset(args.dataset, data_dir=data_dir)
        recipe = recipe_for(data)
        judge = train_judge(data, recipe, device="cpu")
    judge.record.update({
        "command": command,
        "cpu": cpu_description(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
    })
    weights, record = save_shipped_judge(judge, args.out)
    print(f"{args.dataset}: test accuracy {judge.test_accuracy:.4f}, weights sha256 {judge.checksum}")
    print(f"wrote {weights} and {record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
