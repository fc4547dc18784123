"""How the backend ended, from its exit status, in words an artist can act on. No bpy here.

"exit code -9" says nothing to an artist. The status of a process ended by a signal names the
signal: negative from Python's ``subprocess`` (the backend here, or the ``ssh`` client), 128 + N
from a shell (the host's, which runs the backend over SSH) or from the backend itself (its exit
after SIGTERM is 143). SIGKILL comes with what most often sends it, the system's out-of-memory
killer; and every sentence says what stays and what the next job does. A link to a host that
went after the backend had answered is ``remote.lost_link``'s.
"""

from __future__ import annotations

import signal

SIGNAL_STATUS_BASE = 128   # a shell's status for a command ended by signal N is 128 + N
LAST_SIGNAL = 64           # the highest signal number on Linux (SIGRTMAX)


def signal_name(returncode: int | None) -> str | None:
    """The signal that ended a process with status ``returncode`` ("SIGKILL"); None for an exit of its own."""
    if returncode is None:
        return None
    if returncode < 0:
        number = -returncode
    elif SIGNAL_STATUS_BASE < returncode <= SIGNAL_STATUS_BASE + LAST_SIGNAL:
        number = returncode - SIGNAL_STATUS_BASE
    else:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:  # no name here (Windows has few)
        return f"signal {number}"


def killed(where: str, name: str, tail: str = "") -> str:
    """The backend on ``where`` was ended by the signal ``name``: one sentence, then its log's last lines."""
    if name == "SIGKILL":
        how = "was killed by SIGKILL (most often the system's out-of-memory killer: memory ran out)"
    else:
        how = f"was ended by {name}"
    return (f"the backend on {where} {how}; what already arrived stays, and the next job starts a new backend"
            + (f":\n{tail}" if tail else ""))
