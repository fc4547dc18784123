"""``python -m img23d_backend``: see ``cli``."""

import os
import sys

from .commands.cli import main
from .env.collector import collect_less_often, skip_final_collection

EXIT_BROKEN_PIPE = 128 + 13  # as a command killed by SIGPIPE ends in a shell

if __name__ == "__main__":
    collect_less_often()  # before the command imports torch (cli's own imports are the standard library's)
    try:
        code = main()
    except BrokenPipeError:
        # Its reader went away (``models | head -5``): stop quietly, as a command in a pipe does, not with a
        # traceback; stdout goes nowhere from here, so the flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    skip_final_collection()  # about a CPU-second less on the way out of a process holding torch
    sys.exit(code)
