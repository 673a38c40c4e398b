"""``python -m cganzoo``: the same as the ``cganzoo`` command (and what ``torchrun -m cganzoo`` runs)."""

import os
import sys

from cganzoo.cli import main
from cganzoo.distributed.context import group_broken

code = main()
if group_broken():  # a rank whose peers are gone: leave with its exit code, skip the group's C++ teardown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
