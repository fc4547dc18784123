"""What every job operator shares: modal and non-blocking from a button, blocking from a
script or in background mode, one undo step, and reports instead of exceptions."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..job_runner import JobRunner, Outcome
import img23d_protocol as protocol
from ._inputs import InputError

TIMER_SECONDS = 0.1


class JobOperatorMixin:
    """Subclasses implement ``make_runner(context)`` and ``finish(context, outcome)``."""

    _timer: Any = None

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        raise NotImplementedError

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        raise NotImplementedError

    def _start(self, context: bpy.types.Context) -> JobRunner | None:
        if runtime.active_runner is not None and not runtime.active_runner.done:
            self.report({"ERROR"}, "A job is already running: wait for it or press Cancel")
            return None
        try:
            runner = self.make_runner(context)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return None
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return None
        runtime.active_runner = runner
        return runner

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Scripts and background mode: run the job to the end here."""
        runner = self._start(context)
        if runner is None:
            return {"CANCELLED"}
        try:
            outcome = runner.run_to_end()
        finally:
            runtime.active_runner = None
        return self.finish(context, outcome)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        if bpy.app.background:
            return self.execute(context)
        runner = self._start(context)
        if runner is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        runner = runtime.active_runner
        if runner is None:  # the add-on was disabled or the backend stopped under us
            self._end_modal(context)
            return {"CANCELLED"}
        if event.type == "ESC" and event.value == "PRESS":
            runner.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        done = runner.tick()
        _redraw(context)
        if not done:
            return {"PASS_THROUGH"}
        self._end_modal(context)
        runtime.active_runner = None
        return self.finish(context, runner.outcome)

    def _end_modal(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def report_outcome(self, outcome: Outcome, made_something: bool, note: str = "") -> set[str]:
        """Report how the job ended; ``note`` (if any) follows the summary of a job that finished."""
        cut_off = answer_cut_off_note(outcome.data)
        if cut_off:
            self.report({"WARNING"}, cut_off)
        for skipped in skipped_stage_notes(outcome.data):
            self.report({"WARNING"}, skipped)
        if outcome.failed_targets:
            self.report({"WARNING"}, "Some names failed: " + "; ".join(outcome.failed_targets))
        if outcome.cancelled:
            self.report({"WARNING"}, "Cancelled" + (f"; kept {len(outcome.objects)} object(s)"
                                                   if outcome.objects else ""))
        elif outcome.error:
            self.report({"ERROR"}, outcome.error)
        else:
            self.report({"INFO"}, outcome.summary() + (f" | {note}" if note else ""))
        return {"FINISHED"} if made_something else {"CANCELLED"}


def answer_cut_off_note(data: dict[str, Any]) -> str:
    """One sentence when the grounding model's answer reached its token budget (a result's
    ``cut_off``), else an empty string: the names it had not reached may be missing."""
    if not data.get("cut_off"):
        return ""
    return (f"The grounding model's answer was cut off at {data.get('answer_tokens', '?')} tokens: "
            "names after the cut may be missing")


def skipped_stage_notes(data: dict[str, Any]) -> list[str]:
    """The backend's one sentence for each stage the job went on without (a result's
    ``texture_skipped``: untextured meshes; ``depth_skipped``: objects placed by their boxes),
    each a capitalised sentence; strings only, since it crossed from another process."""
    notes = [data.get(key) for key in ("texture_skipped", "depth_skipped")]
    return [note[:1].upper() + note[1:] for note in notes if isinstance(note, str) and note]


def _redraw(context: bpy.types.Context) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()
