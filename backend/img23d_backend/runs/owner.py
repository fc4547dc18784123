"""Who owns a run folder, an upload or a warm-up folder under a runs folder, or a batch folder's lock, and whether
that owner is gone.

A backend at start tidies what dead backends left in its runs folder: runs left "running" are marked
interrupted, their reserves removed, uploads and warm-up folders deleted; a batch takes over a batch folder's lock
(``batch/lock.py``) whose batch is gone. A runs folder (a batch's output folder) may be shared: by two
machines, by two machines of one host name (clones, containers with host networking), by two containers on
one kernel that each number their processes from 1. A process id names one process only within one boot of
one kernel and one pid namespace: its ``pid_space`` here (the boot id and the namespace; "" where the system
has neither). So an owner is recorded as its host name, that space, its pid and its process's start time, and
judged:

- in this pid space (the same host name and space): gone when no process has its pid, or the one that has it
  started at another time (the pid was given out again); alive otherwise, however long it has been quiet;
- anywhere else (another machine, another container, this machine before a reboot): by its lease
  (``lease.py``), which a live owner renews every 30 seconds: gone once it has lapsed for minutes;
- recorded by an older img23d (no lease): as that img23d judged it, by its pid (and its start time, where it
  kept one: a batch lock's) on a host of this name, and never on another host, where its pid means nothing.

A folder of its own (an upload's, a warm-up's) carries its owner in its name,
``<pid>-<machine>-<start time>-<random>`` (``folder_prefix``): ``<machine>`` is 8 hex digits of the host
name and pid space together, so that a backend elsewhere, whose pids are not this machine's, can tell.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lease import RENEW_SECONDS, expired

# How far apart two readings of one process's start time may be (psutil adds the boot time, in whole seconds
# that the clock's corrections move), and the folder names' whole seconds.
_SAME_START_SECONDS = 2.0


@dataclass(frozen=True)
class Owner:
    """The process that holds a folder, as its record names it."""

    host: str                      # "" in a record from before the host was kept
    pid: int | None
    pid_space: str = ""            # where ``pid`` names one process: the boot id and pid namespace
    started: float | None = None   # the process's start time (seconds since 1970): a reused pid has another
    lease: float | None = None     # how often it renews its folder's time; None: an older img23d, which renews none

    @classmethod
    def me(cls) -> "Owner":
        """This process (read once per process: a forked child is another)."""
        return _me(os.getpid())

    @classmethod
    def recorded(cls, data: dict[str, Any]) -> "Owner":
        """The owner a run's manifest data names, every field checked (another process wrote it)."""
        def value(key: str, kind: type | tuple[type, ...]) -> Any:
            item = data.get(key)
            return item if isinstance(item, kind) and not isinstance(item, bool) else None

        started, lease = value("pid_started", (int, float)), value("lease_seconds", (int, float))
        return cls(host=value("host", str) or "", pid=value("pid", int), pid_space=value("pid_space", str) or "",
                   started=started if started is not None and math.isfinite(started) else None,
                   lease=lease if lease is not None and math.isfinite(lease) and lease > 0 else None)

    def local(self) -> bool:
        """Whether this owner's pid names a process here, so that whether it runs can be seen: the same host name
        and pid space (an older img23d's, which kept no pid space: the same host name)."""
        here = Owner.me()
        if self.lease is None:  # an older img23d's: its host name was all it had
            return self.host in ("", here.host)
        return self.host == here.host and self.pid_space == here.pid_space

    def gone(self, path: Path) -> bool:
        """Whether this owner is provably not writing ``path`` (a folder, a lock file) any more: dead in this pid
        space, or its lease on ``path`` lapsed. An owner that cannot be judged is taken as alive."""
        if self.local():
            return not _running(self.pid, self.started)
        return self.lease is not None and expired(path, self.lease)

    def is_me(self) -> bool:
        """Whether this owner is this very process (a process of this pid space with its pid, started when it did):
        a machine of this host name elsewhere has processes of the same pids."""
        return self.local() and self.pid == os.getpid() and _running(self.pid, self.started)


def folder_prefix(who: Owner | None = None) -> str:
    """``<pid>-<machine>-<start time>-``: the start of the name of a folder that ``who`` (this process by
    default) owns (an upload's, a warm-up's), which ``folder_gone`` reads back."""
    who = who or Owner.me()
    return f"{who.pid}-{_machine(who.host, who.pid_space)}-{round(who.started or 0)}-"


def folder_gone(folder: Path) -> bool:
    """Whether the owner named by ``folder``'s name (``folder_prefix``) is gone; False for a name this code did
    not make. Names from older img23d: ``<pid>-<machine>-<random>`` (the host name alone), and
    ``<pid>-<random>`` (from before that), judged by their pid alone on a host of this name."""
    parts = folder.name.split("-")
    if not parts[0].isdigit():
        return False
    pid, here = int(parts[0]), Owner.me()
    if len(parts) == 4 and parts[2].isdigit():
        if parts[1] != _machine(here.host, here.pid_space):
            return expired(folder)  # another machine's, or another container's: its lease alone tells
        return not _running(pid, float(parts[2]))
    if len(parts) == 3:
        return parts[1] == _old_machine(here.host) and not _running(pid, None)
    return len(parts) == 2 and not _running(pid, None)


@functools.lru_cache(maxsize=2)
def _me(pid: int) -> Owner:
    return Owner(host=socket.gethostname(), pid=pid, pid_space=_pid_space(), started=_started(pid),
                 lease=RENEW_SECONDS)


def _pid_space() -> str:
    """Where this process's pid names it: the kernel's boot id and the pid namespace ("" without a boot id)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    if not boot:
        return ""  # no boot id (not Linux): the host name alone names the machine, as before
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]": a container's own numbering
    except OSError:
        namespace = ""
    return f"{boot}/{namespace}"


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return ""


def _machine(host: str, pid_space: str) -> str:
    return hashlib.sha256(f"{host}\0{pid_space}".encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _old_machine(host: str) -> str:
    return hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _running(pid: int | None, started: float | None) -> bool:
    """Whether process ``pid`` of this pid space runs, and is the one that started at ``started`` (when known)."""
    if pid is None:
        return False
    now = _started(pid)
    if now is None:
        return False
    # No start time recorded (0.0: one that could not be read) or none readable now: the pid alone tells.
    return not started or not now or abs(now - started) < _SAME_START_SECONDS


def _started(pid: int) -> float | None:
    """Process ``pid``'s start time; None when there is none (or a zombie), 0.0 when it cannot be read."""
    import psutil  # not at the top: the command line's parser imports the runs modules, and starts light

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.Error:
        return 0.0  # it exists, but its start time is not ours to read: taken as the one recorded
