"""How busy this process is: the CPU seconds it and its live children have used (psutil's), for a
stage's heartbeat (``heartbeat``) to tell a long step at work from a stuck one."""

from __future__ import annotations

import psutil


def busy_seconds(process: psutil.Process | None = None) -> float:
    """CPU seconds (user and system) this process and its live children have used so far."""
    process = process or psutil.Process()
    total = 0.0
    for each in [process, *_children(process)]:
        try:
            times = each.cpu_times()
        except psutil.Error:  # a child that ended meanwhile
            continue
        total += times.user + times.system
    return total


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []
