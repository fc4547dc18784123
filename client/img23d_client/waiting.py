"""What the add-on waits on, and the one loop that waits for scripts and background mode. No bpy here.

Every wait on the backend (a job, a model-manager request, a run brought from the host) is a
``Wait``: ``step()`` does a bounded amount of work (pumps the session, reads what arrived) and
returns at once, so Blender's main thread never waits on the backend. Blender's operators step
it from a modal timer (``operators/_wait.py``, through ``tick``); modal operators never run in
background mode or from a script, so there ``wait_to_end`` steps it until it finishes. Tests
call ``tick`` and ``wait_to_end`` as the add-on does.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol


class Wait(Protocol):
    """One thing an operator waits on."""

    @property
    def finished(self) -> bool:
        """It ended (done, failed or cancelled): nothing more will come."""

    @property
    def status(self) -> str:
        """What it is doing, one line (the status bar adds how to cancel)."""

    @property
    def fraction(self) -> float:
        """How far it is, 0 to 1 (0 where it cannot tell)."""

    def step(self) -> None:
        """Handle what arrived; returns at once, never waits on the backend."""

    def cancel(self) -> None:
        """The artist asked to stop (Esc): it finishes soon, as cancelled."""


def tick(wait: Wait, cancel: bool = False) -> bool:
    """One timer tick: cancel first if asked (Esc), then step. True once it has finished."""
    if cancel and not wait.finished:
        wait.cancel()
    if not wait.finished:
        wait.step()
    return wait.finished


def wait_to_end(wait: Wait, poll: float = 0.05, timeout: float | None = None,
                on_step: Callable[[Wait], None] | None = None) -> None:
    """Scripts and background mode: step until it finishes, calling ``on_step(wait)`` after each step
    (background mode prints its progress so: ``progress_line.StatusPrinter``).

    With ``timeout`` (seconds), a wait still running then is cancelled and ``TimeoutError``
    raised, so a caller that must not wait forever (a pipeline, a test) hears why.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while not tick(wait):
        if on_step is not None:
            on_step(wait)
        if deadline is not None and time.monotonic() > deadline:
            wait.cancel()
            raise TimeoutError(f"{wait.status} did not end within {timeout:g} s; it was cancelled")
        time.sleep(poll)
