"""How every operator waits on the backend: one modal timer that never blocks Blender.

An operator that waits (a job, a model-manager request, a run brought from the host) says what it
waits on (``begin_wait``: an ``img23d_client.waiting.Wait``, or None after reporting why not) and
what to do when it ends (``end_wait``); this mixin does the rest. From a button: a modal timer
ticks the wait (``waiting.tick``: it pumps the backend and returns at once), its progress goes to
the status bar and the progress cursor, Esc cancels it, and Blender stays responsive. From a
script or in background mode, where modal operators never run: ``waiting.wait_to_end`` steps the
same wait to its end, printing its progress to stderr in background mode (``progress_line``). Tests
step waits with those two functions.
"""

from __future__ import annotations

import sys
from typing import Any

import bpy
from img23d_client.progress_line import StatusPrinter
from img23d_client.waiting import Wait, tick, wait_to_end

TIMER_SECONDS = 0.1


class WaitingOperator:
    """Subclasses implement ``begin_wait(context)`` and ``end_wait(context, wait)``; they may
    override ``wait_released`` (free what the wait held, however it ended) and ``abandoned``."""

    redraw_areas: tuple[str, ...] = ("VIEW_3D",)
    _wait: Wait | None = None
    _timer: Any = None

    def begin_wait(self, context: bpy.types.Context) -> Wait | None:
        raise NotImplementedError

    def end_wait(self, context: bpy.types.Context, wait: Wait) -> set[str]:
        raise NotImplementedError

    def wait_released(self, wait: Wait) -> None:
        """``wait`` ended, finished or not: whatever it held (the runtime's job, a busy flag) is free."""

    def abandoned(self) -> bool:
        """The wait was taken away under the operator (the add-on was disabled, the backend stopped)."""
        return False

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Scripts and background mode: wait here until it ends."""
        wait = self.begin_wait(context)
        if wait is None:
            return {"CANCELLED"}
        try:
            # Background mode has no status bar: a headless script printed nothing until the end.
            wait_to_end(wait, on_step=StatusPrinter(sys.stderr) if bpy.app.background else None)
        finally:
            self.wait_released(wait)
        return self.end_wait(context, wait)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        return self.wait_modal(context)

    def wait_modal(self, context: bpy.types.Context) -> set[str]:
        """From a button: begin the wait and leave it to the modal timer."""
        wait = self.begin_wait(context)
        if wait is None:
            return {"CANCELLED"}
        self._wait = wait
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 1)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        wait = self._wait
        if wait is None or self.abandoned():
            self._stop_modal(context)
            return {"CANCELLED"}
        escape = event.type == "ESC" and event.value == "PRESS"
        if event.type != "TIMER" and not escape:
            return {"PASS_THROUGH"}
        if not tick(wait, cancel=escape):
            context.window_manager.progress_update(wait.fraction)
            _status(context, f"{wait.status} (Esc cancels)")
            self._redraw(context)
            return {"RUNNING_MODAL"} if escape else {"PASS_THROUGH"}
        self._stop_modal(context)
        self.wait_released(wait)
        return self.end_wait(context, wait)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ended the modal wait (a file was loaded, the window closed): stop waiting."""
        wait = self._wait
        self._stop_modal(context)
        if wait is not None:
            if not wait.finished:
                wait.cancel()
            self.wait_released(wait)

    def _stop_modal(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
            wm.progress_end()
            _status(context, None)
        self._wait = None
        self._redraw(context)

    def _redraw(self, context: bpy.types.Context) -> None:
        redraw(context, self.redraw_areas)


def redraw(context: bpy.types.Context, area_types: tuple[str, ...]) -> None:
    """Draw every area of these types again, in every window (none in background mode)."""
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in area_types:
                area.tag_redraw()


def _status(context: bpy.types.Context, text: str | None) -> None:
    workspace = context.workspace
    if workspace is not None:
        workspace.status_text_set(text)
