"""``python -m cganzoo``: the same as the ``cganzoo`` command (and what ``torchrun -m cganzoo`` runs)."""

import sys

from cganzoo.cli import main

sys.exit(main())
