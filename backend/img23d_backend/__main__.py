"""``python -m img23d_backend``: see ``cli``."""

import sys

from .commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
