"""A job's progress as one line for Blender's status bar, and as printed lines for a script in background mode.
No bpy here.

A stage says at step 0 what it will do and how long it expects to take ("making a 1024 x 1024 picture from the
prompt: 2 min expected on cuda"), then its start and its heartbeats follow, at step 0 too, each the newest
progress. The status bar showed the newest only, so the estimate the guide promises was replaced within the same
tick. ``ProgressLine`` keeps a stage's announcement readable, before what came after it, until the next stage
starts. Which step-0 lines are no announcement is the backend's own wording (``jobs/base.py``'s ``stage``): its
start, "<stage>...", and its heartbeat, "<stage>: still working, N s so far". An estimate the backend says as a
progress of its own (``ESTIMATE_STAGE``: a Generate's every stage, a picture's, a split's) comes just before the
stage it is about, whose first line replaced it at once: it is kept as that stage's announcement.

``StatusPrinter``: a script run with ``blender -b`` had no status bar and printed nothing until the job's end;
it gets a line for each stage and each announcement, and the newest state at most every ``QUIET_SECONDS`` between.
"""

from __future__ import annotations

import time
from typing import Any, Callable, TextIO

from img23d_protocol import ESTIMATE_STAGE

STATUS_CHARS = 240        # a status line's length at most (the announcement is kept whole before the rest)
QUIET_SECONDS = 30.0      # background mode: within one stage, a line at most this often
_HEARTBEAT = ": still working, "
_START = "..."


def is_announcement(step: int, message: str) -> bool:
    """Whether a progress line is a stage's announcement: at step 0, neither its start nor its heartbeat."""
    text = message.strip()
    return step == 0 and bool(text) and not text.endswith(_START) and _HEARTBEAT not in text


class ProgressLine:
    """One job's progress (``add`` each ``Progress`` of it, in order) as its status line (``text``)."""

    def __init__(self) -> None:
        self.stage = ""
        self.told = ""        # the stage's announcement: readable until the next stage starts
        self.latest = ""
        self._estimate = False   # ``told`` is an estimate (``ESTIMATE_STAGE``), kept into the stage it comes before

    def add(self, progress: Any) -> None:
        """Take one ``protocol.Progress`` (its fields from another process: anything but text is left out)."""
        stage = progress.stage if isinstance(progress.stage, str) else ""
        message = progress.message if isinstance(progress.message, str) else ""
        if stage == ESTIMATE_STAGE and message.strip():
            self.stage, self.told, self.latest, self._estimate = stage, message, message, True
            return
        if stage != self.stage:
            carried = self._estimate and self.stage == ESTIMATE_STAGE   # the stage it was said before
            self.stage, self.told, self._estimate = stage, self.told if carried else "", carried
        if isinstance(progress.step, int) and is_announcement(progress.step, message) and not self._estimate:
            self.told = message
        self.latest = message

    @property
    def headline(self) -> tuple[str, str]:
        """What a printed line is due for: the stage and its announcement."""
        return self.stage, self.told

    @property
    def text(self) -> str:
        """"<stage>: <announcement> (<newest>)", or "<stage>: <newest>" while the stage has announced nothing."""
        told, latest = self.told, self.latest
        if not told:
            return f"{self.stage}: {latest}"[:STATUS_CHARS]
        # The stage's start says no more than its name; its first words are within an estimate said before it.
        if not latest.strip() or latest.strip().endswith(_START) or latest.strip() in told:
            return f"{self.stage}: {told}"[:STATUS_CHARS]
        head = f"{self.stage}: {told}"
        room = STATUS_CHARS - len(head) - 3
        return head if room < 8 else f"{head} ({latest[:room]})"


class StatusPrinter:
    """Background mode's progress (``waiting.wait_to_end``'s ``on_step``): a wait's status printed to ``stream``
    when its headline (``ProgressLine.headline``, where the wait has one) changes, and otherwise at most every
    ``quiet_seconds`` while it changes."""

    def __init__(self, stream: TextIO, quiet_seconds: float = QUIET_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._last = ""
        self._headline: Any = None
        self._printed = float("-inf")

    def __call__(self, wait: Any) -> None:
        text = wait.status
        headline = getattr(wait, "headline", None)
        if text == self._last:
            return
        now = self.clock()
        if headline == self._headline and now - self._printed < self.quiet_seconds:
            return
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last, self._headline, self._printed = text, headline, now
