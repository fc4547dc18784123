"""A process's tree, recorded while it runs and checked gone after it ended (psutil): what the
tests of a backend's workers use (issue 46, item 5). Tests end only the processes they recorded."""

from __future__ import annotations

import time

import psutil

WORKER = "spawn_main"                # a multiprocessing worker's command line (the UV unwrap's)
TRACKER = "resource_tracker"         # multiprocessing's resource tracker's


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone meanwhile
        return ""


def running(process: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie has ended: only its parent's wait is missing)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def with_workers(pid: int) -> list[psutil.Process] | None:
    """``pid`` and its descendants once a worker and the resource tracker are among them; else None."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    commands = [command(process) for process in tree]
    if any(WORKER in text for text in commands) and any(TRACKER in text for text in commands):
        return tree
    return None


def left_alive(tree: list[psutil.Process], within: float) -> list[str]:
    """Which of ``tree`` still run after ``within`` seconds (as soon as none does, at once)."""
    deadline = time.monotonic() + within
    while True:
        alive = [process for process in tree if running(process)]
        if not alive or time.monotonic() > deadline:
            return [f"{process.pid} {command(process)[-80:]}" for process in alive]
        time.sleep(0.1)


def kill_all(tree: list[psutil.Process]) -> None:
    """End what is left of ``tree`` (a test's clean-up after a failure)."""
    for process in tree:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
