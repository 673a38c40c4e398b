"""Run the benchmark suite: ``python benchmarks/run.py [cganzoo bench options]``.

The same as ``cganzoo bench``; the runner itself lives in :mod:`cganzoo.bench`
so that the installed command can reach it. See ``benchmarks/README.md``.
"""

import sys

from cganzoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
